import logging

from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.modules.module import get_module_path

from ..engine.detect import release
from .incident_grouping import addons_roots

_logger = logging.getLogger(__name__)


class SelfHealingIncident(models.Model):
    """Release tracking: "resolved in the next upgrade of module X" (Sentry's "resolved in next release").

    The fix is in code that is not deployed yet: until module X moves past the
    release it had when the incident was resolved, its occurrences are expected and
    only counted; one on a later release reopens the incident as a regression.
    """

    _inherit = "self_healing.incident"

    resolved_in_module_id = fields.Many2one(
        "ir.module.module",
        string="Resolved in Next Upgrade of",
        readonly=True,
        ondelete="set null",
        help="Occurrences on the release below are expected; one on a later release of this module is a regression.",
    )
    resolved_in_release = fields.Json(readonly=True, help="The module's version and commit when it was resolved.")
    resolved_in_summary = fields.Char(string="Resolved Against", compute="_compute_resolved_in_summary")

    @api.depends("resolved_in_module_id", "resolved_in_release")
    def _compute_resolved_in_summary(self):
        for incident in self:
            facts = incident.resolved_in_release or {}
            if not incident.resolved_in_module_id:
                incident.resolved_in_summary = False
                continue
            incident.resolved_in_summary = _(
                "%(module)s after %(release)s",
                module=incident.resolved_in_module_id.name,
                release=_release_label(facts),
            )

    @api.model
    def _module_release(self, module_name):
        """The release of an installed module now: {"version", "commit"}, or None when it is not installed."""
        folder = get_module_path(module_name, display_warning=False) or ""
        return self.env["self_healing.occurrence"]._current_releases({module_name: folder}).get(module_name)

    def _resolve_in_next_upgrade(self, module):
        """Mark healed until ``module`` (an installed ``ir.module.module``) is upgraded past its current release."""
        self._check_approver()
        module.ensure_one()
        current = self._module_release(module.name)
        if current is None:
            raise UserError(
                _(
                    "Module %s is not installed: an incident can only wait for an upgrade of an installed module.",
                    module.name,
                )
            )
        busy = self.filtered(lambda incident: incident.state == "fixing")
        if busy:
            raise UserError(
                _("A fix is running on %s: wait for its outcome first.", ", ".join(busy.mapped("display_name")))
            )
        note = escape(
            _(
                "Resolved in the next upgrade of %(module)s (now %(release)s), by %(user)s: occurrences on this "
                "release are expected and only counted; one on a later release reopens it as a regression.",
                module=module.name,
                release=_release_label(current),
                user=self.env.user.name,
            )
        )
        for incident in self:
            # The caller is an approver (checked above); the fields are the server's record of the decision.
            incident.sudo().write({"resolved_in_module_id": module.id, "resolved_in_release": current})
            if incident.state == "healed":
                incident.message_post(body=Markup(note), subtype_xmlid="mail.mt_note")
            else:
                incident._set_state("healed", Markup(note))

    @api.model
    def _occurrence_values(self, incident, item, known_uids):
        values = super()._occurrence_values(incident, item, known_uids)
        try:
            values.update(self.env["self_healing.occurrence"]._release_values(item.signal.traceback, addons_roots()))
        except Exception:  # noqa: BLE001 - the release is a fact about the occurrence, never a reason to lose it
            _logger.exception("Self-Healing could not read the module releases of a signal")
        return values

    def _recurs_as_regression(self, last):
        if not super()._recurs_as_regression(last):
            return False
        if not self.resolved_in_module_id:
            return True
        current = self._module_release(self.resolved_in_module_id.name)
        # Not upgraded yet: the old code still raises it. An uninstalled module cannot tell: reopen.
        return current is None or release.is_later(current, self.resolved_in_release)

    def _reopen_as_regression(self):
        waiting = {
            incident.id: (incident.resolved_in_module_id.name, incident.resolved_in_release or {})
            for incident in self
            if incident.resolved_in_module_id
        }
        result = super()._reopen_as_regression()
        for incident in self.filtered(lambda incident: incident.id in waiting):
            module, then = waiting[incident.id]
            now = self._module_release(module)
            incident.message_post(
                body=escape(
                    _(
                        "It came back on %(module)s %(now)s, after it was resolved in the next upgrade of "
                        "%(module)s (then %(then)s).",
                        module=module,
                        now=_release_label(now) if now else _("(not installed)"),
                        then=_release_label(then),
                    )
                ),
                subtype_xmlid="mail.mt_note",
            )
            incident.sudo().write({"resolved_in_module_id": False, "resolved_in_release": False})
        return result

    def action_reopen(self):
        result = super().action_reopen()
        self.sudo().write({"resolved_in_module_id": False, "resolved_in_release": False})
        return result

    def action_mark_healed(self):
        result = super().action_mark_healed()
        # Healed now, not waiting for an upgrade: a recurrence is a plain regression.
        self.sudo().write({"resolved_in_module_id": False, "resolved_in_release": False})
        return result

    def action_open_resolve_release(self):
        self._check_approver()
        return {
            "type": "ir.actions.act_window",
            "name": _("Resolved in the Next Upgrade"),
            "res_model": "self_healing.incident.resolve.release",
            "view_mode": "form",
            "target": "new",
            "context": {"active_model": self._name, "active_ids": self.ids},
        }


def _release_label(facts):
    facts = facts or {}
    label = facts.get("version") or "?"
    if facts.get("commit"):
        label += f" ({facts['commit'][:7]})"
    return label
