from odoo import api, fields, models

from ..models.incident_workflow import SNOOZE_MODES


class SelfHealingIncidentSnooze(models.TransientModel):
    """Snooze incidents until a date, more occurrences, or a rate (Sentry's archive-until)."""

    _name = "self_healing.incident.snooze"
    _description = "Self-Healing: Snooze Incidents"

    incident_ids = fields.Many2many("self_healing.incident", string="Incidents", required=True)
    mode = fields.Selection(SNOOZE_MODES, string="Snooze", required=True, default="date")
    until = fields.Datetime(default=lambda self: fields.Datetime.add(fields.Datetime.now(), days=1))
    count = fields.Integer(string="More occurrences", default=10)
    rate_count = fields.Integer(string="Occurrences within an hour", default=10)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "self_healing.incident":
            values.setdefault("incident_ids", [fields.Command.set(self.env.context.get("active_ids") or [])])
        return values

    def action_apply(self):
        self.env["self_healing.incident"]._check_approver()
        self.ensure_one()
        self.incident_ids._snooze(self.mode, until=self.until, count=self.count, rate_count=self.rate_count)
        return {"type": "ir.actions.act_window_close"}
