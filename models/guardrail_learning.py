from odoo import _, fields, models

from ..engine.decide import confidence as confidence_engine


class SelfHealingGuardrailLearning(models.Model):
    """Every fix outcome moves its guardrail: counts, confidence, review flag, retirement."""

    _inherit = "self_healing.guardrail"

    def _outcomes(self):
        """``(success, when)`` for every applied fix of this guardrail, oldest first.

        A validated fix whose fault came back inside its settling window counts as a failure."""
        self.ensure_one()
        attempts = (
            self.env["self_healing.fix.attempt"]
            .sudo()
            .search(
                [
                    ("guardrail_id", "=", self.id),
                    ("state", "in", ("validated", "failed", "rolled_back")),
                    ("dry_run", "=", False),
                ],
                order="applied_at, id",
            )
        )
        return [
            (
                attempt.state == "validated" and attempt.outcome_label != "failed",
                attempt.applied_at or attempt.create_date,
            )
            for attempt in attempts
        ]

    def _learn(self, success, when=None, reason=None):
        """Fold one outcome in; flag for review on failure, retire a fix that keeps failing."""
        when = when or fields.Datetime.now()
        for guardrail in self.sudo():
            stats, flags = confidence_engine.learning_update(
                {
                    "successes": guardrail.success_count,
                    "failures": guardrail.failure_count,
                    "consecutive_failures": guardrail.consecutive_failures,
                },
                success,
                when,
            )
            lower, _upper = stats.bounds()
            values = {
                "success_count": stats.successes,
                "failure_count": stats.failures,
                "consecutive_failures": stats.consecutive_failures,
                "confidence": round(lower, 3),
            }
            if "review" in flags:
                values["needs_review"] = True
            if "retire" in flags and guardrail.state == "active":
                values["state"] = "retired"
            guardrail.with_context(self_healing_library_sync=True).write(values)
            if "retire" in flags:
                guardrail.message_post(
                    body=_(
                        "Retired: its fix failed %(failures)s times out of %(attempts)s.",
                        failures=stats.failures,
                        attempts=stats.attempts,
                    )
                )
            elif not success:
                guardrail.message_post(body=_("Its fix failed (%s); flagged for review.", reason or _("no reason")))
