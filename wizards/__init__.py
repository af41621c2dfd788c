from . import fix_approval
from . import report_problem
from . import knowledge_import
from . import record_fix
from . import incident_snooze
from . import incident_resolve_release
