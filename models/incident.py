from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..compat import Constraint
from ..engine.decide import lifecycle
from ..engine.detect.signal import HUMAN_SOURCES, SOURCE_LABELS
from ..engine.library import error_classes

SEVERITIES = [("low", "Low"), ("medium", "Medium"), ("high", "High"), ("critical", "Critical")]
# What the server observed and decided: the healing loop trusts these, so only it writes them.
SERVER_FIELDS = frozenset(
    {
        "state",
        "source",
        "fingerprint",
        "sample_traceback",
        "exception_type",
        "message_template",
        "first_seen",
        "last_seen",
        "occurrence_count",
        "occurrence_ids",
        "fix_attempt_ids",
        "match_score",
        "match_evidence",
        "confidence",
        "regression_count",
        "healed_at",
        "transient",
        "to_process",
        "decision",
    }
)
# A person may describe an incident by hand; it is then a human source (see HUMAN_SOURCES).
HAND_MADE_FIELDS = frozenset({"fingerprint", "sample_traceback", "exception_type", "message_template"})


class SelfHealingIncident(models.Model):
    """All occurrences of one fault (one fingerprint) in this database."""

    _name = "self_healing.incident"
    _description = "Self-Healing Incident"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "last_seen desc, id desc"

    name = fields.Char(string="Title", required=True, tracking=True)
    fingerprint = fields.Char(required=True, index=True, readonly=True, copy=False)
    state = fields.Selection(
        lifecycle.INCIDENT_STATES, default="new", required=True, index=True, tracking=True, readonly=True
    )
    error_class = fields.Selection(
        selection=lambda self: error_classes.selection(),
        default=error_classes.UNKNOWN,
        required=True,
        index=True,
        tracking=True,
    )
    severity = fields.Selection(SEVERITIES, default="medium", required=True, index=True, tracking=True)
    source = fields.Selection(
        list(SOURCE_LABELS.items()),
        default="manual",
        required=True,
        index=True,
    )
    exception_type = fields.Char(index=True)
    message_template = fields.Text()
    module = fields.Char(string="Affected Module", index=True)
    sample_traceback = fields.Text(readonly=True)
    first_seen = fields.Datetime(required=True, default=fields.Datetime.now, readonly=True)
    last_seen = fields.Datetime(required=True, default=fields.Datetime.now, readonly=True, index=True)
    occurrence_count = fields.Integer(default=1, readonly=True, aggregator="sum")
    occurrence_ids = fields.One2many("self_healing.occurrence", "incident_id", readonly=True)
    guardrail_id = fields.Many2one("self_healing.guardrail", string="Matched Guardrail", index=True, tracking=True)
    match_score = fields.Float(digits=(3, 3), readonly=True)
    match_evidence = fields.Json(readonly=True)
    confidence = fields.Float(digits=(3, 3), readonly=True, tracking=True, aggregator="avg")
    fix_attempt_ids = fields.One2many("self_healing.fix.attempt", "incident_id", string="Fix Attempts")
    fix_attempt_count = fields.Integer(compute="_compute_fix_attempt_count")
    regression_count = fields.Integer(
        readonly=True, copy=False, help="How often this fault came back after it was healed."
    )
    healed_at = fields.Datetime(readonly=True, copy=False)
    transient = fields.Boolean(
        readonly=True, help="The fault is expected to clear by itself (serialization, lock timeouts)."
    )
    company_id = fields.Many2one("res.company", index=True)
    color = fields.Integer(compute="_compute_color")

    _fingerprint_unique = Constraint("unique(fingerprint)", "One incident per fingerprint.")
    _occurrence_count_positive = Constraint("CHECK(occurrence_count >= 1)", "An incident has at least one occurrence.")
    _confidence_range = Constraint("CHECK(confidence >= 0 AND confidence <= 1)", "Confidence lies between 0 and 1.")
    _seen_order = Constraint(
        "CHECK(first_seen <= last_seen)", "An incident cannot be last seen before it was first seen."
    )

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                refused = sorted(set(vals) & (SERVER_FIELDS - HAND_MADE_FIELDS - {"source"}))
                if refused or vals.get("source", "manual") not in HUMAN_SOURCES:
                    raise AccessError(
                        _(
                            "An incident made by hand is a manual report; %(fields)s are recorded by the server.",
                            fields=", ".join(refused or ["source"]),
                        )
                    )
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su:
            refused = sorted(set(vals) & SERVER_FIELDS)
            if refused:
                raise AccessError(
                    _(
                        "%(fields)s of an incident are recorded by the server; use the incident's actions.",
                        fields=", ".join(refused),
                    )
                )
        return super().write(vals)

    @api.depends("fix_attempt_ids")
    def _compute_fix_attempt_count(self):
        for incident in self:
            incident.fix_attempt_count = len(incident.fix_attempt_ids)

    @api.depends("state", "severity")
    def _compute_color(self):
        colors = {"healed": 10, "failed": 1, "escalated": 2, "awaiting_approval": 3, "ignored": 0}
        for incident in self:
            incident.color = colors.get(incident.state, 4 if incident.severity == "critical" else 0)

    def _set_state(self, target, note=None):
        """Move along the lifecycle, refusing moves it does not allow, and say why in the chatter."""
        labels = dict(lifecycle.INCIDENT_STATES)
        for incident in self:
            if incident.state == target:
                continue
            try:
                lifecycle.check_incident_transition(incident.state, target)
            except lifecycle.TransitionError as exc:
                raise UserError(
                    _(
                        "Incident %(name)s cannot go from %(current)s to %(target)s.",
                        name=incident.display_name,
                        current=labels[incident.state],
                        target=labels[target],
                    )
                ) from exc
            values = {"state": target}
            if target == "healed":
                values["healed_at"] = fields.Datetime.now()
            # The caller checked the right to make this move (approver action or the healing loop).
            incident.sudo().write(values)
            if note:
                incident.message_post(body=note, subtype_xmlid="mail.mt_note")

    def unlink(self):
        # The database cascade would drop the fix attempts without their activities and messages.
        self.with_context(active_test=False).fix_attempt_ids.sudo().unlink()
        return super().unlink()

    def _check_approver(self):
        # Checked before the lifecycle: a refused move must not hide a missing right.
        if not (self.env.su or self.env.user.has_group("self_healing.group_self_healing_approver")):
            raise AccessError(_("Only Self-Healing approvers can change the state of an incident."))

    def action_ignore(self):
        self._check_approver()
        self._set_state("ignored", _("Ignored by %s.", self.env.user.name))

    def action_escalate(self):
        self._check_approver()
        self._set_state("escalated", _("Escalated by %s.", self.env.user.name))

    def action_reopen(self):
        self._check_approver()
        self._set_state("new", _("Reopened by %s.", self.env.user.name))

    def action_mark_healed(self):
        self._check_approver()
        self._set_state("healed", _("Marked as healed by %s.", self.env.user.name))

    def action_view_fix_attempts(self):
        self.ensure_one()
        self.check_access("read")
        return {
            "type": "ir.actions.act_window",
            "name": _("Fix Attempts"),
            "res_model": "self_healing.fix.attempt",
            "view_mode": "list,form",
            "domain": [("incident_id", "=", self.id)],
            "context": {"default_incident_id": self.id},
        }
