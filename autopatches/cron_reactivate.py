"""CRON_FAILURE: a scheduled action Odoo switched off after repeated failures.

Odoo 18 deactivates a job after at least 5 consecutive failures spanning at
least 7 days, resets its failure counters and tells the administrators in
their channel. Once the cause is fixed the job only needs switching back on;
the proof is running it once. While its code still fails, validation fails
and the job stays off. A job switched off by hand (no notice from Odoo after
its last edit) is an administrator's choice and is left alone.
"""

import contextlib

from .base import AutoPatch, Diagnosis, describe_error, register

ADMIN_CHANNEL = "mail.channel_admin"


class JobRollbackRefused(Exception):
    """The job tried to roll back the transaction the fix runs in."""


@contextlib.contextmanager
def commits_held(cr):
    """Run job code inside the fix's savepoint without letting it end the transaction.

    A job may commit (the mail queue commits after each mail outside tests): a real commit
    would make the fix permanent before it is validated and leave no savepoint to roll back
    to. Inside this block ``commit`` only counts (the work stays in the savepoint and is
    committed with the fix) and ``rollback`` raises, which fails the validation cleanly.
    Yields the list of held commits.
    """
    held = []

    def commit():
        cr.flush()
        held.append(True)

    def rollback():
        raise JobRollbackRefused("the job tried to roll back the transaction (refused inside the fix's savepoint)")

    missing = object()
    previous = {name: cr.__dict__.get(name, missing) for name in ("commit", "rollback")}
    cr.commit, cr.rollback = commit, rollback
    try:
        yield held
    finally:
        for name, value in previous.items():
            if value is missing:
                delattr(cr, name)
            else:
                setattr(cr, name, value)


def _refused_rollback(exc):
    """The refusal of the job's rollback behind ``exc`` (safe_eval wraps what server actions raise)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, JobRollbackRefused):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def odoo_notice(env, cron):
    """Odoo's own deactivation notice for ``cron`` posted after its last edit: the message, False, or None.

    None when there is no administrators' channel to look in (then nothing can be proven).
    """
    channel = env.ref(ADMIN_CHANNEL, raise_if_not_found=False)
    if not channel:
        return None
    # The notice names the job and its id in the database's language; "(id)" and the name survive translation.
    return env["mail.message"].search(
        [
            ("model", "=", channel._name),
            ("res_id", "=", channel.id),
            ("body", "ilike", f"({cron.id})"),
            ("create_date", ">=", cron.write_date),
        ],
        order="id desc",
        limit=1,
    )


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
    # The validating run of the job is kept (running it again would repeat what it sent) and has no pre-image.
    reversible = False
    replays = "one run of the job as the scheduler starts it, its commits held inside the fix's savepoint"

    def _cron(self, env, params):
        crons = env["ir.cron"].with_context(active_test=False)
        if params.get("cron_id"):
            return crons.browse(int(params["cron_id"])).exists()
        name = params["cron_name"].strip("'\"")
        return crons.search(["|", ("cron_name", "=", name), ("name", "=", name)], limit=2)

    def diagnose(self, env, params):
        cron = self._cron(env, params)
        if not cron:
            return Diagnosis(False, "no scheduled action matches " + ", ".join(f"{k}={v!r}" for k, v in params.items()))
        if len(cron) > 1:
            return Diagnosis(
                False,
                f"several scheduled actions are called {params.get('cron_name')!r}: give cron_id",
                {"cron_ids": cron.ids},
            )
        label = f"scheduled action #{cron.id} {cron.cron_name!r}"
        evidence = {
            "cron_id": cron.id,
            "name": cron.cron_name,
            "active": cron.active,
            "failure_count": cron.failure_count,
            "lastcall": str(cron.lastcall or ""),
            "last_edit": str(cron.write_date),
            "last_edit_by": cron.write_uid.login,
        }
        if cron.active:
            return Diagnosis(False, f"{label} is active", evidence)
        notice = odoo_notice(env, cron)
        evidence["odoo_notice"] = None if notice is None else (notice.id or False)
        if notice is not None and not notice:
            return Diagnosis(
                False,
                f"{label} was switched off by hand, not by Odoo after failures (no deactivation notice since its"
                f" last edit by {cron.write_uid.login} on {cron.write_date}): an administrator's choice is kept",
                evidence,
            )
        proof = f"Odoo's notice #{notice.id}" if notice else "no administrators' channel to confirm it"
        return Diagnosis(True, f"{label} is inactive after repeated failures ({proof})", evidence, rows=1)

    def plan(self, env, params):
        cron = self._cron(env, params)
        if len(cron) != 1:
            return "Nothing to do: no single scheduled action matches."
        return (
            f"Reactivate scheduled action #{cron.id} {cron.cron_name!r} (runs every {cron.interval_number}"
            f" {cron.interval_type}, as {cron.user_id.login}).\n"
            "Validation runs it once now (its commits held until the fix is committed); if it still fails,"
            " the fix fails and the job stays inactive."
        )

    def apply(self, ctx):
        cron = self._cron(ctx.env, ctx.params)
        ctx.memo["cron_id"] = cron.id
        ctx.write(cron, {"active": True})

    def replay(self, env, params):
        cron = self._cron(env, params)
        if len(cron) != 1:
            return False, "no single scheduled action matches"
        if not cron.active:
            return False, f"scheduled action #{cron.id} {cron.cron_name!r} is inactive: the scheduler skips it"
        # Kept on success, unlike other replays: undoing the run would make the next one repeat what it sent.
        try:
            with env.cr.savepoint(), commits_held(env.cr) as held:
                cron.method_direct_trigger()
        except Exception as exc:  # noqa: BLE001 - whatever the job raises is the reason to refuse
            env.invalidate_all()
            refused = _refused_rollback(exc)
            if refused:
                return False, f"the job cannot be validated: {refused}"
            return False, f"the job still fails: {describe_error(exc)}"
        detail = f"scheduled action #{cron.id} {cron.cron_name!r} is active and ran once successfully"
        if held:
            detail += f" (it asked to commit {len(held)} time(s): held until the fix is committed)"
        return True, detail

    def validate(self, ctx):
        return self.replay(ctx.env, ctx.params)
