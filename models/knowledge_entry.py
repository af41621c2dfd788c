from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine import error_classes

SOURCES = [
    ("forum", "Forum Thread"),
    ("kb_article", "KB Article"),
    ("human_fix", "Human Fix"),
    ("import", "Imported"),
    ("website_forum", "Website Forum"),
]


class SelfHealingKnowledgeEntry(models.Model):
    """A solved case: a forum thread, a KB article or a fix a human made here."""

    _name = "self_healing.knowledge.entry"
    _description = "Self-Healing Knowledge Entry"
    _order = "write_date desc, id desc"

    name = fields.Char(string="Title", required=True)
    key = fields.Char(index=True, help="Stable key of the source (URL or external id); imports are idempotent by it.")
    problem = fields.Text(required=True)
    solution = fields.Text()
    url = fields.Char(string="URL")
    odoo_versions = fields.Char(help="Comma-separated Odoo versions.")
    tags = fields.Char(help="Comma-separated tags.")
    source = fields.Selection(SOURCES, default="import", required=True, index=True)
    error_class = fields.Selection(selection=lambda self: error_classes.selection(), index=True)
    guardrail_id = fields.Many2one("self_healing.guardrail", ondelete="set null", index=True)
    incident_id = fields.Many2one(
        "self_healing.incident", ondelete="set null", index="btree_not_null",
        help="The incident whose human fix this entry records.",
    )
    embedding_model = fields.Char(readonly=True, copy=False, help="Provider/model of the stored vector.")
    embedding_dimension = fields.Integer(readonly=True, copy=False)
    embedding_state = fields.Selection(
        [("todo", "To Embed"), ("done", "Embedded"), ("failed", "Failed")],
        default="todo", required=True, readonly=True, copy=False, index=True,
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [
        ("key_unique", "unique(key)", "A knowledge entry with this key already exists."),
    ]

    @api.constrains("url")
    def _check_url(self):
        for entry in self:
            if entry.url and not entry.url.startswith(("http://", "https://")):
                raise ValidationError(_("The URL of %s must start with http:// or https://.", entry.name))

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get("key") and vals.get("url"):
                vals["key"] = vals["url"]
        return super().create(vals_list)

    def write(self, vals):
        if {"name", "problem", "solution"} & set(vals):
            vals = dict(vals, embedding_state="todo")
        return super().write(vals)
