"""Run, preview and roll back fix attempts: the thin glue between attempts and patches.

``run_attempt`` locks the attempt row (NOWAIT), refuses an attempt that is not
runnable, keeps the patch's live diagnosis on the attempt and refuses when it
does not confirm the fault, then runs backup -> apply -> validate in a savepoint through a
scoped ``PatchContext``. Any exception, or a validation that says the fault
is still there, rolls the savepoint back and leaves the attempt ``failed``
with the reason; success leaves it ``validated`` with its timings. Two
workers given the same attempt cannot both apply it: the second one finds
the row locked, or no longer runnable.
"""

import logging
import time
import traceback
from dataclasses import dataclass

import psycopg2.errors

from odoo import fields, release

from . import base, journal
from .context import PatchContext, mark_run
from .errors import (
    AttemptBusy,
    AutoPatchError,
    NotApplicable,
    NotRunnable,
    RollbackRefused,
    ValidationFailed,
)

_logger = logging.getLogger(__name__)

DRY_RUN_PARAM = "self_healing.dry_run"
ROLLBACK_STATES = ("applied", "validated")


@dataclass
class RunResult:
    attempt_id: int
    state: str
    ok: bool
    dry_run: bool
    detail: str
    plan: str = ""
    duration: float = 0.0


def patch_env(env):
    """The environment patches run in: superuser, archived records visible on request only."""
    return env(su=True, context={"lang": env.context.get("lang"), "tracking_disable": True})


def prepare(env, code, params, incident=None):
    """``(patch, accepted_params)``; NotApplicable for an unknown code or misfit parameters."""
    patch_class = base.get(code)
    params = dict(params or {})
    if incident and "incident_id" in patch_class.params and not params.get("incident_id"):
        params["incident_id"] = incident.id
    return patch_class(), patch_class.check_params(params)


def diagnose(env, code, params, incident=None):
    """The live ``Diagnosis`` of a patch and its parameters, without writing anything."""
    try:
        patch, params = prepare(env, code, params, incident)
        return patch.diagnose(patch_env(env), params)
    except NotApplicable as exc:
        return base.Diagnosis(False, str(exc))


def check(env, code, params, incident=None):
    """``(applicable, reason)`` for a patch and its parameters, without writing anything."""
    diagnosis = diagnose(env, code, params, incident)
    return diagnosis.holds, diagnosis.reason


def preview(env, code, params, incident=None):
    """The plan text of a patch, without writing anything."""
    patch, params = prepare(env, code, params, incident)
    return patch.plan(patch_env(env), params)


# How long an approval waits for a worker holding the attempt (see ``lock``).
APPROVAL_LOCK_WAIT = 5.0


def is_runnable(attempt):
    """Approved by a human, or proposed for an automatic run."""
    return attempt.state == "approved" or (attempt.state == "proposed" and attempt.mode == "auto")


def lock(attempt, wait=None):
    """Lock the attempt row for this transaction, or raise AttemptBusy.

    Workers do not wait (``wait=None``): another one has the attempt, they move
    on. A person approving waits up to ``wait`` seconds, because a cron worker
    that merely looks at the incident holds the row for a moment, and "busy"
    would refuse an approval for nothing.
    """
    cr = attempt.env.cr
    attempt.env.flush_all()
    try:
        with cr.savepoint(flush=False):
            if wait is None:
                cr.execute("SELECT id FROM self_healing_fix_attempt WHERE id = %s FOR UPDATE NOWAIT", [attempt.id])
            else:
                cr.execute("SELECT current_setting('lock_timeout')")
                previous = cr.fetchone()[0]
                cr.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(wait * 1000)}ms"])
                cr.execute("SELECT id FROM self_healing_fix_attempt WHERE id = %s FOR UPDATE", [attempt.id])
                cr.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    except (psycopg2.errors.LockNotAvailable, psycopg2.errors.SerializationFailure) as exc:
        raise AttemptBusy(f"fix attempt {attempt.id} is being handled by another worker") from exc
    attempt.invalidate_recordset()


def run_attempt(attempt, dry_run=None):
    """Run one fix attempt; return a RunResult. Raises AttemptBusy or NotRunnable, never the patch's errors."""
    attempt.ensure_one()
    env = patch_env(attempt.env)
    attempt = attempt.with_env(env)
    lock(attempt)
    if dry_run is None:
        dry_run = attempt.dry_run or _truthy(env["ir.config_parameter"].get_param(DRY_RUN_PARAM))
    if dry_run:
        return _dry_run(attempt)
    if not is_runnable(attempt):
        raise NotRunnable(
            f"fix attempt {attempt.id} is {attempt.state} in {attempt.mode} mode: only approved attempts,"
            " or proposed ones in automatic mode, run"
        )
    started, started_at = time.monotonic(), fields.Datetime.now()
    try:
        patch, params = prepare(env, attempt.autopatch_code, attempt.params, attempt.incident_id)
        if patch.critical and attempt.state != "approved":
            raise NotApplicable(f"{patch.code} is critical: it only runs once a human approved it")
        diagnosis = _diagnose(attempt, patch, params)
        if not diagnosis.holds:
            raise NotApplicable(f"the live diagnosis refutes the fault: {diagnosis.reason}")
        plan = patch.plan(env, params)
    except Exception as exc:  # noqa: BLE001 - a patch bug must end as a failed attempt, not a crash
        return _fail(attempt, exc, started, plan="")
    attempt.write({"plan_preview": plan, "odoo_version": release.version})
    # Marked while the transaction lasts: a process killed now leaves nothing applied, and the marker says so.
    mark_run(env.cr, attempt)
    ctx = PatchContext(env, patch, params, attempt)
    applied_at = None
    try:
        with env.cr.savepoint():
            patch.backup(ctx)
            patch.apply(ctx)
            env.flush_all()
            applied_at = fields.Datetime.now()
            ok, detail = patch.validate(ctx)
            env.flush_all()
            if not ok:
                raise ValidationFailed(detail)
    except Exception as exc:  # noqa: BLE001
        _forget(ctx)
        return _fail(attempt, exc, started, plan=plan, applied_at=applied_at)
    duration = time.monotonic() - started
    outcome = _outcome(patch, detail, ctx.notes)
    attempt._set_state(
        "applied",
        applied_at=applied_at,
        detected_at=attempt.detected_at or attempt.incident_id.first_seen or started_at,
    )
    attempt._set_state(
        "validated",
        healed_at=fields.Datetime.now(),
        duration=duration,
        outcome=outcome,
        error=False,
    )
    attempt.message_post(body=outcome)
    return RunResult(attempt.id, attempt.state, True, False, outcome, plan, duration)


def rollback_attempt(attempt):
    """Restore the pre-image an attempt backed up. Raises RollbackRefused with the reason."""
    attempt.ensure_one()
    env = patch_env(attempt.env)
    attempt = attempt.with_env(env)
    lock(attempt)
    if attempt.state not in ROLLBACK_STATES:
        raise RollbackRefused(
            f"only an applied or validated fix can be rolled back; fix attempt {attempt.id} is {attempt.state}"
            + (" and a failed fix was already undone when it failed" if attempt.state == "failed" else "")
        )
    backups = attempt.backup_ids.sorted("sequence")
    if not backups:
        raise RollbackRefused(f"fix attempt {attempt.id} kept no backup: there is nothing to restore")
    now = fields.Datetime.now()
    expired = backups.filtered(lambda backup: backup.state != "kept" or not backup.payload or backup.expires_at < now)
    if expired:
        raise RollbackRefused(
            f"the backup of fix attempt {attempt.id} expired on {min(expired.mapped('expires_at'))}"
            " (backups are kept 30 days): it can no longer be rolled back"
        )
    tampered = backups._unsealed()
    if tampered:
        # Drift probes and undo statements are SQL read from these rows: nothing of them runs.
        raise RollbackRefused(
            f"the backup of fix attempt {attempt.id} was changed after the fix made it"
            f" ({', '.join(tampered.mapped('target'))}): it is not restored"
        )
    moved_on = journal.drift(env, [backup.payload for backup in backups])
    if moved_on:
        raise RollbackRefused(
            "the data moved on since the fix, a rollback would overwrite newer changes: " + "; ".join(moved_on)
        )
    started = time.monotonic()
    patch, params = prepare(env, attempt.autopatch_code, attempt.params, attempt.incident_id)
    ctx = PatchContext(env, patch, params, attempt, backups=backups)
    try:
        with env.cr.savepoint():
            patch.rollback(ctx)
            env.flush_all()
    except Exception as exc:
        _forget(ctx)
        raise RollbackRefused(f"the rollback failed and was undone: {_describe(exc)}") from exc
    backups.write({"state": "restored", "restored_at": fields.Datetime.now()})
    detail = f"Rolled back: {len(backups)} backup(s) restored."
    attempt._set_state(
        "rolled_back", rolled_back_at=fields.Datetime.now(), outcome=(attempt.outcome or "") + "\n" + detail
    )
    attempt.message_post(body=detail)
    return RunResult(attempt.id, attempt.state, True, False, detail, duration=time.monotonic() - started)


def preview_attempt(attempt):
    """Compute and keep the plan of an attempt; nothing else is written."""
    attempt.ensure_one()
    return _dry_run(attempt.with_env(patch_env(attempt.env)), mark=False)


def _dry_run(attempt, mark=True):
    flag = {"dry_run": True} if mark else {}
    label = "Dry run" if mark else "Preview"
    try:
        patch, params = prepare(attempt.env, attempt.autopatch_code, attempt.params, attempt.incident_id)
        diagnosis = _diagnose(attempt, patch, params)
        applicable, reason = diagnosis.holds, diagnosis.reason
        plan = patch.plan(attempt.env, params)
    except Exception as exc:  # noqa: BLE001
        detail = f"{label}: cannot plan: {_describe(exc)}"
        attempt.write(dict(flag, outcome=detail))
        return RunResult(attempt.id, attempt.state, False, True, detail)
    detail = f"{label}: planned, nothing written." + ("" if applicable else f" It would not apply now: {reason}")
    attempt.write(dict(flag, plan_preview=plan, outcome=detail))
    return RunResult(attempt.id, attempt.state, applicable, True, detail, plan)


def _diagnose(attempt, patch, params):
    """The patch's live diagnosis, kept on the attempt whatever it says (a crash counts as refuted)."""
    try:
        # Read-only, but a failed statement must not abort the transaction the attempt is recorded in.
        with attempt.env.cr.savepoint():
            diagnosis = patch.diagnose(attempt.env, params)
    except Exception as exc:
        attempt.write({"diagnosis": base.Diagnosis(False, f"the diagnosis failed: {_describe(exc)}").as_dict()})
        raise
    attempt.write({"diagnosis": diagnosis.as_dict()})
    return diagnosis


def _fail(attempt, exc, started, plan, applied_at=None):
    duration = time.monotonic() - started
    expected = isinstance(exc, AutoPatchError)
    if not expected:
        _logger.warning("auto-patch %s failed on attempt %s", attempt.autopatch_code, attempt.id, exc_info=exc)
    labels = {NotApplicable: "Not applicable", ValidationFailed: "Validation failed"}
    label = next((text for kind, text in labels.items() if isinstance(exc, kind)), "Failed")
    outcome = f"{label}: {exc}. Nothing was changed (everything the fix wrote was rolled back)."
    values = {
        "duration": duration,
        "outcome": outcome,
        "error": _describe(exc) if expected else "".join(traceback.format_exception(exc)),
    }
    if plan:
        values["plan_preview"] = plan
    if applied_at:
        values["applied_at"] = applied_at
    attempt._set_state("failed", **values)
    attempt.message_post(body=outcome)
    return RunResult(attempt.id, attempt.state, False, False, outcome, plan, duration)


def _forget(ctx):
    """After a savepoint rollback: put files back, drop caches built on rolled-back data."""
    ctx.files.undo()
    ctx.env.invalidate_all()
    ctx.env.registry.clear_all_caches()


def _outcome(patch, detail, notes):
    lines = [f"Validated: {detail}"] + list(notes)
    if patch.needs_upgrade:
        lines.append("A module upgrade (-u) is still recommended to finish the repair.")
    if patch.needs_restart:
        lines.append("Restart the Odoo server to load the change.")
    return "\n".join(lines)


def _describe(exc):
    return f"{type(exc).__name__}: {exc}"


def _truthy(value):
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")
