import logging
from urllib.parse import urlsplit

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..compat import Constraint
from ..engine.notify import payloads

_logger = logging.getLogger(__name__)

# Where a webhook keeps what must not appear in its record, its log or an export.
SECRET_PARAM = "self_healing.webhook.%s.%s"
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 60.0


def event_field(kind):
    return f"on_{kind}"


class SelfHealingWebhook(models.Model):
    """An outgoing webhook: where events go, in which format, and which events."""

    _name = "self_healing.webhook"
    _description = "Self-Healing Webhook"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=False)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    kind = fields.Selection(payloads.FORMATS, string="Format", required=True, default="generic")
    url = fields.Char(
        string="URL",
        compute="_compute_secrets",
        inverse="_inverse_url",
        help="Kept as a system parameter: Slack and Teams URLs carry their token in the path.",
    )
    secret = fields.Char(
        compute="_compute_secrets",
        inverse="_inverse_secret",
        help="PagerDuty: the integration's routing key. Generic JSON: the key of the "
        "X-Self-Healing-Signature HMAC. Kept as a system parameter, never in the delivery log.",
    )
    endpoint = fields.Char(readonly=True, help="Scheme and host of the URL, safe to show anywhere.")
    has_secret = fields.Boolean(compute="_compute_secrets")
    min_severity = fields.Selection(
        [("low", "Low"), ("medium", "Medium"), ("high", "High"), ("critical", "Critical")],
        string="From severity",
        default="low",
        required=True,
        help="Incident events below this severity are not sent (database-wide events always are).",
    )
    on_new_incident = fields.Boolean(string="New incident", default=True)
    on_spike = fields.Boolean(string="Spike", default=True)
    on_escalation = fields.Boolean(string="Escalation", default=True)
    on_fix_failed = fields.Boolean(string="Failed or rolled-back fix", default=True)
    on_approval = fields.Boolean(string="Pending approval", default=True)
    on_breaker = fields.Boolean(string="Circuit breaker open", default=True)
    timeout = fields.Float(string="Timeout (s)", default=DEFAULT_TIMEOUT)
    max_tries = fields.Integer(string="Tries at most", default=6)
    delivery_ids = fields.One2many("self_healing.webhook.delivery", "webhook_id", readonly=True)
    delivery_count = fields.Integer(compute="_compute_delivery_stats")
    failed_count = fields.Integer(compute="_compute_delivery_stats")

    _timeout_range = Constraint(
        f"CHECK(timeout > 0 AND timeout <= {MAX_TIMEOUT})", "The timeout lies between 0 and 60 s."
    )
    _max_tries_range = Constraint("CHECK(max_tries BETWEEN 1 AND 20)", "A delivery is tried between 1 and 20 times.")

    def _param(self, what):
        self.ensure_one()
        return SECRET_PARAM % (self.id, what)

    def _get_param(self, what):
        return self.env["ir.config_parameter"].sudo().get_param(self._param(what)) or ""

    def _set_param(self, what, value):
        # set_param with an empty value deletes the parameter.
        self.env["ir.config_parameter"].sudo().set_param(self._param(what), (value or "").strip() or False)

    def _compute_secrets(self):
        for webhook in self:
            if not isinstance(webhook.id, int):  # a new record (NewId) has nothing stored yet
                webhook.url = webhook.secret = False
                webhook.has_secret = False
                continue
            webhook.url = webhook._get_param("url") or False
            secret = webhook._get_param("secret")
            # The form shows that a secret is set, never the secret itself.
            webhook.secret = "********" if secret else False
            webhook.has_secret = bool(secret)

    def _inverse_url(self):
        for webhook in self:
            url = (webhook.url or "").strip()
            if url:
                parts = urlsplit(url)
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise ValidationError(_("%s is not an http(s) URL.", url))
            webhook._set_param("url", url)
            webhook.endpoint = webhook._endpoint_of(url)

    def _inverse_secret(self):
        for webhook in self:
            if webhook.secret == "********":
                continue  # the mask came back unchanged from the form
            webhook._set_param("secret", webhook.secret)

    @api.model
    def _endpoint_of(self, url):
        parts = urlsplit(url or "")
        return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}" if parts.hostname else False

    def _target_url(self):
        """The URL deliveries go to: PagerDuty's public endpoint when none is given."""
        self.ensure_one()
        url = self._get_param("url")
        if not url and self.kind == "pagerduty":
            return payloads.PAGERDUTY_URL
        return url

    def _compute_delivery_stats(self):
        Delivery = self.env["self_healing.webhook.delivery"]
        counts = {
            (webhook.id, state): count
            for webhook, state, count in Delivery._read_group(
                [("webhook_id", "in", self.ids)], ["webhook_id", "state"], ["__count"]
            )
        }
        for webhook in self:
            webhook.delivery_count = sum(c for (wid, _state), c in counts.items() if wid == webhook.id)
            webhook.failed_count = counts.get((webhook.id, "failed"), 0)

    @api.model_create_multi
    def create(self, vals_list):
        webhooks = super().create(vals_list)
        for webhook in webhooks:
            if not webhook.endpoint and webhook.kind == "pagerduty":
                webhook.endpoint = webhook._endpoint_of(payloads.PAGERDUTY_URL)
        # The cache still holds what was typed: the answer to the form must show the mask.
        webhooks.invalidate_recordset(["secret", "has_secret"])
        return webhooks

    def write(self, vals):
        result = super().write(vals)
        if "secret" in vals:
            self.invalidate_recordset(["secret", "has_secret"])
        return result

    def unlink(self):
        params = self.env["ir.config_parameter"].sudo()
        keys = [webhook._param(what) for webhook in self for what in ("url", "secret")]
        result = super().unlink()
        params.search([("key", "in", keys)]).unlink()
        return result

    # ------------------------------------------------------------------ events

    @api.model
    def _notify(self, event, incident=None, attempt=None):
        """Queue ``event`` (a ``payloads.Event``) for every webhook that wants it; returns the deliveries.

        Nothing is sent here: the delivery cron sends after this transaction
        commits, so a slow receiver never holds up the code that saw the fault.
        """
        rank = SEVERITY_RANK.get(event.severity, 1)
        webhooks = (
            self.sudo()
            .search([(event_field(event.kind), "=", True)])
            .filtered(lambda webhook: not incident or rank >= SEVERITY_RANK[webhook.min_severity])
        )
        if not webhooks:
            return self.env["self_healing.webhook.delivery"]
        now = fields.Datetime.now()
        deliveries = (
            self.env["self_healing.webhook.delivery"]
            .sudo()
            .create(
                [
                    {
                        "webhook_id": webhook.id,
                        "event": event.kind,
                        "title": event.title[:200],
                        "incident_id": incident.id if incident else False,
                        "attempt_id": attempt.id if attempt else False,
                        "payload": payloads.build(webhook.kind, event),
                        "next_try_at": now,
                    }
                    for webhook in webhooks
                ]
            )
        )
        self.env.ref("self_healing.ir_cron_webhook_deliver").sudo()._trigger()
        return deliveries

    def action_send_test(self):
        """Send a test event now, so the form shows at once whether the receiver accepts it."""
        # Reached by RPC on a bare id: the right is checked here, not by reading a field.
        self.check_access("write")
        self.ensure_one()
        event = payloads.Event(
            kind="new_incident",
            title=_("Test notification from Self-Healing"),
            summary=_("If you can read this, the webhook %s works.", self.name),
            severity="low",
            database=self.env.cr.dbname,
            occurred_at=fields.Datetime.to_string(fields.Datetime.now()),
        )
        delivery = (
            self.env["self_healing.webhook.delivery"]
            .sudo()
            .create(
                {
                    "webhook_id": self.id,
                    "event": event.kind,
                    "title": event.title,
                    "payload": payloads.build(self.kind, event),
                    "next_try_at": fields.Datetime.now(),
                    "is_test": True,
                }
            )
        )
        delivery._send()
        return delivery.action_open()

    def action_view_deliveries(self):
        self.check_access("read")
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("self_healing.self_healing_webhook_delivery_action")
        action["domain"] = [("webhook_id", "=", self.id)]
        action["context"] = {"default_webhook_id": self.id}
        return action
