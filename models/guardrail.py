import json
import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine import error_classes

RISKS = [("low", "Low"), ("medium", "Medium"), ("high", "High")]


class SelfHealingGuardrail(models.Model):
    """A known Odoo fault: how to recognise it, why it happens, how to fix it."""

    _name = "self_healing.guardrail"
    _description = "Self-Healing Guardrail"
    _inherit = ["mail.thread"]
    _order = "code"
    _rec_names_search = ["code", "name"]

    code = fields.Char(required=True, index=True, tracking=True, help="Stable identifier such as GR-SEQ-001.")
    name = fields.Char(string="Title", required=True, translate=True)
    error_class = fields.Selection(
        selection=lambda self: error_classes.selection(), required=True, index=True, tracking=True
    )
    signals = fields.Json(
        help="Detection signals: exception types, regexes that must all / any match, "
        "negative regexes that exclude look-alikes, logger and module hints."
    )
    signals_text = fields.Text(
        string="Detection Signals",
        compute="_compute_signals_text",
        inverse="_inverse_signals_text",
        help="The detection signals as JSON, for editing.",
    )
    root_cause = fields.Text(translate=True)
    fix_steps = fields.Text(translate=True, help="What an administrator does to fix it, step by step.")
    autopatch_code = fields.Char(
        string="Auto-Patch", index=True, help="Code of a registered auto-patch; nothing else ever runs."
    )
    autopatch_params = fields.Json(string="Auto-Patch Parameters")
    risk = fields.Selection(RISKS, default="medium", required=True)
    critical = fields.Boolean(help="A fix for this fault always waits for a human approval.", tracking=True)
    scope_models = fields.Char(help="Comma-separated models a fix may touch.")
    scope_modules = fields.Char(help="Comma-separated modules this fault concerns.")
    odoo_versions = fields.Char(help="Comma-separated Odoo versions, e.g. 17.0,18.0.")
    version_notes = fields.Text(translate=True)
    references = fields.Text(help="Issues, pull requests and articles, one per line.")
    state = fields.Selection(
        [("draft", "Draft"), ("active", "Active"), ("retired", "Retired")],
        default="draft",
        required=True,
        index=True,
        tracking=True,
    )
    origin = fields.Selection(
        [("library", "Shipped Library"), ("user", "Written Here"), ("learned", "Learned Candidate")],
        default="user",
        required=True,
    )
    library_hash = fields.Char(
        copy=False, help="Hash of the shipped definition last synced; differs when a user edited it."
    )
    success_count = fields.Integer(readonly=True, copy=False)
    failure_count = fields.Integer(readonly=True, copy=False)
    consecutive_failures = fields.Integer(readonly=True, copy=False)
    confidence = fields.Float(
        digits=(3, 3), readonly=True, copy=False, help="Current confidence in this guardrail's fix."
    )
    needs_review = fields.Boolean(copy=False, tracking=True)
    knowledge_entry_ids = fields.One2many("self_healing.knowledge.entry", "guardrail_id", string="Knowledge")
    knowledge_count = fields.Integer(compute="_compute_knowledge_count")
    incident_ids = fields.One2many("self_healing.incident", "guardrail_id")
    active = fields.Boolean(default=True)

    _sql_constraints = [
        ("code_unique", "unique(code)", "A guardrail code must be unique."),
        ("counts_positive", "CHECK(success_count >= 0 AND failure_count >= 0)", "Counts cannot be negative."),
        ("confidence_range", "CHECK(confidence >= 0 AND confidence <= 1)", "Confidence lies between 0 and 1."),
    ]

    @api.depends("signals")
    def _compute_signals_text(self):
        for guardrail in self:
            guardrail.signals_text = json.dumps(guardrail.signals or {}, indent=2, ensure_ascii=False)

    def _inverse_signals_text(self):
        for guardrail in self:
            try:
                guardrail.signals = json.loads(guardrail.signals_text or "{}")
            except ValueError as exc:
                raise ValidationError(_("Detection signals must be valid JSON: %s", exc)) from exc

    @api.depends("knowledge_entry_ids")
    def _compute_knowledge_count(self):
        for guardrail in self:
            guardrail.knowledge_count = len(guardrail.knowledge_entry_ids)

    @api.constrains("code")
    def _check_code(self):
        for guardrail in self:
            if not guardrail.code.strip() or " " in guardrail.code.strip():
                raise ValidationError(_("A guardrail code is one word such as GR-SEQ-001."))

    @api.constrains("signals")
    def _check_signals(self):
        for guardrail in self:
            signals = guardrail.signals or {}
            if not isinstance(signals, dict):
                raise ValidationError(_("Detection signals of %s must be a JSON object.", guardrail.code))
            for key in ("all_patterns", "any_patterns", "negative_patterns"):
                for pattern in signals.get(key) or []:
                    try:
                        re.compile(pattern)
                    except re.error as exc:
                        raise ValidationError(
                            _("Guardrail %(code)s: invalid regex %(pattern)r (%(error)s).",
                              code=guardrail.code, pattern=pattern, error=exc)
                        ) from exc

    def action_activate(self):
        self.write({"state": "active"})

    def action_retire(self):
        self.write({"state": "retired"})

    def action_draft(self):
        self.write({"state": "draft"})
