"""Inject a chaos scenario's fault into this database, only when the database is marked for chaos.

The chaos command creates a database of its own, marks it (the system
parameter ``self_healing.chaos_allowed``, which nothing else sets) and drives
this wizard over JSON-RPC. Any other database refuses, whoever asks.
"""

import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.self_healing.detection import installer
from odoo.addons.self_healing.detection import settings as detection_settings

from .. import scenarios

_logger = logging.getLogger(__name__)

CAPTURE_DEFAULT = "ERROR"
# What this database's settings differ in from a fresh install: only what an administrator who
# wants healing sets on day one. No solved cases are imported and nobody approves for the run.
CHAOS_SETTINGS = {
    # A fresh install only suggests; the administrator turns the autopilot on.
    "self_healing.autopilot": "auto",
}


class SelfHealingChaos(models.TransientModel):
    _name = "self_healing.chaos"
    _description = "Self-Healing Chaos Scenario"

    scenario = fields.Selection(selection=lambda self: scenarios.selection(), required=True)
    round_number = fields.Integer(default=1, help="A scenario runs in rounds on one database: the fault comes back.")
    facts = fields.Json(readonly=True, help="What the injection did (ids, names, URLs).")
    provocation = fields.Json(readonly=True, help="What makes the fault fail and log, for the chaos command.")
    notes = fields.Text(compute="_compute_notes")

    @api.depends("scenario")
    def _compute_notes(self):
        for wizard in self:
            wizard.notes = scenarios.get(wizard.scenario).notes if wizard.scenario else False

    # ------------------------------------------------------------------ guard

    @api.model
    def _chaos_allowed(self):
        return self.env["ir.config_parameter"].sudo().get_param(scenarios.CHAOS_ALLOWED_PARAM) == "True"

    @api.model
    def _check_chaos_allowed(self):
        if not self._chaos_allowed():
            raise UserError(
                _(
                    "This database is not marked for chaos: faults are only injected into the database that "
                    "`self-healing chaos` creates (system parameter %s).",
                    scenarios.CHAOS_ALLOWED_PARAM,
                )
            )
        if not self.env.user.has_group("self_healing.group_self_healing_manager"):
            raise UserError(_("Only Self-Healing managers inject chaos scenarios."))

    @api.model_create_multi
    def create(self, vals_list):
        self._check_chaos_allowed()
        return super().create(vals_list)

    # ------------------------------------------------------------------ actions

    @api.model
    def catalog(self):
        """The scenarios, as plain data (the chaos command reads it over JSON-RPC)."""
        self._check_chaos_allowed()
        return [scenario.describe() for scenario in scenarios.SCENARIOS.values()]

    def action_inject(self):
        """Break the database as the scenario says; the facts and the provocation are kept on the wizard."""
        self.ensure_one()
        self._check_chaos_allowed()
        scenario = scenarios.get(self.scenario)
        get = self.env["ir.config_parameter"].sudo().get_param
        run = scenarios.RoundContext(
            round=self.round_number,
            addons_path=get(scenarios.ADDONS_PATH_PARAM) or "",
            mail_server_id=int(get(scenarios.MAIL_SERVER_PARAM) or 0),
        )
        facts = scenario.inject(self.env(su=True), run)
        self.write({"facts": facts, "provocation": scenario.provocation(facts)})
        _logger.info("chaos: injected %s (round %s): %s", scenario.name, self.round_number, facts)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": _("Fault injected"), "message": scenario.title, "type": "warning"},
        }

    def action_prepare(self):
        """Set what the scenario needs before its first round (the capture level), in a request of its own."""
        self.ensure_one()
        self._check_chaos_allowed()
        scenario = scenarios.get(self.scenario)
        self._set_capture_level(scenario.capture_level or CAPTURE_DEFAULT)
        params = self.env["ir.config_parameter"].sudo()
        for key, value in scenario.settings.items():
            params.set_param(key, value)
        return True

    def action_run_cron(self):
        """Run the scenario's scheduled action now, through the scheduler (its failure is the symptom)."""
        self.ensure_one()
        self._check_chaos_allowed()
        cron_id = (self.provocation or {}).get("cron_id")
        if not cron_id:
            raise UserError(_("This scenario is not provoked by a scheduled action."))
        self.env["ir.cron"].sudo().browse(cron_id)._trigger()
        return True

    def action_cleanup(self):
        """Undo what a human would after a round the addon did not heal, and restore the capture level."""
        self.ensure_one()
        self._check_chaos_allowed()
        scenario = scenarios.get(self.scenario)
        if scenario.cleanup and self.facts:
            scenario.cleanup(self.env(su=True), self.facts)
        params = self.env["ir.config_parameter"].sudo()
        for key in scenario.settings:
            params.set_param(key, False)
        self._set_capture_level(CAPTURE_DEFAULT)
        return True

    def _set_capture_level(self, level):
        self.env["ir.config_parameter"].sudo().set_param(scenarios.CAPTURE_LEVEL_PARAM, level)
        self.env["ir.config_parameter"].flush_model()  # read() below goes through SQL
        settings = detection_settings.read(self.env.cr)
        dbname = self.env.cr.dbname
        # This process's log filter reads the level from memory: tell it as soon as the setting is
        # committed (earlier, a cron reading the committed value would put the old one back).
        self.env.cr.postcommit.add(lambda: installer.apply_database_settings(dbname, settings))

    # ------------------------------------------------------------------ set-up (the chaos command, not RPC)

    @api.model
    def _prepare_chaos_database(self, smtp_port, addons_path):
        """The autopilot on, and the run's resources (the local SMTP server, the addons folder).

        Returns the settings it changed. Called once by the chaos command on the database it
        created and marked, before Odoo serves it.
        """
        self._check_chaos_allowed()
        params = self.env["ir.config_parameter"].sudo()
        for key, value in CHAOS_SETTINGS.items():
            params.set_param(key, value)
        # The outgoing mail server a real database has; the mail scenarios make it refuse for a moment.
        server = (
            self.env["ir.mail_server"]
            .sudo()
            .create(
                {
                    "name": "Chaos SMTP (127.0.0.1)",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": smtp_port,
                    "smtp_encryption": "none",
                    "from_filter": "example.com",
                    "sequence": 1,
                }
            )
        )
        params.set_param(scenarios.MAIL_SERVER_PARAM, str(server.id))
        params.set_param(scenarios.ADDONS_PATH_PARAM, addons_path)
        return {"settings": dict(CHAOS_SETTINGS)}

    # ------------------------------------------------------------------ the customer's job (numbering scenario)

    @api.model
    def _chaos_number_registrations(self):
        self._check_chaos_allowed()
        scenarios.number_registrations(self.env)
