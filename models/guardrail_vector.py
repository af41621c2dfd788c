import hashlib

from odoo import api, fields, models

from ..compat import Constraint
from ..engine.match.classifier import literal_pieces


def guardrail_text(guardrail):
    """What a guardrail is found by: its title, exception types and the plain text its patterns require.

    Regex syntax would only be noise to an embedding; the literal pieces are
    the words the error message itself contains. (The root cause is prose
    and made nearest-guardrail answers less accurate on the labelled corpus.)
    """
    signals = guardrail.signals or {}
    lines = [guardrail.name or "", " ".join(signals.get("exception_types") or [])]
    for key in ("all_patterns", "any_patterns"):
        for pattern in signals.get(key) or []:
            lines.append(" ".join(literal_pieces(pattern) or []))
    return "\n".join(line for line in lines if line.strip())


class SelfHealingGuardrailVector(models.Model):
    """The embedding of one guardrail's text, kept apart from the guardrail itself."""

    _name = "self_healing.guardrail.vector"
    _description = "Self-Healing Guardrail Embedding"
    _inherit = ["self_healing.embedding.mixin"]
    _rec_name = "guardrail_id"

    guardrail_id = fields.Many2one("self_healing.guardrail", required=True, ondelete="cascade", index=True)
    text_hash = fields.Char(readonly=True, help="Hash of the text last queued for embedding.")

    _guardrail_unique = Constraint("unique(guardrail_id)", "One embedding per guardrail.")

    def _embedding_text(self):
        self.ensure_one()
        return guardrail_text(self.guardrail_id)

    @api.model
    def _embedding_base_domain(self):
        return super()._embedding_base_domain() + [
            ("guardrail_id.state", "=", "active"),
            ("guardrail_id.active", "=", True),
        ]

    @api.model
    def _sync_from_guardrails(self):
        """One row per active guardrail, queued again when its text changes."""
        guardrails = self.env["self_healing.guardrail"].search([("state", "=", "active")])
        existing = {row.guardrail_id.id: row for row in self.search([])}
        to_create = []
        for guardrail in guardrails:
            digest = hashlib.sha1(guardrail_text(guardrail).encode("utf-8")).hexdigest()
            row = existing.get(guardrail.id)
            if row is None:
                to_create.append({"guardrail_id": guardrail.id, "text_hash": digest})
            elif row.text_hash != digest:
                row.write({"text_hash": digest, "embedding_state": "todo"})
        if to_create:
            self.create(to_create)
        return len(to_create)
