"""Auto-patches: one file per repair, registered by code (see ``base``).

Public entry points for the rest of the addon:

- ``base.get(code)``, ``base.for_error_class(cls)``, ``base.describe_all()``: the registry;
- ``runner.diagnose(env, code, params, incident)``: the live ``base.Diagnosis`` (verdict, evidence,
  blast radius); ``runner.check(...)`` its ``(holds, reason)``; ``runner.preview(...)``: the plan; no write;
- ``runner.run_attempt(attempt)`` and ``runner.rollback_attempt(attempt)``: run or undo a fix attempt;
- ``transient_watch.resolve_quiet_incidents(env)``: for the processing cron.
"""

from . import errors
from . import base
from . import runner
from . import sequence_resync
from . import asset_bundle_purge
from . import view_deactivate
from . import filter_deactivate
from . import rule_deactivate
from . import module_upgrade
from . import cron_reactivate
from . import mail_retry
from . import module_state_reset
from . import manifest_fix
from . import transient_watch
from . import sequence_number_resync
