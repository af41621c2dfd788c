from odoo import api, models

from .. import compat


class ResGroups(models.Model):
    _inherit = "res.groups"

    @api.model
    def _self_healing_load_series_data(self):
        """Hook of data/series_data.xml; the per-series choice lives in compat."""
        return compat.load_series_data(self.env, "self_healing")
