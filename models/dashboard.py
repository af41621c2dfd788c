from odoo import _, api, fields, models

from ..engine.learn import calibration, metrics

ALERT_LIMIT = 6
APPLIED_STATES = list(metrics.APPLIED_OUTCOMES)
HUMAN_STATES = sorted(metrics.HUMAN_STATES)


class SelfHealingDashboard(models.AbstractModel):
    """Feeds the dashboard client action; the figures are computed by engine.metrics.

    Every figure comes with the domain of exactly the records it counts
    (``targets``), so that a click opens them and a test can compare both.
    """

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
        summary["guardrail_count"] = len(guardrails)
        start = fields.Datetime.to_string(fields.Datetime.subtract(now, days=days))
        summary["targets"] = self._targets(start)
        for row in summary["top_fixed"]:
            row["target"] = self._target(
                "self_healing.fix.attempt",
                self._applied_domain(start) + self._fix_key_domain(row["name"]),
                _("Fixes by %s", row["name"]),
            )
        summary["reliability"] = self._reliability()
        return summary

    # ------------------------------------------------------------------ what each figure counts

    @api.model
    def _target(self, model, domain, name):
        return {"model": model, "domain": domain, "name": name}

    @api.model
    def _applied_domain(self, start):
        return [("create_date", ">=", start), ("state", "in", APPLIED_STATES), ("dry_run", "=", False)]

    @api.model
    def _fix_key_domain(self, key):
        """The attempts engine.metrics.top_fixed files under ``key``: a guardrail code, else an auto-patch."""
        if key == "?":
            return [("guardrail_id", "=", False), ("autopatch_code", "=", False)]
        return ["|", ("guardrail_id.code", "=", key), "&", ("guardrail_id", "=", False), ("autopatch_code", "=", key)]

    @api.model
    def _targets(self, start):
        """Card key -> the records its figure counts (same definitions as engine.metrics.window_figures)."""
        seen = [("last_seen", ">=", start)]
        auto_fix = [("create_date", ">=", start), ("mode", "=", "auto"), ("state", "=", "validated")]
        human_attempt = [
            ("create_date", ">=", start),
            "|",
            ("mode", "in", ["approved", "manual"]),
            ("state", "in", ["proposed", "rejected"]),
        ]
        incident, attempt = "self_healing.incident", "self_healing.fix.attempt"
        return {
            "issues_detected": self._target(incident, seen, _("Incidents detected")),
            "auto_fixed": self._target(incident, seen + [("fix_attempt_ids", "any", auto_fix)], _("Auto-fixed")),
            "human_review": self._target(
                incident,
                seen
                + [
                    "|",
                    ("state", "in", HUMAN_STATES),
                    ("fix_attempt_ids", "any", human_attempt),
                    ("fix_attempt_ids", "not any", auto_fix),
                ],
                _("Human review required"),
            ),
            "fixes_applied": self._target(attempt, self._applied_domain(start), _("Fixes applied")),
            "fixes_succeeded": self._target(
                attempt, self._applied_domain(start) + [("state", "=", "validated")], _("Fixes that worked")
            ),
            "healed_count": self._target(
                incident, seen + [("state", "=", "healed"), ("healed_at", "!=", False)], _("Healed incidents")
            ),
            "confidence_count": self._target(
                incident, seen + [("confidence", ">", 0)], _("Incidents with a confidence")
            ),
            "awaiting_approval": self._target(incident, [("state", "=", "awaiting_approval")], _("Awaiting approval")),
            "guardrail_count": self._target(
                "self_healing.guardrail", [("state", "=", "active")], _("Active guardrails")
            ),
        }

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
