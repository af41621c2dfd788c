from odoo import fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    self_healing_digest = fields.Boolean(
        string="Self-Healing daily digest",
        help="Receive once a day an e-mail of what Self-Healing detected, healed and needs from a human.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + ["self_healing_digest"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + ["self_healing_digest"]
