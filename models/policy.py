import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from ..engine.decide import policy

_logger = logging.getLogger(__name__)

PARAM = "self_healing.%s"
BREAKER_RESET_PARAM = PARAM % "breaker_reset_at"
MANAGER_GROUP = "self_healing.group_self_healing_manager"


def _csv(value):
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


class SelfHealingPolicy(models.AbstractModel):
    """The policy's inputs as this database has them: settings, recent fixes, the breaker."""

    _name = "self_healing.policy"
    _description = "Self-Healing Policy Inputs"

    @api.model
    def _settings(self):
        get = self.env["ir.config_parameter"].sudo().get_param
        defaults = policy.PolicySettings()

        def number(key, default, kind=float):
            try:
                return kind(get(PARAM % key) or default)
            except (TypeError, ValueError):
                return default

        try:
            return self._build_settings(get, number, defaults)
        except ValueError as exc:
            # Parameters edited by hand past the settings form's checks: stay safe rather than stop.
            _logger.warning("invalid Self-Healing policy settings (%s): using the defaults", exc)
            return defaults

    @api.model
    def _build_settings(self, get, number, defaults):
        return policy.PolicySettings(
            auto_fix_threshold=number("threshold_auto", defaults.auto_fix_threshold),
            notify_threshold=number("threshold_notify", defaults.notify_threshold),
            propose_threshold=number("threshold_propose", defaults.propose_threshold),
            autopilot=get(PARAM % "autopilot") or defaults.autopilot,
            dry_run=get(PARAM % "dry_run") in ("True", "1", "true"),
            max_auto_fixes_per_hour=number("max_fixes_per_hour", defaults.max_auto_fixes_per_hour, int),
            max_auto_fixes_per_hour_total=number(
                "max_fixes_per_hour_total", defaults.max_auto_fixes_per_hour_total, int
            ),
            max_auto_rows=number("max_auto_rows", defaults.max_auto_rows, int),
            max_auto_files=number("max_auto_files", defaults.max_auto_files, int),
            max_irreversible_rows=number("max_irreversible_rows", defaults.max_irreversible_rows, int),
            breaker_failures=number("breaker_failures", defaults.breaker_failures, int),
            critical_modules=_csv(get(PARAM % "critical_modules")) or defaults.critical_modules,
            critical_models=_csv(get(PARAM % "critical_models")) or defaults.critical_models,
        )

    @api.model
    def _recent_auto_fix_times(self, now, guardrail=None):
        """When the automatic fixes of the last hour ran (of ``guardrail`` only, when given)."""
        domain = [("mode", "=", "auto"), ("applied_at", ">=", now - timedelta(hours=1)), ("dry_run", "=", False)]
        if guardrail is not None:
            domain.append(("guardrail_id", "=", guardrail.id))
        attempts = self.env["self_healing.fix.attempt"].sudo().search_read(domain, ["applied_at"])
        return [row["applied_at"] for row in attempts]

    @api.model
    def _consecutive_failures(self):
        """Failed automatic fixes since the last success (or the last manual breaker reset).

        Derived from the fix history rather than kept as a counter, so it can never drift.
        """
        domain = [
            ("mode", "=", "auto"),
            ("state", "in", ("validated", "failed", "rolled_back")),
            ("dry_run", "=", False),
        ]
        reset_at = self.env["ir.config_parameter"].sudo().get_param(BREAKER_RESET_PARAM)
        if reset_at:
            domain.append(("applied_at", ">", reset_at))
        failures = 0
        for attempt in (
            self.env["self_healing.fix.attempt"].sudo().search(domain, order="applied_at desc, id desc", limit=50)
        ):
            if attempt.state == "validated":
                break
            failures += 1
        return failures

    @api.model
    def action_reset_breaker(self):
        """Close the circuit breaker: failures before now no longer count. Managers and administrators only."""
        # Public on an abstract model: any logged-in user can call it over RPC, so the group is checked here.
        if not (self.env.su or self.env.user.has_group(MANAGER_GROUP) or self.env.user.has_group("base.group_system")):
            raise AccessError(_("Only Self-Healing managers can reset the circuit breaker."))
        self.env["ir.config_parameter"].sudo().set_param(
            BREAKER_RESET_PARAM, fields.Datetime.to_string(fields.Datetime.now())
        )
        return True
