"""MAIL_DELIVERY: outgoing mails left in 'exception' by a transient SMTP failure.

A retry is Odoo's own (the mail goes back to 'outgoing'), and only runs once
the mail server answers again (the diagnosis opens an SMTP session to it).
Validation sends the mails right away, each on its own as Odoo's queue does:
a mail the server accepted stays sent even when another of the batch fails
again (that one stays in exception for the next retry), and the retry fails,
undone, only when no mail got out. Retries back off exponentially
(5, 10, 20, 40 minutes) and stop after five: past that the server needs a
human, not another try. The count is per episode: a retry that got its mails
out closes one, and an incident reopened by a later outage starts afresh.
A permanent refusal (a 5xx reply: bad credentials, unknown recipient) is
never retried, whatever Odoo's failure type says.
"""

import contextlib
import re
from datetime import timedelta

from odoo import fields

from .base import AutoPatch, Diagnosis, describe_error, register

MAX_RETRIES = 5
FIRST_DELAY = timedelta(minutes=5)
# Odoo files every failure to open the SMTP session under this type, a refused login included.
TRANSIENT_TYPES = ("mail_smtp",)
TRANSIENT_REASON_RE = re.compile(
    r"(?i)connection (refused|reset|unexpectedly closed)|timed? ?out|temporar|try again|"
    r"too many connections|service not available|\b4[25]\d\b"
)
# A 5xx reply code ("535\nb'...'", "(550, b'...')") or enhanced status (5.7.8): the server said no for good.
PERMANENT_REASON_RE = re.compile(
    r"(?:^|[(:]\s?)5\d\d,?\s+b?['\"]|(?<![\d.])5\.\d{1,3}\.\d{1,3}(?![\d.])|(?i:authentication|"
    r"username and password)"
)


def retry_delay(previous_retries):
    """Time to wait after the last retry before the next one."""
    return FIRST_DELAY * (2 ** max(previous_retries - 1, 0))


@register
class MailRetry(AutoPatch):
    """Send again mails that failed on a transient SMTP error, with exponential backoff."""

    code = "mail_retry"
    title = "Retry mails after a transient SMTP failure"
    error_classes = ("MAIL_DELIVERY",)
    guardrails = ("GR-MAIL-002", "GR-MAIL-003", "GR-MAIL-007")
    params = {
        "mail_ids": {
            "pattern": r"\d{1,10}(,\d{1,10}){0,199}",
            "required": False,
            "description": "Comma-separated mail.mail ids; every transient failure when omitted.",
        },
        "incident_id": {
            "pattern": r"\d{1,10}",
            "required": False,
            "description": "The incident whose retries are counted (filled in by the runner).",
        },
    }
    scope_models = ("mail.mail",)
    risk = "low"
    # A mail the server accepted cannot be called back.
    reversible = False
    replays = "the send of each mail through its mail server, as Odoo's queue does (delivered mails stay sent)"

    def _mails(self, env, params):
        mails = env["mail.mail"]
        if params.get("mail_ids"):
            mails = mails.browse([int(mail_id) for mail_id in str(params["mail_ids"]).split(",")]).exists()
            mails = mails.filtered(lambda mail: mail.state == "exception")
        else:
            mails = mails.search([("state", "=", "exception")], order="id")
        return mails.filtered(self._transient)

    @staticmethod
    def _transient(mail):
        reason = mail.failure_reason or ""
        if PERMANENT_REASON_RE.search(reason):
            return False
        return mail.failure_type in TRANSIENT_TYPES or bool(TRANSIENT_REASON_RE.search(reason))

    def history(self, env, params, mails=None):
        """Retries of the current episode of the incident, newest first.

        A validated retry got its mails out and ends an episode; retries made
        before the oldest of ``mails`` existed cannot have been about it.
        """
        if not params.get("incident_id"):
            return env["self_healing.fix.attempt"]
        attempts = env["self_healing.fix.attempt"].search(
            [
                ("autopatch_code", "=", self.code),
                ("incident_id", "=", int(params["incident_id"])),
                ("state", "in", ("validated", "failed", "rolled_back")),
                # An attempt refused before it wrote anything (backoff, nothing to send) retried nothing.
                ("applied_at", "!=", False),
            ],
            order="applied_at desc, id desc",
        )
        episode = env["self_healing.fix.attempt"]
        for attempt in attempts:
            if attempt.state == "validated":
                break
            episode |= attempt
        if mails:
            # create_date keeps microseconds, applied_at does not.
            since = min(mails.mapped("create_date")).replace(microsecond=0)
            episode = episode.filtered(lambda attempt: attempt.applied_at >= since)
        return episode

    def _backoff(self, env, params, mails):
        """``(allowed, reason)`` from the retries of the current episode."""
        retries = self.history(env, params, mails)
        if len(retries) >= MAX_RETRIES:
            return False, f"gave up after {len(retries)} retries: the mail server needs a human"
        if retries:
            due = retries[0].applied_at + retry_delay(len(retries))
            if fields.Datetime.now() < due:
                return False, f"retry {len(retries) + 1} of {MAX_RETRIES} is due at {due} (exponential backoff)"
        return True, f"retry {len(retries) + 1} of {MAX_RETRIES}"

    def _relays(self, env, mails):
        """{server record (maybe empty: the configured one): mails} as Odoo would send them."""
        relays = {}
        for mail in mails:
            server = mail.mail_server_id or env["ir.mail_server"]._find_mail_server(mail.email_from)[0]
            relays.setdefault(server, env["mail.mail"])
            relays[server] |= mail
        return relays

    @staticmethod
    def _probe(env, server):
        """ "" when the relay answers now, the reason when it does not, None when Odoo's test mode skips SMTP."""
        try:
            session = env["ir.mail_server"].connect(mail_server_id=server.id or None)
        except Exception as exc:  # noqa: BLE001 - whatever the connection raises is the relay's answer
            return describe_error(exc)
        if session is None:
            return None
        with contextlib.suppress(Exception):
            session.quit()
        return ""

    def diagnose(self, env, params):
        mails = self._mails(env, params)
        evidence = {
            "mails": [
                {
                    "id": mail.id,
                    "failure_type": mail.failure_type,
                    "reason": ((mail.failure_reason or "").strip().splitlines() or [""])[-1][:300],
                }
                for mail in mails
            ]
        }
        if not mails:
            return Diagnosis(False, "no mail is in exception after a transient SMTP failure", evidence)
        allowed, reason = self._backoff(env, params, mails)
        evidence["backoff"] = reason
        if not allowed:
            return Diagnosis(False, reason, evidence)
        relays = []
        for server, server_mails in self._relays(env, mails).items():
            answer = self._probe(env, server)
            relays.append(
                {
                    "server_id": server.id,
                    "server": server.name or "configured SMTP",
                    "mails": len(server_mails),
                    "answers": None if answer is None else not answer,
                    "error": answer or "",
                }
            )
        evidence["relays"] = relays
        if not any(relay["answers"] is not False for relay in relays):
            return Diagnosis(
                False,
                "the mail server still does not answer: "
                + "; ".join(f"{relay['server']}: {relay['error']}" for relay in relays),
                evidence,
            )
        return Diagnosis(
            True,
            f"{len(mails)} mail(s) failed on a transient error and their mail server answers again; {reason}",
            evidence,
            rows=len(mails),
        )

    def plan(self, env, params):
        mails = self._mails(env, params)
        _allowed, reason = self._backoff(env, params, mails)
        lines = [f"Mark {len(mails)} mail(s) outgoing again ({reason}), then send them now:"]
        lines += [
            f"  #{mail.id} {mail.subject!r} -> {mail.email_to or mail.recipient_ids.mapped('email')}:"
            f" {(mail.failure_reason or '').strip().splitlines()[-1:] or ['?']}"
            for mail in mails
        ]
        return "\n".join(lines)

    def apply(self, ctx):
        mails = self._mails(ctx.env, ctx.params)
        ctx.memo["mail_ids"] = mails.ids
        ctx.memo["retry"] = len(self.history(ctx.env, ctx.params, mails)) + 1
        # What Odoo's own Retry button does.
        ctx.write(mails, {"state": "outgoing"})

    def replay(self, env, params, mail_ids=None):
        """The send, per mail, as Odoo's queue does: each mail ends sent or back in exception.

        Unlike other replays this one is not undone: a mail the server accepted is out, and
        rolling its state back would have it sent twice.
        """
        mails = env["mail.mail"].browse(mail_ids) if mail_ids is not None else self._mails(env, params)
        if not mails:
            return False, "no mail to send"
        outgoing = mails.filtered(lambda mail: mail.state == "outgoing")
        if not outgoing:
            return False, f"{len(mails)} mail(s) are not queued for sending"
        outgoing.send(auto_commit=False, raise_exception=False)
        # Sent mails are 'sent', or gone when they delete themselves after sending.
        failed = outgoing.exists().filtered(lambda mail: mail.state != "sent")
        delivered = len(outgoing) - len(failed)
        reasons = "; ".join(
            sorted({((mail.failure_reason or "unknown").strip().splitlines() or ["unknown"])[-1] for mail in failed})
        )
        if not delivered:
            return False, f"{len(failed)} of {len(outgoing)} mail(s) still fail: {reasons}"
        detail = f"{delivered} mail(s) accepted by the SMTP server"
        if failed:
            detail += (
                f"; {len(failed)} still fail and stay in exception ({reasons}), the delivered ones are kept"
                f" sent: {', '.join(f'#{mail.id}' for mail in failed)}"
            )
        return True, detail

    def validate(self, ctx):
        ok, detail = self.replay(ctx.env, ctx.params, ctx.memo["mail_ids"])
        return ok, (f"retry {ctx.memo['retry']}: " + detail) if ok else detail
