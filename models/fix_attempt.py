import hashlib
import json

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..autopatches import runner, transient_watch
from ..autopatches.errors import AttemptBusy, NotRunnable, RollbackRefused
from ..compat import Constraint
from ..engine.decide import lifecycle

APPROVER_GROUP = "self_healing.group_self_healing_approver"
MANAGER_GROUP = "self_healing.group_self_healing_manager"


class SelfHealingFixAttempt(models.Model):
    """Fix history: one try at healing an incident, with its outcome and why it was made."""

    _name = "self_healing.fix.attempt"
    _description = "Self-Healing Fix Attempt"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "create_date desc, id desc"

    name = fields.Char(compute="_compute_name", store=True)
    incident_id = fields.Many2one("self_healing.incident", required=True, ondelete="cascade", index=True)
    guardrail_id = fields.Many2one("self_healing.guardrail", ondelete="set null", index=True)
    autopatch_code = fields.Char(string="Auto-Patch", index=True)
    params = fields.Json(string="Parameters")
    mode = fields.Selection(
        [("auto", "Automatic"), ("approved", "Approved"), ("manual", "Manual")],
        default="manual",
        required=True,
    )
    state = fields.Selection(
        lifecycle.ATTEMPT_STATES, default="proposed", required=True, index=True, tracking=True, readonly=True
    )
    dry_run = fields.Boolean(readonly=True)
    confidence_before = fields.Float(digits=(3, 3), readonly=True)
    confidence_after = fields.Float(digits=(3, 3), readonly=True)
    confidence_terms = fields.Json(readonly=True, help="Every term of the confidence and its weight.")
    decision_reasons = fields.Text(readonly=True)
    plan_preview = fields.Text(readonly=True, help="What the fix will do, computed without side effects.")
    diagnosis = fields.Json(
        readonly=True,
        help="What the auto-patch found in the live database before running: verdict, evidence, blast radius.",
    )
    backup_ids = fields.One2many("self_healing.backup", "attempt_id", readonly=True)
    outcome = fields.Text(readonly=True)
    error = fields.Text(readonly=True)
    detected_at = fields.Datetime(readonly=True)
    applied_at = fields.Datetime(readonly=True)
    healed_at = fields.Datetime(readonly=True)
    rolled_back_at = fields.Datetime(readonly=True)
    duration = fields.Float(string="Duration (s)", readonly=True, digits=(12, 3))
    approver_id = fields.Many2one("res.users", readonly=True)
    approval_note = fields.Text(readonly=True)
    odoo_version = fields.Char(readonly=True)
    module = fields.Char(readonly=True)
    company_id = fields.Many2one(related="incident_id.company_id", store=True, index=True)
    can_apply = fields.Boolean(compute="_compute_can_apply")
    can_rollback = fields.Boolean(compute="_compute_can_rollback")

    _confidence_before_range = Constraint(
        "CHECK(confidence_before >= 0 AND confidence_before <= 1)", "Confidence lies between 0 and 1."
    )
    _confidence_after_range = Constraint(
        "CHECK(confidence_after >= 0 AND confidence_after <= 1)", "Confidence lies between 0 and 1."
    )
    _duration_positive = Constraint("CHECK(duration >= 0)", "A duration cannot be negative.")

    @api.model
    def _user_writable_fields(self):
        """Chatter and activities only: what a fix runs, its state and outcome are the server's to write."""
        return set(self.env["mail.thread"]._fields) | set(self.env["mail.activity.mixin"]._fields)

    @api.model_create_multi
    def create(self, vals_list):
        # env.su is never granted over RPC: fix attempts come from the healing loop, not from a user.
        if not self.env.su:
            raise AccessError(_("Fix attempts are proposed by the healing loop; they cannot be created by hand."))
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su:
            protected = sorted(set(vals) - self._user_writable_fields())
            if protected:
                raise AccessError(
                    _(
                        "%(fields)s of a fix attempt change only through its actions (review, apply, roll back).",
                        fields=", ".join(protected),
                    )
                )
        return super().write(vals)

    def unlink(self):
        # The fix history feeds the circuit breaker and the guardrails' success rates: it is kept.
        if not self.env.su:
            raise AccessError(_("The fix history cannot be deleted."))
        return super().unlink()

    @api.depends("incident_id.name", "autopatch_code")
    def _compute_name(self):
        for attempt in self:
            attempt.name = "%s / %s" % (attempt.autopatch_code or _("manual fix"), attempt.incident_id.name or "")

    @api.depends("state", "mode", "autopatch_code")
    def _compute_can_apply(self):
        for attempt in self:
            attempt.can_apply = bool(attempt.autopatch_code) and runner.is_runnable(attempt)

    @api.depends("state", "backup_ids")
    def _compute_can_rollback(self):
        # Expired backups still show the button: the refusal says why, which a hidden button would not.
        for attempt in self:
            attempt.can_rollback = attempt.state in runner.ROLLBACK_STATES and bool(attempt.sudo().backup_ids)

    def _set_state(self, target, **values):
        labels = dict(lifecycle.ATTEMPT_STATES)
        for attempt in self:
            try:
                lifecycle.check_attempt_transition(attempt.state, target)
            except lifecycle.TransitionError as exc:
                raise UserError(
                    _(
                        "Fix attempt %(name)s cannot go from %(current)s to %(target)s.",
                        name=attempt.display_name,
                        current=labels[attempt.state],
                        target=labels[target],
                    )
                ) from exc
            # The caller checked the right to make this move (approver, manager, or the healing loop).
            attempt.sudo().write(dict(values, state=target))

    def _check_approver(self):
        if not self.env.user.has_group(APPROVER_GROUP):
            raise AccessError(_("Only Self-Healing approvers can approve or reject a fix."))

    def _plan_digest(self):
        """One digest of what these attempts would run: approving binds to exactly this version."""
        content = [
            [attempt.id, attempt.state, attempt.autopatch_code or "", attempt.params or {}, attempt.plan_preview or ""]
            for attempt in self.sudo().sorted("id")
        ]
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()

    def _approve(self, note=None, plan_digest=None):
        """Approve (and, in the review model, run) these attempts.

        ``plan_digest`` is the version the approver looked at (``_plan_digest`` when the
        review opened): the approval is refused when the attempts changed since.
        """
        self._check_approver()
        for attempt in self:
            try:
                runner.lock(attempt, wait=runner.APPROVAL_LOCK_WAIT)
            except AttemptBusy as exc:
                raise UserError(
                    _("%(name)s is being handled right now: %(reason)s", name=attempt.display_name, reason=exc)
                ) from exc
        if plan_digest is not None and plan_digest != self._plan_digest():
            raise UserError(
                _("The fix changed since you opened it (another approver, or a new plan): review it again.")
            )
        self._set_state("approved", approver_id=self.env.uid, approval_note=note, mode="approved")
        for attempt in self:
            attempt.message_post(body=_("Approved by %(user)s. %(note)s", user=self.env.user.name, note=note or ""))
        self.activity_feedback(["mail.mail_activity_data_todo"], feedback=note or _("Approved"))

    def _reject(self, note=None):
        self._check_approver()
        self._set_state("rejected", approver_id=self.env.uid, approval_note=note)
        for attempt in self:
            attempt.message_post(body=_("Rejected by %(user)s. %(note)s", user=self.env.user.name, note=note or ""))
        self.activity_feedback(["mail.mail_activity_data_todo"], feedback=note or _("Rejected"))

    def action_open_approval(self):
        self._check_approver()
        return {
            "type": "ir.actions.act_window",
            "name": _("Review Fix"),
            "res_model": "self_healing.fix.approval",
            "view_mode": "form",
            "target": "new",
            "context": {"default_attempt_ids": self.ids},
        }

    def _check_manager(self):
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_("Only Self-Healing managers can apply or roll back a fix."))

    def action_apply(self):
        """Run the auto-patch now (approved attempts, or proposed ones in automatic mode)."""
        self._check_manager()
        results = []
        for attempt in self:
            try:
                results.append(runner.run_attempt(attempt))
            except (AttemptBusy, NotRunnable) as exc:
                raise UserError(_("Cannot apply %(name)s: %(reason)s", name=attempt.display_name, reason=exc)) from exc
        return self._notification(_("Fix"), results)

    def action_rollback(self):
        """Restore the pre-image kept in the backups, in one click."""
        self._check_manager()
        results = []
        for attempt in self:
            try:
                results.append(runner.rollback_attempt(attempt))
            except (RollbackRefused, AttemptBusy) as exc:
                raise UserError(
                    _("Cannot roll back %(name)s: %(reason)s", name=attempt.display_name, reason=exc)
                ) from exc
        return self._notification(_("Rollback"), results)

    def action_preview(self):
        """Compute the plan again (no side effect) and keep it on the attempt."""
        if not self.env.user.has_group(APPROVER_GROUP):
            raise AccessError(_("Only Self-Healing approvers can preview a fix."))
        for attempt in self:
            runner.preview_attempt(attempt)
        return True

    @api.model
    def _resolve_transient_incidents(self, now=None):
        """For the processing cron: heal watched transient incidents that stopped recurring."""
        return transient_watch.resolve_quiet_incidents(self.env, now=now)

    def _notification(self, title, results):
        failed = [result for result in results if not result.ok]
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": "\n".join(result.detail for result in results),
                "type": "danger" if failed else "success",
                "sticky": bool(failed),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
