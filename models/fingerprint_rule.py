from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine.detect import fingerprint_rules


class SelfHealingFingerprintRule(models.Model):
    """This database's own grouping: signals matching the patterns group under one name."""

    _name = "self_healing.fingerprint.rule"
    _description = "Self-Healing Fingerprint Rule"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=False)
    sequence = fields.Integer(
        default=10, help="Rules are tried in this order; the first that matches groups the signal."
    )
    active = fields.Boolean(default=True)
    group_as = fields.Char(
        string="Group As",
        required=True,
        help="Signals matching this rule become occurrences of one incident per group name.",
    )
    exception_type = fields.Char(help="Glob on the exception type, e.g. psycopg2.errors.* or *KeyError.")
    message = fields.Char(
        string="Message",
        help="Glob on the message template (numbers, ids and quoted values are already masked), e.g. *timeout*.",
    )
    module = fields.Char(help="Glob on the module the traceback points at, e.g. l10n_*.")
    logger = fields.Char(help="Glob on the logger name, e.g. odoo.addons.my_connector.*.")
    note = fields.Text()

    @api.constrains("group_as", "exception_type", "message", "module", "logger")
    def _check_patterns(self):
        for rule in self:
            try:
                fingerprint_rules.check(rule._engine_rule())
            except fingerprint_rules.RuleError as exc:
                raise ValidationError(_("Fingerprint rule %(name)s: %(error)s", name=rule.name, error=exc)) from exc

    def _engine_rule(self):
        self.ensure_one()
        return fingerprint_rules.FingerprintRule(
            group_as=self.group_as or "",
            exception_type=(self.exception_type or "").strip(),
            message=(self.message or "").strip(),
            module=(self.module or "").strip(),
            logger=(self.logger or "").strip(),
            name=self.name or "",
        )

    @api.model
    def _compiled_rules(self):
        """The active rules, compiled for the ingestion of one batch (a broken one is skipped, never fatal)."""
        compiled = []
        for rule in self.sudo().search([]):
            try:
                compiled.extend(fingerprint_rules.compile_rules([rule._engine_rule()]))
            except fingerprint_rules.RuleError:
                continue  # refused at save; only a hand-edited row gets here
        return compiled
