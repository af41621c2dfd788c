from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine.decide import autonomy as autonomy_engine
from ..engine.decide import policy as policy_engine
from .fix_attempt_outcome import DEFAULT_SETTLING_SECONDS, SETTLING_PARAM
from .guardrail_autonomy import PROMOTE_AFTER_PARAM

PARAM = "self_healing.%s"


class ResConfigSettingsHealing(models.TransientModel):
    """Settings of the decision: rate limits, the settling window of outcomes, the autonomy ladder."""

    _inherit = "res.config.settings"

    # The hourly limit counts per guardrail (a loop is one fix firing again and again).
    self_healing_max_fixes_per_hour = fields.Integer(
        string="Auto-fixes per guardrail and hour at most",
        default=policy_engine.PolicySettings.max_auto_fixes_per_hour,
    )
    self_healing_max_fixes_per_hour_total = fields.Integer(
        string="Auto-fixes per hour in all at most",
        default=policy_engine.PolicySettings.max_auto_fixes_per_hour_total,
        config_parameter=PARAM % "max_fixes_per_hour_total",
    )
    self_healing_settling_window_seconds = fields.Integer(
        string="Settling window (s)",
        default=DEFAULT_SETTLING_SECONDS,
        config_parameter=SETTLING_PARAM,
        help="A validated fix is labelled healed once its fault has stayed away this long; "
        "failed if the fault comes back sooner.",
    )
    self_healing_autonomy_promote_after = fields.Integer(
        string="Successes to climb the autonomy ladder",
        default=autonomy_engine.DEFAULT_PROMOTE_AFTER,
        config_parameter=PROMOTE_AFTER_PARAM,
        help="Successes in a row that move an Observe or Approve guardrail one step up.",
    )

    @api.constrains(
        "self_healing_max_fixes_per_hour_total",
        "self_healing_settling_window_seconds",
        "self_healing_autonomy_promote_after",
    )
    def _check_healing_settings(self):
        for settings in self:
            if settings.self_healing_max_fixes_per_hour_total < 0 or settings.self_healing_settling_window_seconds < 0:
                raise ValidationError(_("The hourly limit and the settling window cannot be negative."))
            if settings.self_healing_autonomy_promote_after < 1:
                raise ValidationError(_("At least one success is needed to climb the autonomy ladder."))
