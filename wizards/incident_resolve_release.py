from odoo import api, fields, models


class SelfHealingIncidentResolveRelease(models.TransientModel):
    """Resolve incidents in the next upgrade of a module: the fix is in code not deployed yet."""

    _name = "self_healing.incident.resolve.release"
    _description = "Self-Healing: Resolve in the Next Upgrade"

    incident_ids = fields.Many2many("self_healing.incident", string="Incidents", required=True)
    module_id = fields.Many2one(
        "ir.module.module",
        string="Module",
        required=True,
        domain=[("state", "=", "installed")],
        help="The module whose next upgrade carries the fix.",
    )
    current_release = fields.Char(compute="_compute_current_release", string="Release Now")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "self_healing.incident":
            incidents = self.env["self_healing.incident"].browse(self.env.context.get("active_ids") or [])
            values.setdefault("incident_ids", [fields.Command.set(incidents.ids)])
            # The module the traceback points at is the usual suspect.
            names = [name for name in incidents.mapped("module") if name]
            if names and "module_id" in fields_list:
                module = self.env["ir.module.module"].search([("name", "=", names[0]), ("state", "=", "installed")])
                if module:
                    values.setdefault("module_id", module.id)
        return values

    @api.depends("module_id")
    def _compute_current_release(self):
        for wizard in self:
            facts = wizard.module_id and self.env["self_healing.incident"]._module_release(wizard.module_id.name)
            if not facts:
                wizard.current_release = False
                continue
            wizard.current_release = facts["version"] + (f" ({facts['commit'][:7]})" if facts.get("commit") else "")

    def action_apply(self):
        self.env["self_healing.incident"]._check_approver()
        self.ensure_one()
        self.incident_ids._resolve_in_next_upgrade(self.module_id)
        return {"type": "ir.actions.act_window_close"}
