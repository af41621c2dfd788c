from . import models
from . import wizards
from . import autopatches
from .post_load import post_load

PARAMETER_PREFIX = "self_healing."


def uninstall_hook(env):
    """Remove the addon's system parameters (API keys and webhook secrets among them): nothing reads them any more."""
    pattern = PARAMETER_PREFIX.replace("_", "\\_") + "%"
    env["ir.config_parameter"].sudo().search([("key", "=like", pattern)]).unlink()
