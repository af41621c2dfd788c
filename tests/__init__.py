from . import test_access_rights
from . import test_constraints
from . import test_dashboard
from . import test_guardrail_library
from . import test_install
from . import test_lifecycle
