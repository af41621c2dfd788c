"""CRON_FAILURE: a scheduled action Odoo switched off after repeated failures.

Odoo 18 deactivates a job after at least 5 consecutive failures spanning at
least 7 days, and resets its failure counters. Once the cause is fixed the
job only needs switching back on; the proof is running it once. While its
code still fails, validation fails and the job stays off.
"""

from .. import compat
from .base import AutoPatch, register


@register
class CronReactivate(AutoPatch):
    """Reactivate a scheduled action whose cause is healed, proven by one successful run."""

    code = "cron_reactivate"
    title = "Reactivate a scheduled action"
    error_classes = ("CRON_FAILURE",)
    guardrails = ("GR-CRN-001",)
    params = {
        "cron_id": {"pattern": r"\d{1,10}", "required": False, "description": "Id of the scheduled action."},
        "cron_name": {"pattern": r"[^\n\r]{1,200}", "required": False, "description": "Its name, as in the log."},
    }
    one_of = (("cron_id", "cron_name"),)
    scope_models = ("ir.cron",)
    risk = "low"

    def _cron(self, env, params):
        crons = env["ir.cron"].with_context(active_test=False)
        if params.get("cron_id"):
            return crons.browse(int(params["cron_id"])).exists()
        name = params["cron_name"].strip("'\"")
        return crons.search(["|", ("cron_name", "=", name), ("name", "=", name)], limit=2)

    def applicable(self, env, params):
        cron = self._cron(env, params)
        if not cron:
            return False, "no scheduled action matches " + ", ".join(f"{k}={v!r}" for k, v in params.items())
        if len(cron) > 1:
            return False, f"several scheduled actions are called {params.get('cron_name')!r}: give cron_id"
        if cron.active:
            return False, f"scheduled action #{cron.id} {cron.cron_name!r} is active"
        return True, f"scheduled action #{cron.id} {cron.cron_name!r} is inactive"

    def plan(self, env, params):
        cron = self._cron(env, params)
        if len(cron) != 1:
            return "Nothing to do: no single scheduled action matches."
        return (
            f"Reactivate scheduled action #{cron.id} {cron.cron_name!r} (runs every {cron.interval_number}"
            f" {cron.interval_type}, as {cron.user_id.login}).\n"
            "Validation runs it once now; if it still fails, the fix fails and the job stays inactive."
        )

    def apply(self, ctx):
        cron = self._cron(ctx.env, ctx.params)
        ctx.memo["cron_id"] = cron.id
        ctx.write(cron, {"active": True})

    def validate(self, ctx):
        cron = ctx.env["ir.cron"].browse(ctx.memo["cron_id"])
        try:
            with ctx.env.cr.savepoint():
                compat.run_cron_here(cron)
        except Exception as exc:  # noqa: BLE001 - whatever the job raises is the reason to refuse
            return False, f"the job still fails: {type(exc).__name__}: {exc}"
        return True, f"scheduled action #{cron.id} {cron.cron_name!r} is active and ran once successfully"
