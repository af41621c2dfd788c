from odoo import fields, models


class SelfHealingOccurrenceWorkflow(models.Model):
    """Which incident's fingerprint an occurrence came with, so that a merge can be undone."""

    _inherit = "self_healing.occurrence"

    origin_incident_id = fields.Many2one(
        "self_healing.incident",
        string="Fingerprint of",
        readonly=True,
        index=True,
        ondelete="set null",
        help="The incident whose fingerprint this signal had; it differs from the incident after a merge.",
    )
    company_id = fields.Many2one(related="user_id.company_id", string="Company of the user", store=False)
    # Stored so that the graph and pivot views group occurrences by them.
    module = fields.Char(related="incident_id.module", store=True, string="Module")
    error_class = fields.Selection(related="incident_id.error_class", store=True, string="Root-Cause Class")
