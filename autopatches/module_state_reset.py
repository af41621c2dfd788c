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

from .base import AutoPatch, Diagnosis, register, replayed

RESET_TO = {"to install": "uninstalled", "to upgrade": "installed", "to remove": "installed"}
# Table lock modes taken by row locks, writes and schema changes (not by reads, not by vacuum).
WRITE_LOCKS = ("RowShareLock", "RowExclusiveLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")
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
    replays = "the scheduler's module-state check, which made every cron skip this database"

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

    def _carriers(self, env):
        """Other transactions that write or lock module rows now: an install, upgrade or removal under way.

        A loading registry updates each module's row as it goes, so its transaction holds the table
        in a row-write mode; a mere read (AccessShareLock) or autovacuum proves nothing and is ignored.
        """
        # pg_locks is live, but the activity statistics joined to it are a per-transaction snapshot.
        env.cr.execute("SELECT pg_stat_clear_snapshot()")
        env.cr.execute(
            """
            SELECT l.pid, l.mode, a.application_name, a.state, a.xact_start::text
              FROM pg_locks l
              LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'relation' AND l.relation = 'ir_module_module'::regclass
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.granted AND l.pid <> pg_backend_pid() AND l.mode = ANY(%s)
               AND a.backend_type = 'client backend'
             ORDER BY l.pid
            """,
            [list(WRITE_LOCKS)],
        )
        return [
            {"pid": pid, "lock": mode, "application": application, "state": state, "since": since}
            for pid, mode, application, state, since in env.cr.fetchall()
        ]

    def diagnose(self, env, params):
        targets, recent = self._targets(env, params)
        minutes = int(MIN_STUCK.total_seconds() // 60)
        evidence = {
            "stuck": [
                {"module": module.name, "state": module.state, "since": str(module.write_date)} for module in targets
            ],
            "recent": [{"module": module.name, "state": module.state} for module in recent],
            # This process's registry, if it is being (re)loaded, is doing the operation itself.
            "registry_ready": bool(env.registry.ready),
        }
        if not targets:
            if recent:
                return Diagnosis(
                    False,
                    f"{', '.join(recent.mapped('name'))} changed state less than {minutes} minutes ago:"
                    " maybe on its way",
                    evidence,
                )
            return Diagnosis(False, "no module is waiting to be installed, upgraded or removed", evidence)
        evidence["carriers"] = self._carriers(env)
        if not evidence["registry_ready"]:
            return Diagnosis(False, "the registry is loading modules right now", evidence)
        if evidence["carriers"]:
            return Diagnosis(
                False,
                "a module operation is running right now: "
                + ", ".join(
                    f"backend {row['pid']} ({row['application'] or '?'}) holds {row['lock']}"
                    for row in evidence["carriers"]
                )
                + " on ir_module_module",
                evidence,
            )
        if self._busy(env, targets):
            return Diagnosis(False, "a module operation is running right now (module rows are locked)", evidence)
        return Diagnosis(
            True,
            ", ".join(f"{module.name} ({module.state})" for module in targets)
            + f": pending for over {minutes} minutes and no transaction is carrying it out",
            evidence,
            rows=len(targets),
        )

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

    def replay(self, env, params, module_ids=None):
        """The scheduler's own check that made every cron skip this database."""
        modules = env["ir.module.module"]
        modules = modules.browse(module_ids) if module_ids is not None else self._stuck(env, params)
        pending = modules.filtered(lambda module: module.state in RESET_TO)
        if pending:
            return False, f"still pending: {', '.join(pending.mapped('name'))}: the scheduler skips every job"

        def check():
            try:
                type(env["ir.cron"])._check_modules_state(env.cr, [])
            except BadModuleState:
                left = env["ir.module.module"].search([("state", "in", list(RESET_TO))])
                if params.get("module") and params["module"] not in left.mapped("name"):
                    return f"{params['module']} is no longer pending (others are: {', '.join(left.mapped('name'))})"
                raise ValueError("the scheduler still finds modules in a pending state") from None
            return "the scheduler finds no pending module: crons run again"

        return replayed(env, "the scheduler's module check", check)

    def validate(self, ctx):
        modules = ctx.env["ir.module.module"].browse(ctx.memo["module_ids"])
        ok, detail = self.replay(ctx.env, ctx.params, ctx.memo["module_ids"])
        if not ok:
            return False, detail
        return True, ", ".join(f"{module.name} is {module.state}" for module in modules) + "; " + detail
