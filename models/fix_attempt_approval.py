from odoo import _, models

from ..autopatches import base as autopatch_base
from ..autopatches import runner
from ..autopatches.errors import AttemptBusy, NotRunnable


class SelfHealingFixAttemptReview(models.Model):
    """A fix the policy would not run alone waits here for an approver; approving runs it."""

    _name = "self_healing.fix.attempt"
    _inherit = ["self_healing.fix.attempt", "self_healing.approval.mixin"]

    def _approve(self, note=None, plan_digest=None):
        result = super()._approve(note, plan_digest=plan_digest)
        self._close_reviews(True, note)
        self._run_approved()
        return result

    def _reject(self, note=None):
        result = super()._reject(note)
        self._close_reviews(False, note)
        for attempt in self:
            incident = attempt.incident_id
            if incident.state == "awaiting_approval":
                incident._set_state(
                    "escalated", _("Fix rejected by %(user)s: %(note)s", user=self.env.user.name, note=note or "")
                )
        return result

    def _run_approved(self):
        """Run the approved fixes of incidents waiting for them, and move each incident on."""
        for attempt in self.filtered(lambda record: record.autopatch_code):
            incident = attempt.incident_id
            if incident.state != "awaiting_approval":
                continue
            if not autopatch_base.watches_only(attempt.autopatch_code):
                incident._set_state("fixing", _("Approved by %s: fixing.", self.env.user.name))
            try:
                result = runner.run_attempt(attempt)
            except (AttemptBusy, NotRunnable) as exc:
                incident.message_post(body=_("The approved fix could not run: %s", exc))
                if incident.state == "fixing":
                    incident._set_state("failed")
                continue
            # The approver's right was checked by _approve; what follows is the server recording the outcome.
            incident._after_fix(attempt.sudo(), result)
