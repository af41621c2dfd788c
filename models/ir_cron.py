import json
import logging

from odoo import api, fields, models

from ..engine.detect.signal import Signal

_logger = logging.getLogger(__name__)

CRON_LOGGER = "odoo.addons.base.models.ir_cron"
REPORTED_PARAM = "self_healing.cron_failures_reported"


class IrCron(models.Model):
    """Failing scheduled actions as signals, from Odoo's own failure counting (never re-counted here)."""

    _inherit = "ir.cron"

    # --- deactivation: Odoo calls _notify_admin after failures over a week ------------

    def _update_failure_count(self, job, status):
        # _notify_admin only receives a sentence; keep the job at hand for it.
        return super(IrCron, self.with_context(self_healing_cron_job=job))._update_failure_count(job, status)

    def _notify_admin(self, message):
        result = super()._notify_admin(message)
        job = self.env.context.get("self_healing_cron_job") or {}
        name = job.get("cron_name") or ""
        signal = Signal(
            source="cron",
            level="ERROR",
            logger=CRON_LOGGER,
            message=str(message),
            dbname=self.env.cr.dbname,
            extra={
                "cron_id": job.get("id"),
                "cron_name": name,
                "deactivated": True,
                "group_key": f"cron deactivated {name}",
                "title": f"Scheduled action deactivated after repeated failures: {name}",
                "severity": "high",
            },
        )
        try:
            with self.env.cr.savepoint():
                self.env["self_healing.signal"].sudo()._stage([signal.to_dict()])
                self.env["self_healing.signal"]._trigger_processing()
        except Exception:  # a detector never breaks the code it watches
            _logger.exception("Self-Healing could not report the deactivation of cron %s", job.get("id"))
        return result

    # --- scan: jobs that failed on their last runs --------------------------------------

    @api.model
    def _self_healing_scan_failures(self):
        """Scan cron: one signal per job whose consecutive failure count grew since the last scan.

        Odoo resets failure_count on success and on deactivation, so the
        counts reported last time are kept (self_healing.cron_failures_reported)
        only for jobs still failing. The traceback of each failure is the log
        capture's; this signal links to the incident that holds it.
        """
        params = self.env["ir.config_parameter"].sudo()
        try:
            reported = {
                int(key): int(value) for key, value in json.loads(params.get_param(REPORTED_PARAM) or "{}").items()
            }
        except (TypeError, ValueError):
            reported = {}
        failing = self.sudo().with_context(active_test=False).search([("failure_count", ">", 0)])
        signals = [
            self._self_healing_failure_signal(cron).to_dict()
            for cron in failing
            if cron.failure_count > reported.get(cron.id, 0)
        ]
        params.set_param(REPORTED_PARAM, json.dumps({str(cron.id): cron.failure_count for cron in failing}))
        if signals:
            self.env["self_healing.signal"].sudo()._stage(signals)
            self.env["self_healing.signal"]._trigger_processing()
        return len(signals)

    def _self_healing_failure_signal(self, cron):
        since = fields.Datetime.to_string(cron.first_failure_date) if cron.first_failure_date else "?"
        extra = {
            "cron_id": cron.id,
            "cron_name": cron.cron_name,
            "failure_count": cron.failure_count,
            "first_failure_date": since,
            "active": cron.active,
            "group_key": f"cron failing {cron.cron_name}",
            "title": f"Scheduled action failing: {cron.cron_name}",
        }
        cause = self._self_healing_last_failure(cron)
        if cause:
            extra["cause_incident_id"], extra["cause_occurrence_id"] = cause
        return Signal(
            source="cron",
            level="ERROR",
            logger=CRON_LOGGER,
            # Worded like ir.cron's own log lines, so the job's name stays in the message template.
            message=f"Job {cron.cron_name!r} ({cron.id}) failed {cron.failure_count} times in a row since {since}",
            dbname=self.env.cr.dbname,
            extra=extra,
        )

    def _self_healing_last_failure(self, cron):
        """(incident id, occurrence id) of the latest captured failure of ``cron``, or None."""
        self.env["self_healing.occurrence"].flush_model()
        self.env.cr.execute(
            """SELECT incident_id, id FROM self_healing_occurrence
                WHERE signal_source = 'cron' AND (extra ->> 'cron_id') = %s AND traceback IS NOT NULL
                ORDER BY occurred_at DESC, id DESC LIMIT 1""",
            [str(cron.id)],
        )
        return self.env.cr.fetchone()
