import hashlib
import json
import logging
import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .. import autopatches
from ..compat import Constraint
from ..engine.library import error_classes
from ..engine.library import guardrails as library_engine
from ..engine.match import classifier as classifier_engine

_logger = logging.getLogger(__name__)

# Fields that describe the fault; a manager editing one of them makes the record "user modified",
# and later library updates then leave it alone.
CONTENT_FIELDS = {
    "name",
    "error_class",
    "signals",
    "signals_text",
    "root_cause",
    "fix_steps",
    "autopatch_code",
    "autopatch_params",
    "risk",
    "critical",
    "scope_models",
    "scope_modules",
    "odoo_versions",
    "version_notes",
    "references",
}
LIBRARY_SYNC = "self_healing_library_sync"
# Classifiers built from the active guardrails, per database, keyed by what would change them.
_classifier_cache = {}

RISKS = [("low", "Low"), ("medium", "Medium"), ("high", "High")]


def registered_specs():
    """What each registered auto-patch accepts, from the patches themselves."""
    return library_engine.autopatch_specs(autopatches.base.describe_all())


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
    library_hash = fields.Char(copy=False, help="Hash of the shipped definition last synced into this record.")
    user_modified = fields.Boolean(
        copy=False, help="Edited here: updates of the shipped library no longer overwrite it."
    )
    library_update_available = fields.Boolean(
        copy=False, help="The shipped library has a newer definition that was not applied because of local edits."
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

    _code_unique = Constraint("unique(code)", "A guardrail code must be unique.")
    _counts_positive = Constraint("CHECK(success_count >= 0 AND failure_count >= 0)", "Counts cannot be negative.")
    _confidence_range = Constraint("CHECK(confidence >= 0 AND confidence <= 1)", "Confidence lies between 0 and 1.")

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
                            _(
                                "Guardrail %(code)s: invalid regex %(pattern)r (%(error)s).",
                                code=guardrail.code,
                                pattern=pattern,
                                error=exc,
                            )
                        ) from exc

    @api.constrains("state", *sorted(CONTENT_FIELDS - {"signals_text"}))
    def _check_engine_rules(self):
        """An active guardrail must pass the same checks as the shipped library files."""
        for guardrail in self.filtered(lambda record: record.state == "active"):
            try:
                checked = library_engine.check_entry(guardrail._to_library_entry())
                library_engine.check_autopatches([checked], registered_specs())
            except library_engine.LibraryError as exc:
                raise ValidationError(
                    _("Guardrail %(code)s cannot be active: %(reason)s", code=guardrail.code, reason=exc)
                ) from exc

    def write(self, vals):
        if not self.env.context.get(LIBRARY_SYNC) and CONTENT_FIELDS & set(vals):
            vals = dict(vals, user_modified=True)
        return super().write(vals)

    # ------------------------------------------------------------------
    # The shipped library (data/guardrails) <-> records
    # ------------------------------------------------------------------

    @api.model
    def _values_from_library(self, guardrail):
        return {
            "code": guardrail.code,
            "name": guardrail.title,
            "error_class": guardrail.error_class,
            "signals": guardrail.as_dict()["signals"],
            "root_cause": guardrail.root_cause,
            "fix_steps": "\n".join(guardrail.fix_steps),
            "autopatch_code": guardrail.autopatch or False,
            "autopatch_params": guardrail.autopatch_params or False,
            "risk": guardrail.risk,
            "critical": guardrail.critical,
            "scope_models": ",".join(guardrail.scope.get("models", ())),
            "scope_modules": ",".join(guardrail.scope.get("modules", ())),
            "odoo_versions": ",".join(guardrail.odoo_versions),
            "version_notes": guardrail.version_notes,
            "references": "\n".join(guardrail.references),
        }

    def _to_library_entry(self):
        """The record as a library dict, for the engine's checks and classifier."""
        self.ensure_one()

        def split(text, sep=","):
            return [part.strip() for part in (text or "").split(sep) if part.strip()]

        entry = {
            "code": self.code,
            "error_class": self.error_class,
            "title": self.name or "",
            "signals": self.signals or {},
            "root_cause": self.root_cause or "",
            "fix_steps": split(self.fix_steps, "\n"),
            "autopatch": self.autopatch_code or None,
            "risk": self.risk,
            "critical": self.critical,
            "scope": {"models": split(self.scope_models), "modules": split(self.scope_modules)},
            "odoo_versions": split(self.odoo_versions),
            "version_notes": self.version_notes or "",
            "references": split(self.references, "\n"),
        }
        if self.autopatch_params:
            entry["autopatch_params"] = self.autopatch_params
        return entry

    @staticmethod
    def _library_hash(guardrail):
        return hashlib.sha1(json.dumps(guardrail.as_dict(), sort_keys=True).encode()).hexdigest()

    @api.model
    def _sync_library(self):
        """Create or update records from the shipped library; never overwrite local edits.

        Runs at install and at every module update (data/guardrail_library.xml).
        """
        library = library_engine.load_library()
        library_engine.check_autopatches(library.guardrails, registered_specs())
        existing = {
            record.code: record
            for record in self.with_context(active_test=False).search([("code", "in", list(library.by_code))])
        }
        sync = self.with_context(**{LIBRARY_SYNC: True}, tracking_disable=True)
        created = updated = kept = 0
        for guardrail in library.guardrails:
            shipped_hash = self._library_hash(guardrail)
            record = existing.get(guardrail.code)
            if not record:
                sync.create(
                    dict(
                        self._values_from_library(guardrail),
                        origin="library",
                        state="active",
                        library_hash=shipped_hash,
                    )
                )
                created += 1
            elif record.library_hash == shipped_hash:
                continue
            elif record.user_modified:
                record.with_context(**{LIBRARY_SYNC: True}).library_update_available = True
                kept += 1
            else:
                record.with_context(**{LIBRARY_SYNC: True}).write(
                    dict(
                        self._values_from_library(guardrail), library_hash=shipped_hash, library_update_available=False
                    )
                )
                updated += 1
        _logger.info("guardrail library: %d created, %d updated, %d kept with local edits", created, updated, kept)
        return {"created": created, "updated": updated, "kept": kept}

    @api.model
    def _classifier(self):
        """A classifier over the active guardrails of this database, rebuilt only when they change."""
        self.flush_model()
        self.env.cr.execute(
            "SELECT md5(string_agg(id || ':' || write_date, ',' ORDER BY id)) FROM self_healing_guardrail"
            " WHERE state = 'active' AND active"
        )
        key = (self.env.cr.dbname, *self.env.cr.fetchone())
        cached = _classifier_cache.get(self.env.cr.dbname)
        if cached and cached[0] == key:
            return cached[1]
        entries = []
        for guardrail in self.search([("state", "=", "active")]):
            try:
                entries.append(library_engine.check_entry(guardrail._to_library_entry()).as_dict())
            except library_engine.LibraryError as exc:
                # The constraint keeps active records valid; a record broken by SQL must not stop matching.
                _logger.warning("guardrail %s skipped by the classifier: %s", guardrail.code, exc)
        classifier = classifier_engine.Classifier(library_engine.library_from_entries(entries))
        _classifier_cache[self.env.cr.dbname] = (key, classifier)
        return classifier

    def action_apply_library_update(self):
        """Drop local edits and take the shipped definition."""
        library = library_engine.load_library()
        for record in self:
            guardrail = library.by_code.get(record.code)
            if guardrail:
                record.with_context(**{LIBRARY_SYNC: True}).write(
                    dict(
                        self._values_from_library(guardrail),
                        library_hash=self._library_hash(guardrail),
                        user_modified=False,
                        library_update_available=False,
                    )
                )

    def action_activate(self):
        self.write({"state": "active"})

    def action_retire(self):
        self.write({"state": "retired"})

    def action_draft(self):
        self.write({"state": "draft"})
