from odoo import fields, models

from ..compat import Constraint


class SelfHealingOccurrence(models.Model):
    """One signal: a single time a fault was observed."""

    _name = "self_healing.occurrence"
    _description = "Self-Healing Occurrence"
    _order = "occurred_at desc, id desc"
    _rec_name = "occurred_at"

    incident_id = fields.Many2one("self_healing.incident", required=True, ondelete="cascade", index=True)
    occurred_at = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    source = fields.Selection(related="incident_id.source", store=False)
    signal_source = fields.Char(required=True, default="manual")
    level = fields.Char(default="ERROR")
    logger = fields.Char()
    message = fields.Text()
    traceback = fields.Text()
    dbname = fields.Char(string="Database")
    user_id = fields.Many2one("res.users", ondelete="set null")
    request_path = fields.Char()
    extra = fields.Json(help="Source-specific facts: cron id, mail id, duration, query count.")
    # Messages, users and URLs of one company's work: the multi-company rule hides them from the others.
    company_id = fields.Many2one("res.company", index=True, readonly=True)

    _level_known = Constraint(
        "CHECK(level IN ('DEBUG','INFO','WARNING','ERROR','CRITICAL'))",
        "The level must be a Python logging level name.",
    )
