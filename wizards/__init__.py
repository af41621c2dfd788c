from . import fix_approval
from . import report_problem
