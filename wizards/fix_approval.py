from odoo import _, api, fields, models
from odoo.exceptions import UserError


class SelfHealingFixApproval(models.TransientModel):
    """Approve or reject proposed fixes, with a note kept in the fix history.

    The form keeps the digest of the fixes as the approver saw them when it opened;
    approving refuses fixes that changed since, so an approval covers exactly what was read.
    """

    _name = "self_healing.fix.approval"
    _description = "Self-Healing Fix Approval"

    attempt_ids = fields.Many2many("self_healing.fix.attempt", string="Fixes", required=True)
    note = fields.Text()
    plan_digest = fields.Char(help="The version of the fixes shown when the review opened.")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if "plan_digest" in fields_list and values.get("attempt_ids"):
            ids = []
            for command in values["attempt_ids"]:
                if isinstance(command, int):
                    ids.append(command)
                elif command[0] == 6:
                    ids.extend(command[2])
                elif command[0] == 4:
                    ids.append(command[1])
            values["plan_digest"] = self.env["self_healing.fix.attempt"].browse(ids)._plan_digest()
        return values

    @api.model_create_multi
    def create(self, vals_list):
        wizards = super().create(vals_list)
        for wizard in wizards.filtered(lambda record: not record.plan_digest):
            # Made without the form (a script): it approves the version current now.
            wizard.plan_digest = wizard.attempt_ids._plan_digest()
        return wizards

    def action_approve(self):
        self.ensure_one()
        if not self.plan_digest:
            raise UserError(_("Open the review of the fix to approve it: the approval covers the plan you read."))
        self.attempt_ids._approve(self.note, plan_digest=self.plan_digest)
        return {"type": "ir.actions.act_window_close"}

    def action_reject(self):
        self.attempt_ids._reject(self.note)
        return {"type": "ir.actions.act_window_close"}
