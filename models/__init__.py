from . import guardrail
from . import knowledge_entry
from . import incident
from . import occurrence
from . import fix_attempt
from . import backup
from . import dashboard
from . import res_config_settings
