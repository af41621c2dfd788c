from odoo import api, fields, models

from ..compat import Constraint

REVIEW_STATES = [("pending", "Pending"), ("approved", "Approved"), ("rejected", "Rejected")]


class SelfHealingReview(models.Model):
    """One request for a human decision on a record of a model using the approval mixin."""

    _name = "self_healing.review"
    _description = "Self-Healing Review"
    _order = "requested_at desc, id desc"

    name = fields.Char(compute="_compute_name")
    res_model = fields.Char(string="Document Model", required=True, index=True)
    res_id = fields.Many2oneReference(string="Document", model_field="res_model", required=True, index=True)
    status = fields.Selection(REVIEW_STATES, default="pending", required=True, index=True)
    reason = fields.Text(help="Why a human must decide: the policy rules that fired.")
    reviewer_group_id = fields.Many2one("res.groups", required=True, ondelete="restrict")
    requested_by = fields.Many2one("res.users", default=lambda self: self.env.user, required=True)
    requested_at = fields.Datetime(default=fields.Datetime.now, required=True)
    done_by = fields.Many2one("res.users", readonly=True)
    reviewed_at = fields.Datetime(readonly=True)
    note = fields.Text(readonly=True)

    _decision_complete = Constraint(
        "CHECK(status = 'pending' OR (done_by IS NOT NULL AND reviewed_at IS NOT NULL))",
        "A decided review records who decided and when.",
    )

    @api.depends("res_model", "res_id", "status")
    def _compute_name(self):
        labels = dict(REVIEW_STATES)
        for review in self:
            document = self.env[review.res_model].browse(review.res_id).exists() if review.res_model else None
            review.name = "%s: %s" % (document.display_name if document else review.res_model, labels[review.status])
