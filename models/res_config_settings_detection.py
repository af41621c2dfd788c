from odoo import fields, models

from ..detection import installer
from ..detection import settings as detection_settings


class ResConfigSettings(models.TransientModel):
    """The live capture's health on the settings page, and settings applied to this process at once."""

    _inherit = "res.config.settings"

    self_healing_slow_cron_seconds = fields.Float(
        string="Slow scheduled action (s)",
        default=600.0,
        config_parameter="self_healing.slow_cron_seconds",
    )
    self_healing_capture_summary = fields.Char(string="Capture health", compute="_compute_self_healing_capture")
    self_healing_capture_dropped = fields.Integer(string="Dropped", compute="_compute_self_healing_capture")
    self_healing_capture_lost = fields.Integer(string="Lost", compute="_compute_self_healing_capture")

    def _compute_self_healing_capture(self):
        totals = self.env["self_healing.capture.stat"].sudo()._totals()
        summary = self.env._(
            "%(captured)s captured, %(staged)s staged by %(processes)s process(es) in the last day",
            **totals,
        )
        for settings in self:
            settings.self_healing_capture_summary = summary
            settings.self_healing_capture_dropped = totals["dropped"]
            settings.self_healing_capture_lost = totals["lost"]

    def set_values(self):
        result = super().set_values()
        # Other processes pick the change up within a minute (their sink re-reads it).
        installer.apply_database_settings(self.env.cr.dbname, detection_settings.read(self.env.cr))
        return result
