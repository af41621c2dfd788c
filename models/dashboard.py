from odoo import api, fields, models

from ..engine.learn import calibration, metrics

ALERT_LIMIT = 6


class SelfHealingDashboard(models.AbstractModel):
    """Feeds the dashboard client action; the figures are computed by engine.metrics."""

    _name = "self_healing.dashboard"
    _description = "Self-Healing Dashboard"

    @api.model
    def get_dashboard_data(self, days=7):
        days = max(1, min(int(days), 365))
        now = fields.Datetime.now()
        since = fields.Datetime.subtract(now, days=2 * days)
        incidents = self.env["self_healing.incident"].search_read(
            [("last_seen", ">=", since)],
            ["first_seen", "last_seen", "state", "healed_at", "confidence"],
        )
        attempt_rows = self.env["self_healing.fix.attempt"].search_read(
            [("create_date", ">=", since)],
            ["incident_id", "mode", "state", "create_date", "dry_run", "guardrail_id", "autopatch_code"],
        )
        guardrail_ids = {row["guardrail_id"][0] for row in attempt_rows if row["guardrail_id"]}
        codes = {g.id: g.code for g in self.env["self_healing.guardrail"].browse(guardrail_ids)}
        attempts = [
            {
                "incident_id": row["incident_id"][0],
                "mode": row["mode"],
                "state": row["state"],
                "created": row["create_date"],
                "dry_run": row["dry_run"],
                "guardrail": codes.get(row["guardrail_id"][0]) if row["guardrail_id"] else None,
                "autopatch": row["autopatch_code"],
            }
            for row in attempt_rows
        ]
        knowledge_created = [
            row["create_date"]
            for model in ("self_healing.guardrail", "self_healing.knowledge.entry")
            for row in self.env[model].search_read([], ["create_date"])
        ]
        summary = metrics.summarize(incidents, attempts, knowledge_created, now=now, days=days)
        summary["alerts"] = self._alerts()
        guardrails = self.env["self_healing.guardrail"].search_read([("state", "=", "active")], ["confidence"])
        summary["guardrail_avg_confidence"] = (
            round(sum(row["confidence"] for row in guardrails) / len(guardrails), 4) if guardrails else None
        )
        summary["reliability"] = self._reliability()
        return summary

    @api.model
    def _reliability(self):
        """How well this database's confidences predicted its labelled outcomes (engine/learn/calibration.py)."""
        rows = self.env["self_healing.fix.attempt"].search_read(
            [("outcome_label", "in", ("healed", "failed")), ("dry_run", "=", False)],
            ["confidence_before", "outcome_label"],
        )
        pairs = [(row["confidence_before"], row["outcome_label"] == "healed") for row in rows]
        ece = calibration.expected_calibration_error(pairs)
        return {
            "labelled": len(pairs),
            "ece": None if ece is None else round(ece, 4),
            "rows": [row.as_dict() for row in calibration.reliability_table(pairs)],
        }

    def _alerts(self):
        Incident = self.env["self_healing.incident"]
        open_domain = [("state", "not in", ("healed", "ignored"))]
        rows = Incident.search_read(
            open_domain + ["|", ("confidence", "<", 0.6), ("state", "in", ("awaiting_approval", "escalated"))],
            ["name", "state", "confidence", "error_class", "occurrence_count"],
            limit=ALERT_LIMIT,
            order="last_seen desc",
        )
        review = self.env["self_healing.guardrail"].search_read(
            [("needs_review", "=", True)], ["code", "name"], limit=ALERT_LIMIT
        )
        return {
            "incidents": rows,
            "awaiting_approval": Incident.search_count([("state", "=", "awaiting_approval")]),
            "guardrails_to_review": review,
        }
