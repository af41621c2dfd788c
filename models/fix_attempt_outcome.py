import logging
from datetime import timedelta

from odoo import _, api, fields, models

from ..autopatches import base as autopatch_base
from ..autopatches import runner
from ..engine.decide import autonomy as autonomy_engine
from ..engine.detect.signal import HUMAN_SOURCES

SETTLING_PARAM = "self_healing.settling_window_seconds"
# A day: long enough for the nightly jobs and a working day of users to meet the fault again.
DEFAULT_SETTLING_SECONDS = 24 * 3600
_logger = logging.getLogger(__name__)
# healed_at keeps whole seconds and occurrences keep microseconds: an occurrence of the second
# the fix healed in may be the very one it was made for, so it counts as before the fix.
CLOCK_STEP = timedelta(seconds=1)
OUTCOME_LABELS = [("settling", "Settling"), ("healed", "Healed"), ("failed", "Failed")]


def params_key(params):
    """Fix parameters as compared: every value as text, the runner's ``incident_id`` left out."""
    return tuple(sorted((name, str(value)) for name, value in (params or {}).items() if name != "incident_id"))


def healed_by(attempt):
    """The first moment surely after ``attempt`` healed."""
    return attempt.healed_at + CLOCK_STEP


class SelfHealingFixAttemptOutcome(models.Model):
    """What happened after a fix, labelled by the database, not by a human.

    Healed: validated, and the incident's fingerprint did not come back within the settling
    window. Failed: the fix failed or was rolled back, or the fault came back inside the window.
    Each label moves the guardrail's autonomy ladder and its track record.
    """

    _inherit = "self_healing.fix.attempt"

    outcome_label = fields.Selection(
        OUTCOME_LABELS,
        string="Outcome Label",
        readonly=True,
        copy=False,
        index=True,
        help="Settling: validated, waiting to see whether the fault comes back. Healed: it did not within "
        "the settling window. Failed: the fix failed, was rolled back, or the fault recurred.",
    )
    outcome_labelled_at = fields.Datetime(readonly=True, copy=False)
    outcome_reason = fields.Text(readonly=True, copy=False)
    recurred = fields.Boolean(readonly=True, copy=False, help="The fault came back inside the settling window.")

    def _set_state(self, target, **values):
        result = super()._set_state(target, **values)
        for attempt in self.filtered(lambda record: not record.dry_run):
            if target == "validated" and not autopatch_base.watches_only(attempt.autopatch_code):
                # The settling window runs from the moment the fix was proven.
                attempt.write({"outcome_label": "settling", "healed_at": attempt.healed_at or fields.Datetime.now()})
            elif target in ("failed", "rolled_back"):
                event = autonomy_engine.ROLLED_BACK if target == "rolled_back" else autonomy_engine.FAILED
                attempt._label_failed(event, attempt.outcome or attempt.error or "")
        return result

    def _label_failed(self, event, reason):
        now = fields.Datetime.now()
        for attempt in self:
            was_validated = attempt.outcome_label in ("settling", "healed")
            attempt.write({"outcome_label": "failed", "outcome_labelled_at": now, "outcome_reason": reason})
            guardrail = attempt.guardrail_id
            if not guardrail:
                continue
            if was_validated:
                # It counted as a success when it validated; the track record learns the failure now.
                guardrail._learn(False, now, reason=reason)
            guardrail._autonomy_outcome(event, detail=(reason or "").splitlines()[0][:160] if reason else "")

    @api.model
    def _settling_window(self):
        value = self.env["ir.config_parameter"].sudo().get_param(SETTLING_PARAM)
        try:
            seconds = int(value) if value else DEFAULT_SETTLING_SECONDS
        except ValueError:
            seconds = DEFAULT_SETTLING_SECONDS
        return timedelta(seconds=max(0, seconds))

    @api.model
    def _settle_outcomes(self, now=None):
        """Label healed every validated fix whose settling window passed without the fault; returns them."""
        now = now or fields.Datetime.now()
        settled = self.sudo().search(
            [
                ("outcome_label", "=", "settling"),
                ("state", "=", "validated"),
                ("healed_at", "<=", now - self._settling_window()),
            ]
        )
        for attempt in settled:
            attempt.write({"outcome_label": "healed", "outcome_labelled_at": now})
            attempt.guardrail_id._autonomy_outcome(autonomy_engine.HEALED)
        return settled

    def _names_what_it_fixed(self, occurrence, diagnosed=None):
        """Whether a later occurrence is this fault again on the objects the fix acted on.

        An incident groups one fault met on several objects (two broken views, two tables): the
        same fault on another object is no recurrence of this fix. The text tells them apart when it
        names its objects; when it says the same words, a later fix that healed it on other objects,
        or else the live diagnosis finding it on other objects only, does. Anything else (another
        guardrail, no diagnosis) is a recurrence.
        ``diagnosed`` keeps the verdicts by parameters: an incident's occurrences mostly say the same.
        """
        self.ensure_one()
        if not self.guardrail_id or occurrence.signal_source in HUMAN_SOURCES:
            return True
        said = self.incident_id._occurrence_fix_params(occurrence, self.guardrail_id)
        if not said:
            return True
        key = params_key(said)
        said_text, fixed_text = dict(key), dict(params_key(self.params))
        if any(said_text[name] != fixed_text[name] for name in said_text.keys() & fixed_text.keys()):
            return False
        if self._explained_by_a_later_fix(occurrence, key):
            return False
        diagnosed = {} if diagnosed is None else diagnosed
        if key not in diagnosed:
            diagnosed[key] = self._found_elsewhere(said)
        return not diagnosed[key]

    def _explained_by_a_later_fix(self, occurrence, said_key):
        """Whether a later fix, healed after ``occurrence`` for the same words, acted on other objects.

        That fix covered this occurrence and found its fault elsewhere; once it ran, the live
        database no longer shows that fault to ask it again.
        """
        mine = self._found_on()
        if not mine:
            return False
        for later in self.incident_id.fix_attempt_ids:
            if later.id <= self.id or later.state != "validated" or not later.healed_at:
                continue
            if healed_by(later) < occurrence.occurred_at or params_key(later.params) != said_key:
                continue
            theirs = later._found_on()
            if theirs and not theirs & mine:
                return True
        return False

    def _found_on(self):
        """The objects this attempt's diagnosis found its fault on (ids), or None."""
        if self.autopatch_code not in autopatch_base.codes():
            return None
        return autopatch_base.get(self.autopatch_code).found_on((self.diagnosis or {}).get("evidence"))

    def _found_elsewhere(self, said):
        """Whether the live database shows the fault the occurrence ``said`` on objects other than those fixed.

        Only a diagnosis that holds and names its objects, none of them among those this fix acted
        on, says so; anything less leaves the occurrence a recurrence.
        """
        fixed_on = self._found_on()
        if not fixed_on:
            return False
        patch = autopatch_base.get(self.autopatch_code)
        try:
            # New signals are being recorded in this transaction: a diagnosis that fails must not lose them.
            with self.env.cr.savepoint():
                diagnosis = runner.diagnose(self.env, self.autopatch_code, said, incident=self.incident_id)
        except Exception:
            _logger.exception("Self-Healing could not diagnose a new occurrence of fix attempt %s", self.id)
            return False
        found_on = patch.found_on(diagnosis.evidence) if diagnosis.holds else None
        return bool(found_on) and not found_on & fixed_on

    @api.model
    def _check_recurrence(self, incidents):
        """``incidents`` got new occurrences: a validated fix still settling whose fault came back failed."""
        settling = self.sudo().search([("incident_id", "in", incidents.ids), ("outcome_label", "=", "settling")])
        Occurrence = self.env["self_healing.occurrence"].sudo()
        recurred = self.browse()
        for attempt in settling:
            later = Occurrence.search(
                [("incident_id", "=", attempt.incident_id.id), ("occurred_at", ">=", healed_by(attempt))]
            )
            diagnosed = {}
            came_back = sum(1 for occurrence in later if attempt._names_what_it_fixed(occurrence, diagnosed))
            if came_back:
                attempt.recurred = True
                attempt._label_failed(
                    autonomy_engine.RECURRED,
                    _("%(count)s new occurrence(s) after the fix", count=came_back),
                )
                recurred |= attempt
        return recurred
