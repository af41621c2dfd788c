from odoo import fields, models


class SelfHealingFixApproval(models.TransientModel):
    """Approve or reject proposed fixes, with a note kept in the fix history."""

    _name = "self_healing.fix.approval"
    _description = "Self-Healing Fix Approval"

    attempt_ids = fields.Many2many("self_healing.fix.attempt", string="Fixes", required=True)
    note = fields.Text()

    def action_approve(self):
        self.attempt_ids._approve(self.note)
        return {"type": "ir.actions.act_window_close"}

    def action_reject(self):
        self.attempt_ids._reject(self.note)
        return {"type": "ir.actions.act_window_close"}
