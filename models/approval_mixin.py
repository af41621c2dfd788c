from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from .. import compat

APPROVER_GROUP = "self_healing.group_self_healing_approver"
TODO_ACTIVITY = "mail.mail_activity_data_todo"


class SelfHealingApprovalMixin(models.AbstractModel):
    """Ask approvers for a decision: review rows, activities, chatter, and hooks for the outcome.

    A model inheriting it calls ``_request_review(reason)`` when a human must decide;
    its approve/reject methods call ``_close_reviews`` to record the decision.
    """

    _name = "self_healing.approval.mixin"
    _description = "Self-Healing Approval Mixin"

    review_ids = fields.One2many(
        "self_healing.review",
        "res_id",
        string="Reviews",
        domain=lambda self: [("res_model", "=", self._name)],
        readonly=True,
    )
    review_state = fields.Selection(
        [("none", "Not Requested"), ("pending", "Pending"), ("approved", "Approved"), ("rejected", "Rejected")],
        compute="_compute_review_state",
        store=True,
        index=True,
    )

    @api.depends("review_ids.status")
    def _compute_review_state(self):
        for record in self:
            latest = record.review_ids.sorted("id")[-1:] if record.review_ids else None
            record.review_state = latest.status if latest else "none"

    def _approvers(self):
        return compat.group_members(self.env.ref(APPROVER_GROUP)).filtered(lambda user: user.active and not user.share)

    def _request_review(self, reason):
        """Open a pending review and give each approver a to-do; idempotent while one is pending."""
        group = self.env.ref(APPROVER_GROUP)
        approvers = self._approvers()
        for record in self:
            if record.review_state == "pending":
                continue
            self.env["self_healing.review"].sudo().create(
                {
                    "res_model": record._name,
                    "res_id": record.id,
                    "reason": reason,
                    "reviewer_group_id": group.id,
                }
            )
            for approver in approvers:
                record.sudo().activity_schedule(
                    TODO_ACTIVITY,
                    user_id=approver.id,
                    summary=_("Review a proposed fix"),
                    note=reason,
                )
            record.message_post(
                body=_("Approval requested: %s", reason), subtype_xmlid="self_healing.mt_fix_needs_approval"
            )

    def _close_reviews(self, approved, note=None):
        """Record an approver's decision on the pending reviews of these records."""
        if not self.env.user.has_group(APPROVER_GROUP):
            raise AccessError(_("Only Self-Healing approvers can approve or reject a fix."))
        pending = self.review_ids.filtered(lambda review: review.status == "pending")
        pending.sudo().write(
            {
                "status": "approved" if approved else "rejected",
                "done_by": self.env.uid,
                "reviewed_at": fields.Datetime.now(),
                "note": note,
            }
        )
        return pending
