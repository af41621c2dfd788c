"""Run chaos scenarios against a live Odoo: inject, provoke, watch the addon detect and heal.

Each scenario injects its fault once, provokes it the way it shows up (a
request, a scheduled action run, two transactions on one row), then polls
until an incident of the scenario's class has a new occurrence (detected) and
the healing loop is done with it (healed, awaiting approval, escalated or
failed). Nobody approves anything: a non-critical scenario passes only when the
addon healed it alone with one fix attempt (the transient watch heals by
waiting, its attempt count aside); a critical one passes only when it waits for
an approval and nothing was applied.
"""

import contextlib
import html
import re
import statistics
import threading
import time
from dataclasses import dataclass, field

from .chaos_rpc import RpcError

SETTLED_STATES = ("healed", "awaiting_approval", "escalated", "failed", "ignored")
INCIDENT_FIELDS = ["state", "error_class", "guardrail_id", "transient", "confidence", "name", "to_process"]
ATTEMPT_FIELDS = ["state", "mode", "autopatch_code", "confidence_before", "outcome", "create_date"]
LOCK_WAIT_TIMEOUT = 15.0
SIBLING_GRACE = 2.0  # the capture flushes every second
SETTINGS_SETTLE = 1.0


@dataclass
class RoundResult:
    round: int
    status: str  # healed, awaiting_approval, escalated, failed, not_detected, timeout
    automatic: bool = False
    detected_after_s: float = None
    healed_after_s: float = None
    confidence: float = None
    incident_id: int = None
    detail: str = ""


@dataclass
class ScenarioResult:
    scenario: str
    outcome: str  # healed, awaiting_approval, escalated, failed, not_detected, timeout, applied_unapproved
    attempts: int
    critical: bool = False
    # Heals by waiting for the fault to stay away (the transient watch): its attempt count is aside.
    watch: bool = False
    detected_after_s: float = None
    healed_after_s: float = None
    confidence: float = None
    detail: str = ""
    rounds: list = field(default_factory=list)
    known_gap: str = ""

    @property
    def passed(self):
        if self.known_gap:
            return self.outcome == "escalated" and self.attempts == 0
        if self.critical:
            return self.outcome == "awaiting_approval"
        return self.outcome == "healed" and (self.watch or self.attempts == 1)

    def as_json(self):
        return {
            "scenario": self.scenario,
            "critical": self.critical,
            "detected_after_s": _round(self.detected_after_s),
            "healed_after_s": _round(self.healed_after_s),
            "outcome": self.outcome,
            "attempts": self.attempts,
            "confidence": _round(self.confidence),
            "passed": self.passed,
            "known_gap": self.known_gap,
        }

    def line(self):
        timing = ""
        if self.detected_after_s is not None:
            timing = f"detected {self.detected_after_s:5.1f} s"
        if self.healed_after_s is not None:
            timing += f", {'healed' if self.outcome == 'healed' else 'settled'} {self.healed_after_s:5.1f} s"
        confidence = f"  confidence {self.confidence:.2f}" if self.confidence is not None else ""
        return (
            f"{'ok  ' if self.passed else 'FAIL'} {self.scenario:<22} {self.outcome:<18} attempts={self.attempts:<2}"
            f" {timing}{confidence}"
            + ("  (critical)" if self.critical else "")
            + ("  (transient watch)" if self.watch else "")
            + (f"  (known gap: {self.known_gap})" if self.known_gap else "")
            + (f"  {self.detail}" if self.detail else "")
        )


def _round(value):
    return None if value is None else round(value, 2)


class ChaosDriver:
    def __init__(
        self,
        admin,
        smtp,
        connect,
        poll_interval=0.2,
        detect_timeout=30.0,
        settle_timeout=60.0,
        watch_timeout=120.0,
        progress=None,
    ):
        self.admin = admin
        self.smtp = smtp
        self.connect = connect  # () -> a psycopg2 connection to the chaos database
        self.poll_interval = poll_interval
        self.detect_timeout = detect_timeout
        self.settle_timeout = settle_timeout
        # A watched concurrency fault heals when its quiet window ends (20 s in the chaos database: the
        # healing job is triggered for that moment); past this, the round counts as not settled.
        self.watch_timeout = watch_timeout
        self.progress = progress or (lambda text: None)

    # ------------------------------------------------------------------ scenario

    def run(self, scenario):
        """One injection, one provocation, no approval: what a real administrator's database does alone."""
        name = scenario["name"]
        self._wizard = self.admin.call("self_healing.chaos", "create", [{"scenario": name}])[0]
        self.admin.call("self_healing.chaos", "action_prepare", [self._wizard])
        if scenario.get("capture_level") or scenario.get("settings"):
            # Let a processing run that read the old settings before they were committed finish first.
            time.sleep(SETTINGS_SETTLE)
        try:
            outcome = self.run_round(scenario, 1)
            attempts = self._attempts(outcome.incident_id)
        finally:
            self.cleanup(scenario)
        status = outcome.status
        applied = [attempt for attempt in attempts if attempt["state"] in ("applied", "validated", "rolled_back")]
        if scenario["critical"] and applied and not any(attempt["mode"] == "approved" for attempt in applied):
            status = "applied_unapproved"
        if status == "healed" and not outcome.automatic:
            status = "failed"
        self.progress(
            f"{name}: {status}, {len(attempts)} fix attempt(s)"
            f"{f', confidence {outcome.confidence:.3f}' if outcome.confidence is not None else ''}"
            f"{f' - {outcome.detail}' if outcome.detail else ''}"
        )
        result = ScenarioResult(
            name,
            status,
            len(attempts),
            critical=bool(scenario["critical"]),
            watch=scenario.get("autopatch") == "transient_watch",
            detected_after_s=outcome.detected_after_s,
            healed_after_s=outcome.healed_after_s,
            confidence=outcome.confidence,
            detail="" if status in ("healed", "awaiting_approval") else outcome.detail,
            known_gap=scenario.get("known_gap") or "",
        )
        result.rounds = [outcome]
        return result

    def _attempts(self, incident_id):
        """The fix attempts the addon made on the scenario's incident during this run."""
        if not incident_id:
            return []
        return self.admin.search_read(
            "self_healing.fix.attempt",
            [("incident_id", "=", incident_id), ("id", ">", self._attempt_marker)],
            ATTEMPT_FIELDS,
        )

    # ------------------------------------------------------------------ one round

    def run_round(self, scenario, number):
        marker = self._last_id("self_healing.occurrence")
        self._attempt_marker = self._last_id("self_healing.fix.attempt")
        wizard_id = self.admin.call(
            "self_healing.chaos", "create", [{"scenario": scenario["name"], "round_number": number}]
        )[0]
        self._wizard = wizard_id  # the latest round's facts are what a clean-up undoes
        self.admin.call("self_healing.chaos", "action_inject", [wizard_id])
        provocation = self.admin.call("self_healing.chaos", "read", [wizard_id], ["provocation"])[0]["provocation"]
        started = time.monotonic()
        provoke_error = self.provoke(provocation, wizard_id)
        return self.watch(scenario, number, marker, started, provoke_error)

    def provoke(self, provocation, wizard_id):
        """Carry out the provocation; returns what failed for the user (or None), for the report."""
        kind = provocation["kind"]
        if kind == "call":
            try:
                self.admin.call(
                    provocation["model"], provocation["method"], *provocation["args"], **provocation["kwargs"]
                )
            except RpcError as exc:
                return f"{exc.exception_name}: {str(exc)[:120]}"
            return None
        if kind == "xmlrpc":
            try:
                self.admin.xmlrpc(
                    provocation["model"], provocation["method"], *provocation["args"], **provocation["kwargs"]
                )
            except RpcError as exc:
                return f"{exc.exception_name}: {str(exc)[:120]}"
            return None
        if kind == "get":
            status = self.admin.get(provocation["path"])
            return None if status < 400 else f"HTTP {status} for {provocation['path']}"
        if kind == "cron":
            if provocation.get("smtp_failures"):
                self.smtp.fail_next(provocation["smtp_failures"])
            self.admin.call("self_healing.chaos", "action_run_cron", [wizard_id])
            return None
        if kind == "concurrent":
            return self._concurrent_update(provocation)
        raise ValueError(f"unknown provocation kind {kind!r}")

    def _concurrent_update(self, provocation):
        """Hold a row updated in another transaction until the admin's write waits on it, then commit."""
        outcome = {}
        with contextlib.closing(self.connect()) as conn:
            conn.autocommit = False
            with conn.cursor() as cr:
                cr.execute(
                    f'UPDATE "{provocation["table"]}" SET write_date = write_date WHERE id = %s', [provocation["id"]]
                )

                def write():
                    try:
                        self.admin.call(provocation["model"], "write", [provocation["id"]], provocation["values"])
                    except RpcError as exc:
                        outcome["error"] = str(exc)

                writer = threading.Thread(target=write)
                writer.start()
                deadline = time.monotonic() + LOCK_WAIT_TIMEOUT
                while time.monotonic() < deadline and not self._someone_waits_on_lock(cr):
                    time.sleep(0.02)
                conn.commit()
        writer.join(60)
        return outcome.get("error")

    @staticmethod
    def _someone_waits_on_lock(cr):
        cr.execute("SELECT pg_stat_clear_snapshot()")  # activity is read once per transaction otherwise
        cr.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cr.fetchone()[0] > 0

    def watch(self, scenario, number, marker, started, provoke_error):
        first_seen, settled_at = {}, {}
        detect_deadline = started + self.detect_timeout
        settle_deadline = grace_until = None
        while True:
            now = time.monotonic()
            for row in self.admin.search_read("self_healing.occurrence", [("id", ">", marker)], ["incident_id"]):
                if row["incident_id"]:
                    first_seen.setdefault(row["incident_id"][0], now - started)
            incidents = self._read_incidents(first_seen)
            mine = [incident for incident in incidents if incident["error_class"] == scenario["error_class"]]
            for incident in mine:
                if self._settled(incident):
                    settled_at.setdefault(incident["id"], now - started)
                else:
                    settled_at.pop(incident["id"], None)
            if mine and settle_deadline is None:
                settle_deadline = now + self.settle_timeout
            if any(incident["transient"] for incident in mine):
                # A watched concurrency fault heals once it stayed quiet for its window.
                settle_deadline = max(settle_deadline, started + self.watch_timeout)
            if mine and all(incident["id"] in settled_at for incident in mine):
                # One fault may log twice (a statement, then the request's traceback): wait for the other.
                grace_until = grace_until or now + SIBLING_GRACE
                if now >= grace_until:
                    return self._round_result(number, mine, first_seen, settled_at)
            else:
                grace_until = None
            if settle_deadline is not None and now > settle_deadline:
                states = ", ".join(
                    f"#{i['id']} {i['state']}{' (transient, watched)' if i['transient'] else ''}" for i in mine
                )
                return RoundResult(
                    number,
                    "timeout",
                    detected_after_s=min(first_seen[i["id"]] for i in mine),
                    incident_id=mine[0]["id"],
                    detail=f"not settled {settle_deadline - started:.0f} s after provocation: {states}",
                )
            if settle_deadline is None and now > detect_deadline:
                seen = ", ".join(f"#{i['id']} {i['error_class']} {i['name'][:60]!r}" for i in incidents) or "nothing"
                return RoundResult(
                    number,
                    "not_detected",
                    detail=f"no {scenario['error_class']} incident within {self.detect_timeout:.0f} s "
                    f"(provoked: {provoke_error or 'no error for the user'}; new: {seen})",
                )
            time.sleep(self.poll_interval)

    @staticmethod
    def _settled(incident):
        """The healing loop is done with it for this round: a final state, or waiting for a human.

        A watched concurrency fault that came back stays 'new' until it has been quiet for its window."""
        return not incident["to_process"] and incident["state"] in SETTLED_STATES

    def _read_incidents(self, first_seen):
        if not first_seen:
            return []
        return self.admin.call("self_healing.incident", "read", list(first_seen), INCIDENT_FIELDS)

    def _round_result(self, number, incidents, first_seen, settled_at):
        """The round's outcome over the scenario's incidents (one fault may log twice): the best one counts."""
        rank = {"healed": 0, "awaiting_approval": 1, "escalated": 2, "failed": 3, "ignored": 4}
        incidents.sort(key=lambda incident: (rank[incident["state"]], first_seen[incident["id"]]))
        best = incidents[0]
        attempts = self.admin.search_read(
            "self_healing.fix.attempt",
            [("incident_id", "=", best["id"]), ("id", ">", self._attempt_marker)],
            ATTEMPT_FIELDS,
            order="id desc",
            limit=1,
        )
        attempt = attempts[0] if attempts else None
        # Only incidents with an occurrence of this round are read, and a new occurrence reopens a healed
        # incident: 'healed' here was reached in this round, before any approval of the command's.
        automatic = best["state"] == "healed"
        detail = ""
        if best["state"] in ("escalated", "failed"):
            detail = self._last_message(best["id"])
        others = [f"#{i['id']} {i['state']}" for i in incidents[1:]]
        if others:
            detail = (detail + "; " if detail else "") + "same fault also logged as " + ", ".join(others)
        return RoundResult(
            number,
            best["state"],
            automatic=automatic,
            detected_after_s=first_seen[best["id"]],
            healed_after_s=settled_at[best["id"]],
            confidence=attempt["confidence_before"] if attempt else None,
            incident_id=best["id"],
            detail=detail,
        )

    def _last_message(self, incident_id):
        messages = self.admin.search_read(
            "mail.message",
            [("model", "=", "self_healing.incident"), ("res_id", "=", incident_id), ("body", "!=", False)],
            ["body"],
            order="id desc",
            limit=1,
        )
        text = re.sub(r"<[^>]+>", " ", messages[0]["body"] if messages else "")
        return " ".join(html.unescape(text).split())[:200]

    def cleanup(self, scenario):
        with contextlib.suppress(RpcError):
            self.admin.call("self_healing.chaos", "action_cleanup", [self._wizard])

    def _last_id(self, model):
        rows = self.admin.search_read(model, [], ["id"], order="id desc", limit=1)
        return rows[0]["id"] if rows else 0


def summary(results):
    """Median and max of the healed scenarios' timings, the outcome counts and who did not pass."""
    healed = [result for result in results if result.outcome == "healed" and result.healed_after_s is not None]
    healing = [result.healed_after_s for result in healed]
    detect_to_heal = [
        result.healed_after_s - result.detected_after_s for result in healed if result.detected_after_s is not None
    ]
    detection = [result.detected_after_s for result in results if result.detected_after_s is not None]
    counts = {}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1

    def stats(values):
        return (round(statistics.median(values), 2), round(max(values), 2)) if values else (None, None)

    return {
        "summary": True,
        "scenarios": len(results),
        "outcomes": counts,
        "healed_after_s_median": stats(healing)[0],
        "healed_after_s_max": stats(healing)[1],
        "detect_to_healed_s_median": stats(detect_to_heal)[0],
        "detect_to_healed_s_max": stats(detect_to_heal)[1],
        "detected_after_s_median": stats(detection)[0],
        "detected_after_s_max": stats(detection)[1],
        "attempts_max": max((r.attempts for r in healed if not r.watch), default=None),
        "not_passed": [result.scenario for result in results if not result.passed],
    }
