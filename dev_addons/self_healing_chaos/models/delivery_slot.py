"""A customer's own addon in miniature: the chaos scenarios break its records, table and views.

Faults in a custom addon are met differently from core ones (no other module
owns its views, its table has no core data), so some scenarios target this
model instead of a core one.
"""

from odoo import fields, models


class SelfHealingChaosDeliverySlot(models.Model):
    _name = "self_healing_chaos.delivery_slot"
    _description = "Chaos Delivery Slot"
    _order = "id"

    name = fields.Char(required=True)
    capacity = fields.Integer(default=10)
    note = fields.Char()
