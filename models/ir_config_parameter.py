import logging

from odoo import api, models

from .embedding_mixin import PROVIDER_PARAMS

_logger = logging.getLogger(__name__)
EMBEDDED_MODELS = ("self_healing.guardrail.vector", "self_healing.knowledge.entry")


class IrConfigParameter(models.Model):
    """Re-embeds in the background when the embedding provider settings change."""

    _inherit = "ir.config_parameter"

    @api.model_create_multi
    def create(self, vals_list):
        parameters = super().create(vals_list)
        if any(vals.get("key") in PROVIDER_PARAMS.values() for vals in vals_list):
            self._self_healing_embedding_changed()
        return parameters

    def write(self, vals):
        touched = vals.get("key") in PROVIDER_PARAMS.values() or any(
            key in PROVIDER_PARAMS.values() for key in self.mapped("key")
        )
        result = super().write(vals)
        if touched:
            self._self_healing_embedding_changed()
        return result

    def unlink(self):
        touched = any(key in PROVIDER_PARAMS.values() for key in self.mapped("key"))
        result = super().unlink()
        if touched:
            self._self_healing_embedding_changed()
        return result

    @api.model
    def _self_healing_embedding_changed(self):
        """Queue vectors of the old provider (and failed ones: a new key may fix them), then wake the job."""
        queued = 0
        for model_name in EMBEDDED_MODELS:
            try:
                queued += self.env[model_name].sudo()._embedding_requeue(failed_too=True)
            except ValueError as exc:  # e.g. a dimension the offline provider refuses
                _logger.warning("embedding settings cannot be used yet: %s", exc)
                return
        if queued:
            self.env["self_healing.knowledge.entry"].sudo()._trigger_embedding()
