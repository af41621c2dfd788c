"""CRON_FAILURE: modules left 'to install' / 'to upgrade' / 'to remove' stop every cron.

The scheduler skips a database while any module is in a transient state.
The reset is Odoo's own: pending upgrades and removals go back to
'installed', pending installs to 'uninstalled'. A module marked only
moments ago may be a human's click on its way, and one whose row is locked
is being processed right now: both are left alone.
"""

from datetime import timedelta

import psycopg2.errors

from odoo import fields

from odoo.addons.base.models.ir_cron import BadModuleState

from .base import AutoPatch, register

RESET_TO = {"to install": "uninstalled", "to upgrade": "installed", "to remove": "installed"}
# A long upgrade of a big database runs for many minutes in another process: only an hour without
# any change counts as stuck (Odoo itself resets after five hours of skipped crons).
MIN_STUCK = timedelta(minutes=60)


@register
class ModuleStateReset(AutoPatch):
    """Cancel pending module operations that never ran, as Odoo's own reset does."""

    code = "module_state_reset"
    title = "Reset modules stuck in a pending state"
    error_classes = ("CRON_FAILURE",)
    guardrails = ("GR-CRN-002",)
    params = {
        "module": {
            "pattern": r"[a-z0-9_]{1,64}",
            "required": False,
            "description": "One module; all stuck ones when omitted.",
        },
    }
    scope_models = ("ir.module.module",)
    risk = "low"

    def _stuck(self, env, params):
        domain = [("state", "in", list(RESET_TO))]
        if params.get("module"):
            domain.append(("name", "=", params["module"]))
        return env["ir.module.module"].search(domain, order="name")

    def _busy(self, env, modules):
        """Module rows another transaction holds (an install or upgrade running now)."""
        try:
            with env.cr.savepoint(flush=False) as savepoint:
                env.cr.execute(
                    "SELECT id FROM ir_module_module WHERE id = ANY(%s) FOR NO KEY UPDATE NOWAIT", [modules.ids]
                )
                savepoint.rollback()
        except psycopg2.errors.LockNotAvailable:
            return True
        return False

    def _targets(self, env, params):
        stuck = self._stuck(env, params)
        recent = stuck.filtered(lambda module: module.write_date > fields.Datetime.now() - MIN_STUCK)
        return stuck - recent, recent

    def applicable(self, env, params):
        targets, recent = self._targets(env, params)
        if not targets:
            if recent:
                return False, (
                    f"{', '.join(recent.mapped('name'))} changed state less than"
                    f" {int(MIN_STUCK.total_seconds() // 60)} minutes ago: maybe on its way"
                )
            return False, "no module is waiting to be installed, upgraded or removed"
        if self._busy(env, targets):
            return False, "a module operation is running right now (module rows are locked)"
        return True, ", ".join(f"{module.name} ({module.state})" for module in targets)

    def plan(self, env, params):
        targets, recent = self._targets(env, params)
        lines = [f"{module.name}: {module.state} -> {RESET_TO[module.state]}" for module in targets]
        minutes = int(MIN_STUCK.total_seconds() // 60)
        lines += [
            f"Left alone (changed less than {minutes} minutes ago): {module.name} ({module.state})" for module in recent
        ]
        return "\n".join(lines) or "Nothing to do."

    def apply(self, ctx):
        targets, _recent = self._targets(ctx.env, ctx.params)
        ctx.memo["module_ids"] = targets.ids
        for state, target in RESET_TO.items():
            ctx.write(targets.filtered(lambda module, state=state: module.state == state), {"state": target})

    def validate(self, ctx):
        modules = ctx.env["ir.module.module"].browse(ctx.memo["module_ids"])
        pending = modules.filtered(lambda module: module.state in RESET_TO)
        if pending:
            return False, f"still pending: {', '.join(pending.mapped('name'))}"
        if not ctx.params.get("module"):
            # The scheduler's own check, which made every cron skip this database.
            try:
                type(ctx.env["ir.cron"])._check_modules_state(ctx.env.cr, [])
            except BadModuleState:
                return False, "the scheduler still finds modules in a pending state"
        return True, ", ".join(f"{module.name} is {module.state}" for module in modules) + "; crons run again"
