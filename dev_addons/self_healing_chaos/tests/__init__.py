from . import test_chaos_wizard
from . import test_chaos_scenarios
