from odoo import _, api, fields, models

from ..engine.learn import calibration, metrics

ALERT_LIMIT = 6
APPLIED_STATES = list(metrics.APPLIED_OUTCOMES)
HUMAN_STATES = sorted(metrics.HUMAN_STATES)
# Where the knowledge base keeps its provenance: guardrails by origin, solved cases by their shipped file.
KNOWLEDGE_SHIPPED = {
    "self_healing.guardrail": ("origin", "=", "library"),
    "self_healing.knowledge.entry": ("shipped_file", "!=", False),
}


class SelfHealingDashboard(models.AbstractModel):
    """Feeds the dashboard client action; the figures are computed by engine.metrics.

    Every figure comes with the domain of exactly the records it counts
    (``targets``), so that a click opens them and a test can compare both.
    """

    _name = "self_healing.dashboard"
    _description = "Self-Healing Dashboard"

    @api.model
    def get_dashboard_data(self, days=7, request_id=None):
        """Figures, charts and their targets over the last ``days`` days.

        ``request_id`` comes back unchanged: the client drops an answer that is
        not for its latest request, so a slow period cannot overwrite a newer one.
        """
        days = max(1, min(int(days), 365))
        now = fields.Datetime.now()
        since = fields.Datetime.subtract(now, days=2 * days)
        # Healed or first seen in the period counts on the daily chart even when last seen before it.
        incidents = self.env["self_healing.incident"].search_read(
            ["|", "|", ("last_seen", ">=", since), ("first_seen", ">=", since), ("healed_at", ">=", since)],
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
        knowledge = self._knowledge_rows()
        summary = metrics.summarize(
            incidents, attempts, [created for _model, created, _shipped in knowledge], now=now, days=days
        )
        summary["request_id"] = request_id
        summary["empty"] = (
            not self.env["self_healing.incident"].with_context(active_test=False).search_count([], limit=1)
        )
        summary["alerts"] = self._alerts()
        guardrails = self.env["self_healing.guardrail"].search_read([("state", "=", "active")], ["confidence"])
        summary["guardrail_avg_confidence"] = (
            round(sum(row["confidence"] for row in guardrails) / len(guardrails), 4) if guardrails else None
        )
        summary["guardrail_count"] = len(guardrails)
        start_moment = fields.Datetime.subtract(now, days=days)
        start = fields.Datetime.to_string(start_moment)
        summary["targets"] = self._targets(start)
        for row in summary["top_fixed"]:
            fixes = self._applied_domain(start) + self._fix_key_domain(row["name"])
            row["target"] = self._target("self_healing.fix.attempt", fixes, _("Fixes by %s", row["name"]))
            row["succeeded_target"] = self._target(
                "self_healing.fix.attempt",
                fixes + [("state", "=", "validated")],
                _("Fixes by %s that worked", row["name"]),
            )
            row["failed_target"] = self._target(
                "self_healing.fix.attempt",
                fixes + [("state", "!=", "validated")],
                _("Fixes by %s that did not work", row["name"]),
            )
        summary["reliability"] = self._reliability()
        # The chart's days are the user's: the browser's zone, else the preference, else UTC.
        tz = self.env.context.get("tz") or self.env.user.tz
        summary["day_zone"] = getattr(metrics.zone(tz), "key", "UTC")
        summary["daily"] = self._daily(incidents, attempts, now, days, tz)
        summary["confidence_distribution"] = self._confidence_distribution(incidents, start_moment, start)
        summary["knowledge"] = self._knowledge(knowledge, now)
        return summary

    # ------------------------------------------------------------------ charts

    @api.model
    def _daily(self, incidents, attempts, now, days, tz=None):
        """engine.metrics.daily_series in time zone ``tz``, each point with the records behind it."""
        incident, attempt = "self_healing.incident", "self_healing.fix.attempt"
        points = metrics.daily_series(incidents, attempts, now, days, tz)
        for point in points:
            start, end = (fields.Datetime.to_string(point.pop(key)) for key in ("start", "end"))
            day = point["day"]
            point["targets"] = {
                "detected": self._target(
                    incident, self._between("first_seen", start, end), _("Incidents first seen on %s", day)
                ),
                "healed": self._target(
                    incident,
                    [("state", "=", "healed")] + self._between("healed_at", start, end),
                    _("Incidents healed on %s", day),
                ),
                "auto_applied": self._target(
                    attempt,
                    [("mode", "=", "auto"), ("state", "in", APPLIED_STATES), ("dry_run", "=", False)]
                    + self._between("create_date", start, end),
                    _("Automatic fixes of %s", day),
                ),
                "human_review": dict(
                    self._targets(start, end)["human_review"], name=_("Human review required on %s", day)
                ),
            }
        return points

    @api.model
    def _confidence_distribution(self, incidents, start_moment, start):
        bins = metrics.confidence_distribution(incidents, start_moment)
        seen = [("last_seen", ">=", start), ("confidence", ">", 0)]
        for row in bins:
            # The top bin holds 1.0 (engine.metrics.confidence_bin).
            high = ("confidence", "<=", row["high"]) if row["high"] >= 1 else ("confidence", "<", row["high"])
            row["target"] = self._target(
                "self_healing.incident",
                seen + [("confidence", ">=", row["low"]), high],
                _("Confidence %(low)s%% to %(high)s%%", low=round(row["low"] * 100), high=round(row["high"] * 100)),
            )
        return bins

    @api.model
    def _knowledge_rows(self):
        """``(model, create_date, shipped)`` for every pattern of the knowledge base."""
        rows = []
        for model, shipped in KNOWLEDGE_SHIPPED.items():
            shipped_ids = set(self.env[model].search([shipped]).ids)
            rows += [
                (model, row["create_date"], row["id"] in shipped_ids)
                for row in self.env[model].search_read([], ["create_date"])
            ]
        return rows

    @api.model
    def _knowledge(self, rows, now):
        """Per model: shipped, learned here (anything this database added), and their 30-day growth."""
        month_ago = fields.Datetime.to_string(fields.Datetime.subtract(now, days=30))
        names = {
            "self_healing.guardrail": _("Guardrails"),
            "self_healing.knowledge.entry": _("Solved cases"),
        }
        result = []
        for model, shipped in KNOWLEDGE_SHIPPED.items():
            split = metrics.knowledge_split(
                [(created, is_shipped) for m, created, is_shipped in rows if m == model], now
            )
            learned = ["!", shipped]
            recent = [("create_date", ">=", month_ago)]
            split["model"] = model
            split["name"] = names[model]
            split["targets"] = {
                "shipped": self._target(model, [shipped], _("%s shipped", names[model])),
                "learned": self._target(model, learned, _("%s learned here", names[model])),
                "shipped_30d": self._target(model, [shipped] + recent, _("%s shipped in 30 days", names[model])),
                "learned_30d": self._target(model, learned + recent, _("%s learned here in 30 days", names[model])),
            }
            result.append(split)
        return result

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
    def _between(self, field, start, end=None):
        """``[start, end)`` on ``field``; no end is up to now (engine.metrics._in_window)."""
        return [(field, ">=", start)] + ([(field, "<", end)] if end else [])

    @api.model
    def _targets(self, start, end=None):
        """Card key -> the records its figure counts (same definitions as engine.metrics.window_figures)."""
        seen = self._between("last_seen", start, end)
        created = self._between("create_date", start, end)
        auto_fix = created + [("mode", "=", "auto"), ("state", "=", "validated")]
        human_attempt = created + [
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
