"""Which incident events are told to the outside world (webhooks), and spikes.

The events themselves happen elsewhere (ingestion, the healing loop, the
lifecycle); this concern only listens and queues notifications.
"""

import logging
from datetime import timedelta

from odoo import _, api, fields, models

from ..engine.decide import rate
from ..engine.notify import payloads
from .policy import BREAKER_RESET_PARAM

_logger = logging.getLogger(__name__)

BREAKER_NOTIFIED_PARAM = "self_healing.breaker_notified_at"
# One spike notification per incident per spike window: a fault that keeps spiking is one story.
STATE_EVENTS = {"escalated": "escalation", "awaiting_approval": "approval"}


class SelfHealingIncidentNotification(models.Model):
    _inherit = "self_healing.incident"

    last_spike_at = fields.Datetime(readonly=True, copy=False, help="When the rate of this fault last spiked.")

    # ------------------------------------------------------------------ building events

    def _record_url(self, record):
        return f"{self.get_base_url()}/odoo/{record._name}/{record.id}"

    def _notification_event(self, kind, summary, attempt=None, **facts):
        self.ensure_one()
        return payloads.Event(
            kind=kind,
            title=self.name,
            summary=summary,
            severity=self.severity,
            incident_id=self.id,
            incident_url=self._record_url(self),
            attempt_id=attempt.id if attempt else None,
            attempt_url=self._record_url(attempt) if attempt else None,
            error_class=self.error_class,
            module=self.module or None,
            state=dict(self._fields["state"].selection).get(self.state),
            occurrences=self.occurrence_count,
            database=self.env.cr.dbname,
            occurred_at=fields.Datetime.to_string(fields.Datetime.now()),
            facts={key: value for key, value in facts.items() if value not in (None, "")},
        )

    def _notify(self, kind, summary, attempt=None, **facts):
        """Queue ``kind`` for the webhooks that want it; returns the deliveries.

        A notification that cannot be queued is logged and dropped: telling
        must never undo what it tells about (a state change, a healing).
        """
        Webhook = self.env["self_healing.webhook"].sudo()
        deliveries = self.env["self_healing.webhook.delivery"]
        for incident in self:
            try:
                with self.env.cr.savepoint():
                    event = incident._notification_event(kind, summary, attempt, **facts)
                    deliveries |= Webhook._notify(event, incident, attempt)
            except Exception:
                _logger.exception("Self-Healing could not queue the %s notification of incident %s", kind, incident.id)
        return deliveries

    # ------------------------------------------------------------------ listening

    def _on_new_signals(self):
        result = super()._on_new_signals()
        for incident in self:
            if incident.regression_count and incident.state == "new":
                summary = _(
                    "Regression: the fault came back after it was healed (%s times now).", incident.regression_count
                )
            else:
                summary = _("A new fault was detected: %s", incident.exception_type or incident.error_class)
            incident._notify("new_incident", summary, regression=incident.regression_count or None)
        return result

    def _set_state(self, target, note=None):
        before = {incident.id: incident.state for incident in self}
        result = super()._set_state(target, note)
        kind = STATE_EVENTS.get(target)
        if kind:
            for incident in self.filtered(lambda record: before[record.id] != target and record.state == target):
                attempt = incident.fix_attempt_ids.sorted("id", reverse=True)[:1]
                summary = _("A fix waits for approval.") if kind == "approval" else _("Escalated to a human.")
                incident._notify(kind, f"{summary} {note or ''}".strip(), attempt if kind == "approval" else None)
        return result

    def _after_ingest(self):
        result = super()._after_ingest()
        self._check_spikes()
        return result

    def _check_spikes(self, now=None):
        """Tell once per window when an incident comes much faster than in the day before."""
        if not self:
            return self.browse()
        now = now or fields.Datetime.now()
        window_start = now - timedelta(minutes=rate.SPIKE_WINDOW_MINUTES)
        baseline_start = window_start - timedelta(minutes=rate.SPIKE_BASELINE_MINUTES)
        self.env["self_healing.occurrence"].flush_model(["incident_id", "occurred_at"])
        self.env.cr.execute(
            """SELECT incident_id,
                      count(*) FILTER (WHERE occurred_at >= %(window)s),
                      count(*) FILTER (WHERE occurred_at < %(window)s)
                 FROM self_healing_occurrence
                WHERE incident_id IN %(ids)s AND occurred_at >= %(baseline)s
                GROUP BY incident_id""",
            {"ids": tuple(self.ids), "window": window_start, "baseline": baseline_start},
        )
        spiking = self.browse()
        for incident_id, recent, baseline in self.env.cr.fetchall():
            incident = self.browse(incident_id)
            if incident.last_spike_at and incident.last_spike_at >= window_start:
                continue
            if rate.is_spike(recent, baseline):
                spiking |= incident
                incident.last_spike_at = now
                summary = _(
                    "%(recent)s occurrences in the last %(minutes)s minutes, against %(baseline)s in the day before.",
                    recent=recent,
                    minutes=rate.SPIKE_WINDOW_MINUTES,
                    baseline=baseline,
                )
                incident.message_post(body=_("Spike: %s", summary))
                incident._notify("spike", summary, recent=recent, baseline=baseline)
        return spiking

    def _warn_managers_breaker(self):
        result = super()._warn_managers_breaker()
        try:
            with self.env.cr.savepoint():
                self._notify_breaker_once()
        except Exception:
            _logger.exception("Self-Healing could not queue the circuit breaker notification")
        return result

    @api.model
    def _notify_breaker_once(self):
        """One notification per opening of the breaker, not one per incident it pauses."""
        params = self.env["ir.config_parameter"].sudo()
        notified = params.get_param(BREAKER_NOTIFIED_PARAM)
        last_success = (
            self.env["self_healing.fix.attempt"]
            .sudo()
            .search(
                [("mode", "=", "auto"), ("state", "=", "validated"), ("dry_run", "=", False)],
                order="applied_at desc",
                limit=1,
            )
        )
        moments = [params.get_param(BREAKER_RESET_PARAM), fields.Datetime.to_string(last_success.applied_at)]
        closed_at = max([moment for moment in moments if moment] or [""])
        if notified and notified >= closed_at:
            return False
        params.set_param(BREAKER_NOTIFIED_PARAM, fields.Datetime.to_string(fields.Datetime.now()))
        event = payloads.Event(
            kind="breaker",
            title=_("Self-Healing autopilot paused"),
            summary=_(
                "The circuit breaker is open after repeated failed automatic fixes; "
                "no fix runs automatically until an administrator resets it."
            ),
            severity="high",
            database=self.env.cr.dbname,
            occurred_at=fields.Datetime.to_string(fields.Datetime.now()),
        )
        self.env["self_healing.webhook"].sudo()._notify(event)
        return True
