from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.release import series as odoo_series

from ..engine.learn import guardrail_candidate
from ..engine.library import error_classes
from ..engine.library.error_classes import UNKNOWN


class SelfHealingRecordFix(models.TransientModel):
    """What a person did to fix an incident, kept as a knowledge entry (the learning loop)."""

    _name = "self_healing.record.fix"
    _description = "Self-Healing: Record the Fix"

    incident_id = fields.Many2one("self_healing.incident", required=True, readonly=True, ondelete="cascade")
    title = fields.Char(required=True)
    problem = fields.Text(string="What was wrong", required=True)
    solution = fields.Text(string="What was done", required=True)
    error_class = fields.Selection(selection=lambda self: error_classes.selection(), string="Root-Cause Class")
    guardrail_id = fields.Many2one("self_healing.guardrail", string="Guardrail")
    propose_guardrail = fields.Boolean(
        string="Propose a Guardrail",
        help="No guardrail knows this fault: draft one from the incident's fingerprint for a manager to review.",
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        incident = self.env["self_healing.incident"].browse(
            values.get("incident_id") or self.env.context.get("active_id")
        )
        if incident.exists():
            values.setdefault("incident_id", incident.id)
            values.setdefault("title", incident.name)
            values.setdefault(
                "problem",
                incident.sample_traceback
                or ": ".join(part for part in (incident.exception_type, incident.message_template) if part)
                or incident.name,
            )
            if incident.error_class and incident.error_class != UNKNOWN:
                values.setdefault("error_class", incident.error_class)
            values.setdefault("guardrail_id", incident.guardrail_id.id)
            values.setdefault("propose_guardrail", not incident.guardrail_id)
        return values

    @api.onchange("guardrail_id")
    def _onchange_guardrail_id(self):
        if self.guardrail_id:
            self.error_class = self.guardrail_id.error_class
            self.propose_guardrail = False

    def action_record(self):
        self.ensure_one()
        entry = self._create_entry()
        body = _("Fix recorded in the knowledge base: %s", entry.name)
        if self.propose_guardrail and not self.guardrail_id:
            candidate = self._create_candidate(entry)
            body = _("%(fix)s Guardrail candidate %(code)s drafted for review.", fix=body, code=candidate.code)
        self.incident_id.message_post(body=body, subtype_xmlid="mail.mt_note")
        return {
            "type": "ir.actions.act_window",
            "res_model": "self_healing.knowledge.entry",
            "res_id": entry.id,
            "view_mode": "form",
            "target": "current",
        }

    def _create_entry(self):
        # Approvers record fixes but may not edit the knowledge base itself:
        # this wizard is their only way in, and it writes one human_fix entry.
        return (
            self.env["self_healing.knowledge.entry"]
            .sudo()
            .create(
                {
                    "name": self.title,
                    "problem": self.problem,
                    "solution": self.solution,
                    "source": "human_fix",
                    "error_class": self.error_class or False,
                    "guardrail_id": self.guardrail_id.id or False,
                    "incident_id": self.incident_id.id,
                }
            )
        )

    def _create_candidate(self, entry):
        """A draft guardrail (origin 'learned') that only a manager can activate."""
        Guardrail = self.env["self_healing.guardrail"].sudo().with_context(active_test=False)
        incident = self.incident_id
        codes = Guardrail.search([("code", "=like", guardrail_candidate.LEARNED_PREFIX + "%")]).mapped("code")
        try:
            code = guardrail_candidate.next_learned_code(codes)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        draft = guardrail_candidate.candidate_entry(
            code=code,
            title=self.title,
            error_class=self.error_class or UNKNOWN,
            exception_type=incident.exception_type,
            message_template=incident.message_template,
            problem=self.problem,
            solution=self.solution,
            module=incident.module,
            odoo_version=odoo_series,
        )
        candidate = Guardrail.create(
            {
                "code": code,
                "name": draft["title"],
                "error_class": draft["error_class"],
                "signals": draft["signals"],
                "root_cause": draft["root_cause"],
                "fix_steps": "\n".join(draft["fix_steps"]),
                "risk": draft["risk"],
                "critical": draft["critical"],
                "scope_modules": ",".join(draft["scope"]["modules"]),
                "odoo_versions": ",".join(draft["odoo_versions"]),
                "references": _("Learned from incident %(name)s (#%(id)s)", name=incident.name, id=incident.id),
                "origin": "learned",
                "state": "draft",
            }
        )
        entry.guardrail_id = candidate
        return candidate
