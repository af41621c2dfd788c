from markupsafe import escape

from odoo import _, api, models

from .incident_workflow import record_link

NOTIFIED_ATTEMPT_STATES = {"failed", "rolled_back"}


class SelfHealingFixAttemptNotification(models.Model):
    """Each step of a fix told in the incident's chatter with a link to the attempt; failures to the webhooks."""

    _inherit = "self_healing.fix.attempt"

    def _chatter_line(self, state):
        mode = dict(self._fields["mode"].selection).get(self.mode)
        patch = self.autopatch_code or _("a manual fix")
        lines = {
            "proposed": _(
                "planned %(patch)s (%(mode)s); confidence %(confidence)s%%.",
                patch=patch,
                mode=mode,
                confidence=round(self.confidence_before * 100),
            ),
            "approved": _("approved by %s.", self.approver_id.name or self.env.user.name),
            "rejected": _("rejected by %s.", self.approver_id.name or self.env.user.name),
            "applied": _("%s was applied; checking that the fault is gone.", patch),
            "validated": _("the check passed: the fault is gone."),
            "failed": _("failed: %s", self.error or self.outcome or "-"),
            "rolled_back": _("rolled back: what the fix changed was restored from its backup."),
        }
        return lines.get(state)

    def _tell_incident(self, state):
        for attempt in self.filtered(lambda record: not record.dry_run):
            line = attempt._chatter_line(state)
            if line:
                attempt.incident_id.message_post(
                    body=escape(_("Fix attempt ")) + record_link(attempt) + escape(": " + line),
                    subtype_xmlid="mail.mt_note",
                )

    @api.model_create_multi
    def create(self, vals_list):
        attempts = super().create(vals_list)
        attempts._tell_incident("proposed")
        return attempts

    def _set_state(self, target, **values):
        result = super()._set_state(target, **values)
        self._tell_incident(target)
        if target in NOTIFIED_ATTEMPT_STATES:
            for attempt in self.filtered(lambda record: not record.dry_run):
                if target == "failed":
                    summary = _(
                        "The fix %(patch)s failed: %(error)s",
                        patch=attempt.autopatch_code or "-",
                        error=attempt.error or attempt.outcome or "-",
                    )
                else:
                    summary = _("The fix %s was rolled back.", attempt.autopatch_code or "-")
                attempt.incident_id._notify("fix_failed", summary, attempt)
        return result
