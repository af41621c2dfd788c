"""SERIALIZATION_FAILURE / LOCK_NOT_AVAILABLE: concurrency errors that clear by themselves.

Nothing in the business data is wrong, so nothing there is written: the
incident is marked transient, and ``resolve_quiet_incidents`` (called by
the healing cron, which is also triggered for the end of each window) heals
it once it has not recurred for its quiet window.
"""

import re
from datetime import timedelta

from odoo import fields

from ..engine.decide import lifecycle
from .base import AutoPatch, Diagnosis, register

WINDOW_PARAM = "self_healing.transient_window_seconds"
DEFAULT_WINDOW_SECONDS = 30 * 60
# Shorter than this and a fault that comes back every few seconds would look quiet between two runs.
MIN_WINDOW_SECONDS = 10
TRANSIENT_CLASSES = ("SERIALIZATION_FAILURE", "LOCK_NOT_AVAILABLE")
TRANSIENT_TEXT_RE = re.compile(
    r"SerializationFailure|TransactionRollbackError|could not serialize access|LockNotAvailable|"
    r"could not obtain lock|lock timeout|deadlock detected|concurrent update",
    re.IGNORECASE,
)


# A session idle in its transaction this long while holding writes is stuck, not a passing conflict.
STALE_WRITER_AGE = timedelta(minutes=5)


def stale_writers(cr):
    """Other sessions of this database idle in a transaction that wrote or locked rows, for too long.

    A transaction gets an id only once it writes or locks a row: such a session keeps the rows
    it touched locked, so the conflicts it causes come back until someone ends it.
    """
    # Activity statistics are a snapshot kept for the whole transaction: read them afresh.
    cr.execute("SELECT pg_stat_clear_snapshot()")
    cr.execute(
        """
        SELECT pid, application_name, xact_start::text
          FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND state IN ('idle in transaction', 'idle in transaction (aborted)')
           AND backend_xid IS NOT NULL
           AND xact_start < clock_timestamp() - %s
         ORDER BY xact_start
        """,
        [STALE_WRITER_AGE],
    )
    return [{"pid": pid, "application": application, "since": since} for pid, application, since in cr.fetchall()]


def _seconds(value):
    """A window in seconds from a parameter's text, or None when it is not a usable number."""
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return max(seconds, MIN_WINDOW_SECONDS)


def default_window(env):
    value = env["ir.config_parameter"].sudo().get_param(WINDOW_PARAM)
    return timedelta(seconds=_seconds(value) or DEFAULT_WINDOW_SECONDS)


def describe(window):
    """'30 minutes' or '20 seconds', for messages a human reads."""
    seconds = int(window.total_seconds())
    if seconds % 60 == 0:
        return f"{seconds // 60} minute{'s' if seconds != 60 else ''}"
    return f"{seconds} seconds"


def watch_window(env, incident):
    """The quiet window of an incident: from its latest watch, or the configured default."""
    attempt = (
        env["self_healing.fix.attempt"]
        .sudo()
        .search(
            [
                ("incident_id", "=", incident.id),
                ("autopatch_code", "=", TransientWatch.code),
                ("state", "=", "validated"),
            ],
            order="healed_at desc, id desc",
            limit=1,
        )
    )
    seconds = _seconds((attempt.params or {}).get("window_seconds"))
    return timedelta(seconds=seconds) if seconds else default_window(env)


def quiet_since(env, incident):
    """When the incident counts as resolved if it does not recur before."""
    return incident.last_seen + watch_window(env, incident)


def resolve_quiet_incidents(env, now=None):
    """Heal transient incidents that did not recur for their window.

    Returns ``{"healed": incidents, "watching": incidents}``; called by the
    healing cron. A recurrence only moves ``last_seen`` forward, which
    restarts the wait.
    """
    now = now or fields.Datetime.now()
    incidents = (
        env["self_healing.incident"]
        .sudo()
        .search(
            [
                ("transient", "=", True),
                ("state", "not in", ("healed", "ignored")),
            ]
        )
    )
    healed = incidents.browse()
    for incident in incidents:
        window = watch_window(env, incident)
        if incident.last_seen + window > now:
            continue
        if "healed" not in lifecycle.INCIDENT_TRANSITIONS.get(incident.state, ()):
            if "matched" not in lifecycle.INCIDENT_TRANSITIONS.get(incident.state, ()):
                continue
            incident._set_state("matched")
        incident._set_state(
            "healed", note=f"Transient fault: no recurrence for {describe(window)}, resolved by itself."
        )
        healed |= incident
    return {"healed": healed, "watching": incidents - healed}


@register
class TransientWatch(AutoPatch):
    """Watch a transient concurrency error instead of fixing anything; it heals when it stops recurring."""

    code = "transient_watch"
    title = "Watch a transient error"
    watch_only = True
    error_classes = TRANSIENT_CLASSES
    guardrails = ("GR-SER-001", "GR-SER-002", "GR-SER-003", "GR-LCK-001", "GR-LCK-002", "GR-LCK-003", "GR-LCK-004")
    params = {
        "incident_id": {
            "pattern": r"\d{1,10}",
            "required": False,
            "description": "The incident to watch (filled in by the runner from the attempt).",
        },
        "window_seconds": {
            "pattern": r"[1-9]\d{1,5}",
            "required": False,
            "description": "Quiet seconds before it counts as resolved (10 at least).",
        },
    }
    scope_models = ("self_healing.incident",)
    risk = "low"
    # A conflict between two transactions cannot be provoked again on demand: the proof is the quiet window.
    replays = ""

    def _incident(self, env, params):
        if not params.get("incident_id"):
            return env["self_healing.incident"]
        return env["self_healing.incident"].browse(int(params["incident_id"])).exists()

    def diagnose(self, env, params):
        incident = self._incident(env, params)
        if not incident:
            return Diagnosis(False, f"no incident to watch (incident_id={params.get('incident_id')!r})")
        evidence = {
            "incident_id": incident.id,
            "error_class": incident.error_class or "",
            "exception_type": incident.exception_type or "",
            "occurrences": incident.occurrence_count,
            "last_seen": str(incident.last_seen),
        }
        text = " ".join(filter(None, [incident.exception_type, incident.message_template, incident.name]))
        if incident.error_class not in TRANSIENT_CLASSES and not TRANSIENT_TEXT_RE.search(text):
            return Diagnosis(
                False, f"incident {incident.id} is {incident.error_class}, not a concurrency error", evidence
            )
        if incident.transient:
            return Diagnosis(False, f"incident {incident.id} is already watched as transient", evidence)
        evidence["stale_writers"] = stale_writers(env.cr)
        if evidence["stale_writers"]:
            return Diagnosis(
                False,
                "not transient: "
                + ", ".join(
                    f"backend {row['pid']} ({row['application'] or '?'}) has held its writes idle in transaction"
                    f" since {row['since']}"
                    for row in evidence["stale_writers"]
                )
                + "; it will block the same rows until a human ends it",
                evidence,
            )
        return Diagnosis(
            True,
            f"incident {incident.id} is a {incident.error_class} concurrency error and no session holds locks for long",
            evidence,
            rows=1,
        )

    def _window(self, env, params):
        seconds = _seconds(params.get("window_seconds"))
        return timedelta(seconds=seconds) if seconds else default_window(env)

    def plan(self, env, params):
        incident = self._incident(env, params)
        if not incident:
            return "Nothing to do: no incident to watch."
        return (
            f"No business data is written. Incident #{incident.id} {incident.name!r} is marked transient;"
            f" it is healed once it does not recur for {describe(self._window(env, params))}"
            f" (last seen {incident.last_seen})."
        )

    def apply(self, ctx):
        ctx.write(self._incident(ctx.env, ctx.params), {"transient": True})

    def validate(self, ctx):
        incident = self._incident(ctx.env, ctx.params)
        if not incident.transient:
            return False, "the incident is not marked transient"
        window = self._window(ctx.env, ctx.params)
        return True, f"watching: resolves itself if quiet until {incident.last_seen + window} or later"
