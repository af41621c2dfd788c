from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine.library import error_classes
from .embedding_mixin import BATCH_SIZE

SOURCES = [
    ("forum", "Forum Thread"),
    ("kb_article", "KB Article"),
    ("human_fix", "Human Fix"),
    ("import", "Imported"),
    ("website_forum", "Website Forum"),
    ("github", "GitHub Issue / Pull Request"),
]
CONFIRMATIONS = [
    ("accepted_answer", "Accepted Answer"),
    ("merged_pr", "Merged Pull Request"),
    ("maintainer", "Maintainer's Statement"),
    ("reporter", "Reporter Confirmed"),
    ("documentation", "Official Documentation"),
]
# What a shipped case carries (engine SHIPPED_COMPARED): editing one of them here is a local edit.
SHIPPED_CONTENT_FIELDS = {
    "name",
    "problem",
    "solution",
    "url",
    "odoo_versions",
    "tags",
    "source",
    "error_class",
    "guardrail_id",
    "confirmed_by",
}
SHIPPED_SYNC = "self_healing_shipped_sync"
# The fields an entry is found by: changing one of them re-embeds the entry.
EMBEDDED_FIELDS = {"name", "problem"}


class SelfHealingKnowledgeEntry(models.Model):
    """A solved case: a forum thread, a KB article or a fix a human made here."""

    _name = "self_healing.knowledge.entry"
    _description = "Self-Healing Knowledge Entry"
    _inherit = ["self_healing.embedding.mixin"]
    _order = "write_date desc, id desc"

    name = fields.Char(string="Title", required=True)
    key = fields.Char(
        index=True, copy=False, help="Stable key of the source (URL or external id); imports are idempotent by it."
    )
    problem = fields.Text(required=True)
    solution = fields.Text()
    url = fields.Char(string="URL")
    odoo_versions = fields.Char(help="Comma-separated Odoo versions.")
    tags = fields.Char(help="Comma-separated tags.")
    source = fields.Selection(SOURCES, default="import", required=True, index=True)
    error_class = fields.Selection(selection=lambda self: error_classes.selection(), index=True)
    guardrail_id = fields.Many2one("self_healing.guardrail", ondelete="set null", index=True)
    incident_id = fields.Many2one(
        "self_healing.incident",
        ondelete="set null",
        index="btree_not_null",
        help="The incident whose human fix this entry records.",
    )
    confirmed_by = fields.Selection(
        CONFIRMATIONS, index=True, help="How the source confirmed the fix. Only confirmed cases count as support."
    )
    confirmed = fields.Boolean(
        compute="_compute_confirmed",
        store=True,
        index=True,
        help="The fix was confirmed by its source, or recorded here by a human after it worked.",
    )
    shipped_file = fields.Char(
        readonly=True, copy=False, help="The file of data/knowledge/cases this case was shipped in."
    )
    shipped_hash = fields.Char(readonly=True, copy=False, help="Fingerprint of the shipped text last synced.")
    user_modified = fields.Boolean(
        string="Edited Locally",
        readonly=True,
        copy=False,
        help="Edited here: updates of the shipped cases no longer overwrite it.",
    )
    shipped_update_available = fields.Boolean(
        readonly=True,
        copy=False,
        help="The shipped cases have a newer version of this one, not applied because of local edits.",
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [
        ("key_unique", "unique(key)", "A knowledge entry with this key already exists."),
    ]

    @api.depends("confirmed_by", "source")
    def _compute_confirmed(self):
        for entry in self:
            entry.confirmed = bool(entry.confirmed_by) or entry.source == "human_fix"

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
        entries = super().create(vals_list)
        self._trigger_embedding()
        return entries

    def write(self, vals):
        if not self.env.context.get(SHIPPED_SYNC) and SHIPPED_CONTENT_FIELDS & set(vals):
            shipped = self.filtered("shipped_file")
            if shipped and len(shipped) != len(self):
                return (self - shipped).write(vals) and shipped.write(vals)
            if shipped:
                vals = dict(vals, user_modified=True)
        if EMBEDDED_FIELDS & set(vals):
            vals = dict(vals, embedding_state="todo")
        result = super().write(vals)
        if vals.get("embedding_state") == "todo":
            self._trigger_embedding()
        return result

    def _embedding_text(self):
        self.ensure_one()
        return f"{self.name or ''}\n{self.problem or ''}"

    @api.model
    def _embedding_base_domain(self):
        return super()._embedding_base_domain() + [("active", "=", True)]

    @api.model
    def _embedding_queue_domain(self):
        # An archived entry is never searched: it gets its vector when it comes back (still "todo").
        return super()._embedding_queue_domain() + [("active", "=", True)]

    def action_reembed(self):
        """Queue the selected entries for a new vector (after a failure, say)."""
        self.write({"embedding_state": "todo", "embedding_error": False})

    # ------------------------------------------------------------------
    # The embedding job (data/ir_cron_knowledge.xml)

    @api.model
    def _cron_embed(self, batch_size=BATCH_SIZE):
        """One batch of the embedding queue: guardrail texts first, then knowledge entries.

        Vectors made with another provider (the settings changed) go back in
        the queue here, so the job re-embeds everything in the background;
        the job runner calls again while work remains.
        """
        vectors = self.env["self_healing.guardrail.vector"]
        vectors._sync_from_guardrails()
        queues = (vectors, self)
        for queue in queues:
            queue._embedding_requeue()
        done = 0
        for queue in queues:
            if done < batch_size:
                done += queue._embed_pending(batch_size - done)
        remaining = sum(queue._embedding_todo_count() for queue in queues)
        self._report_cron_progress(done, remaining)
        return {"done": done, "remaining": remaining}

    @api.model
    def _report_cron_progress(self, done, remaining):
        if not self.env.context.get("cron_id"):
            return  # called by hand or by a test: no job to report to
        cron = self.env["ir.cron"]
        if hasattr(cron, "_commit_progress"):  # 19.0
            cron._commit_progress(done, remaining=remaining)
        else:
            cron._notify_progress(done=done, remaining=remaining)
