import logging
import threading
import time
from datetime import timedelta

import requests

from odoo import _, api, fields, models, release

from ..compat import Constraint
from ..engine.notify import delivery as delivery_rules
from ..engine.notify import payloads

_logger = logging.getLogger(__name__)

DELIVERY_BATCH = 50
# The log keeps finished deliveries this long; pending ones are never removed.
KEEP_DAYS = 90
RESPONSE_EXCERPT = 500
STATES = [
    ("queued", "Queued"),
    ("retrying", "Retrying"),
    ("sent", "Sent"),
    ("failed", "Failed"),
]
DUE_STATES = ("queued", "retrying")


class SelfHealingWebhookDelivery(models.Model):
    """One event sent (or to be sent) to one webhook: the delivery log."""

    _name = "self_healing.webhook.delivery"
    _description = "Self-Healing Webhook Delivery"
    _order = "create_date desc, id desc"
    _rec_name = "title"

    webhook_id = fields.Many2one("self_healing.webhook", required=True, ondelete="cascade", index=True)
    kind = fields.Selection(related="webhook_id.kind", store=True, string="Format")
    event = fields.Selection(payloads.EVENTS, required=True, index=True)
    title = fields.Char(required=True)
    incident_id = fields.Many2one("self_healing.incident", ondelete="set null", index=True)
    attempt_id = fields.Many2one("self_healing.fix.attempt", string="Fix Attempt", ondelete="set null")
    payload = fields.Json(readonly=True, help="The body as logged: secrets are added at send time and never kept.")
    payload_text = fields.Text(string="Body", compute="_compute_payload_text")
    state = fields.Selection(STATES, default="queued", required=True, index=True, readonly=True)
    tries = fields.Integer(readonly=True)
    next_try_at = fields.Datetime(index=True, readonly=True)
    sent_at = fields.Datetime(readonly=True)
    last_status = fields.Integer(string="HTTP Status", readonly=True)
    last_error = fields.Text(readonly=True)
    response_excerpt = fields.Text(readonly=True)
    duration = fields.Float(string="Duration (s)", digits=(12, 3), readonly=True)
    is_test = fields.Boolean(readonly=True)

    _tries_positive = Constraint("CHECK(tries >= 0)", "Tries cannot be negative.")

    def _compute_payload_text(self):
        for delivery in self:
            delivery.payload_text = payloads.encode(delivery.payload or {}).decode("utf-8")

    # ------------------------------------------------------------------ sending

    @api.model
    def _cron_deliver(self, limit=DELIVERY_BATCH, now=None):
        """Send what is due; a failed try waits its backoff and the cron comes back for it."""
        now = now or fields.Datetime.now()
        self.env.flush_all()
        # SKIP LOCKED: two cron workers never send one delivery twice.
        self.env.cr.execute(
            """SELECT id FROM self_healing_webhook_delivery
                WHERE state IN %s AND next_try_at <= %s
                ORDER BY next_try_at, id LIMIT %s FOR UPDATE SKIP LOCKED""",
            [DUE_STATES, now, limit],
        )
        due = self.browse([row[0] for row in self.env.cr.fetchall()])
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        for delivery in due:
            delivery._send(now=now)
            if auto_commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit  # a sent message stays logged as sent
        self._schedule_next(now, more=len(due) == limit)
        return due

    @api.model
    def _schedule_next(self, now, more=False):
        cron = self.env.ref("self_healing.ir_cron_webhook_deliver").sudo()
        if more:
            cron._trigger()
            return
        upcoming = self.search([("state", "in", DUE_STATES), ("next_try_at", ">", now)], order="next_try_at", limit=1)
        if upcoming:
            cron._trigger(at=upcoming.next_try_at)

    def _send(self, now=None):
        """One try: POST the body, record the answer, and decide sent / retry later / give up."""
        self.ensure_one()
        now = now or fields.Datetime.now()
        webhook = self.webhook_id.sudo()
        url = webhook._target_url()
        secret = webhook._get_param("secret")
        status, error, excerpt = None, "", ""
        started = time.monotonic()
        if not url:
            error = _("The webhook has no URL.")
            verdict = "refused"
        else:
            body = payloads.encode(payloads.with_secret(webhook.kind, self.payload or {}, secret))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"Odoo/{release.serie} self_healing",
            }
            if webhook.kind == "generic" and secret:
                headers[delivery_rules.SIGNATURE_HEADER] = delivery_rules.signature(secret, body)
            try:
                response = requests.post(
                    url, data=body, headers=headers, timeout=webhook.timeout, allow_redirects=False
                )
                status = response.status_code
                excerpt = (response.text or "")[:RESPONSE_EXCERPT]
                verdict = delivery_rules.outcome(status)
                if verdict != "sent":
                    error = _("The receiver answered HTTP %s.", status)
            except requests.Timeout:
                verdict = "retry"
                error = _("No answer within %s s.", webhook.timeout)
            except requests.RequestException as exc:
                verdict = "retry"
                error = _("Could not reach the receiver: %s", exc.__class__.__name__)
        tries = self.tries + 1
        values = {
            "tries": tries,
            "last_status": status or 0,
            "last_error": self._redact(error, url, secret) or False,
            "response_excerpt": self._redact(excerpt, url, secret) or False,
            "duration": time.monotonic() - started,
        }
        if verdict == "sent":
            values.update(state="sent", sent_at=now, next_try_at=False)
        elif verdict == "retry" and tries < webhook.max_tries:
            values.update(state="retrying", next_try_at=now + timedelta(seconds=delivery_rules.backoff_seconds(tries)))
        else:
            values.update(state="failed", next_try_at=False)
            _logger.warning(
                "webhook delivery %s to %s given up after %s tries: %s", self.id, webhook.endpoint, tries, error
            )
        self.write(values)
        return self.state

    @api.model
    def _redact(self, text, url, secret):
        """The log never shows the URL's path (Slack and Teams tokens live there) nor the secret."""
        text = text or ""
        for hidden in (url, secret):
            if hidden:
                text = text.replace(hidden, "[hidden]")
        return text

    @api.autovacuum
    def _gc_finished(self):
        cutoff = fields.Datetime.now() - timedelta(days=KEEP_DAYS)
        self.search([("state", "in", ("sent", "failed")), ("create_date", "<", cutoff)]).unlink()

    # ------------------------------------------------------------------ buttons

    def action_retry_now(self):
        self.check_access("write")
        for delivery in self.filtered(lambda record: record.state in ("retrying", "failed")):
            delivery.write({"state": "retrying", "next_try_at": fields.Datetime.now()})
        self.env.ref("self_healing.ir_cron_webhook_deliver").sudo()._trigger()
        return True

    def action_open(self):
        self.check_access("read")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }
