from odoo import _, api, fields, models

from ..engine.decide import autonomy as autonomy_engine
from ..engine.decide import policy as policy_engine
from .guardrail import LIBRARY_SYNC

PROMOTE_AFTER_PARAM = "self_healing.autonomy_promote_after"
AUTONOMY_STEPS = [
    (policy_engine.OBSERVE, "Observe (dry run)"),
    (policy_engine.APPROVE, "Approve"),
    (policy_engine.AUTO, "Auto"),
]


class SelfHealingGuardrailAutonomy(models.Model):
    """The autonomy ladder of a guardrail and the score card its outcomes move it by."""

    _inherit = "self_healing.guardrail"

    autonomy = fields.Selection(
        AUTONOMY_STEPS,
        string="Autonomy",
        default=policy_engine.AUTO,
        required=True,
        tracking=True,
        copy=False,
        help="The most its fixes may do alone: Observe only plans them (dry run), Approve asks a human "
        "for each, Auto lets the confidence and the safety rules decide. A failure, a rollback or a "
        "recurrence moves it one step down; successes in a row move it up. Critical guardrails never "
        "go beyond Approve.",
    )
    autonomy_pinned = fields.Boolean(
        string="Pinned",
        tracking=True,
        copy=False,
        help="An administrator fixed the step (choosing a step pins it): outcomes no longer move it.",
    )
    autonomy_streak = fields.Integer(
        readonly=True, copy=False, help="Successes in a row since the last move of the ladder."
    )
    score_runs = fields.Integer(string="Runs", compute="_compute_score_card")
    score_healed = fields.Integer(string="Healed", compute="_compute_score_card")
    score_rolled_back = fields.Integer(string="Rolled Back", compute="_compute_score_card")
    score_failed = fields.Integer(string="Failed", compute="_compute_score_card")
    score_recurred = fields.Integer(string="Recurred", compute="_compute_score_card")
    score_last_failure = fields.Datetime(string="Last Failure", compute="_compute_score_card")
    score_last_failure_reason = fields.Text(string="Why It Failed", compute="_compute_score_card")

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if "autonomy" not in vals:
                vals["autonomy"] = autonomy_engine.start_step(bool(vals.get("critical")))
        records = super().create(vals_list)
        records._cap_critical_autonomy()
        return records

    def write(self, vals):
        if "autonomy" in vals and not self.env.context.get(LIBRARY_SYNC) and "autonomy_pinned" not in vals:
            # A person choosing the step pins it there: the outcomes would otherwise undo the choice.
            vals = dict(vals, autonomy_pinned=True, autonomy_streak=0)
        result = super().write(vals)
        if "critical" in vals or "autonomy" in vals:
            self._cap_critical_autonomy()
        return result

    @api.model
    def _sync_library(self):
        result = super()._sync_library()
        # Records made before the ladder existed, or made critical by the update, start capped.
        self.with_context(active_test=False).search([("critical", "=", True)])._cap_critical_autonomy()
        return result

    def _cap_critical_autonomy(self):
        """Critical scopes always wait for approval: their ladder stops at Approve, pinned or not."""
        for guardrail in self.filtered(lambda record: record.critical and record.autonomy == policy_engine.AUTO):
            guardrail.with_context(**{LIBRARY_SYNC: True}).autonomy = policy_engine.APPROVE

    @api.depends("autonomy")
    def _compute_score_card(self):
        Attempt = self.env["self_healing.fix.attempt"].sudo()
        for guardrail in self:
            attempts = Attempt.search(
                [("guardrail_id", "=", guardrail.id or 0), ("dry_run", "=", False)], order="id desc"
            )
            ran = attempts.filtered(lambda attempt: attempt.state in ("validated", "failed", "rolled_back"))
            failures = ran.filtered(lambda attempt: attempt.outcome_label == "failed")
            guardrail.score_runs = len(ran)
            guardrail.score_healed = len(ran.filtered(lambda attempt: attempt.outcome_label == "healed"))
            guardrail.score_rolled_back = len(ran.filtered(lambda attempt: attempt.state == "rolled_back"))
            guardrail.score_failed = len(ran.filtered(lambda attempt: attempt.state == "failed"))
            guardrail.score_recurred = len(ran.filtered("recurred"))
            last = failures[:1]
            guardrail.score_last_failure = last.outcome_labelled_at or last.applied_at or last.create_date or False
            guardrail.score_last_failure_reason = last.outcome_reason or False

    @api.model
    def _promote_after(self):
        value = self.env["ir.config_parameter"].sudo().get_param(PROMOTE_AFTER_PARAM)
        try:
            return max(1, int(value or autonomy_engine.DEFAULT_PROMOTE_AFTER))
        except ValueError:
            return autonomy_engine.DEFAULT_PROMOTE_AFTER

    def _autonomy_outcome(self, event, detail=""):
        """Move the ladder by one outcome (engine/decide/autonomy.py) and say why in the chatter."""
        promote_after = self._promote_after()
        for guardrail in self.sudo():
            move = autonomy_engine.after(
                guardrail.autonomy,
                event,
                streak=guardrail.autonomy_streak,
                pinned=guardrail.autonomy_pinned,
                critical=guardrail.critical,
                promote_after=promote_after,
                detail=detail,
            )
            values = {"autonomy_streak": move.streak}
            if move.step != guardrail.autonomy:
                values["autonomy"] = move.step
            guardrail.with_context(**{LIBRARY_SYNC: True}, tracking_disable=True).write(values)
            if move.moved:
                labels = dict(self._fields["autonomy"]._description_selection(self.env))
                guardrail.message_post(
                    body=_(
                        "Autonomy: %(step)s. %(reason)s.",
                        step=labels[move.step],
                        reason=move.reason[:1].upper() + move.reason[1:],
                    )
                )
            elif event in autonomy_engine.SETBACKS and guardrail.autonomy_pinned:
                guardrail.message_post(
                    body=_(
                        "Autonomy stays pinned on %(step)s although %(event)s (%(detail)s).",
                        step=guardrail.autonomy,
                        event=event.replace("_", " "),
                        detail=detail or _("no detail"),
                    )
                )

    def action_autonomy_pin(self):
        self.write({"autonomy_pinned": True})

    def action_autonomy_unpin(self):
        self.write({"autonomy_pinned": False, "autonomy_streak": 0})
