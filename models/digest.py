import logging
from datetime import timedelta

from odoo import api, fields, models

from .. import compat

_logger = logging.getLogger(__name__)

DIGEST_HOURS = 24
DIGEST_ROWS = 10
USER_GROUP = "self_healing.group_self_healing_user"


class SelfHealingDigest(models.AbstractModel):
    """The daily e-mail: what happened in the last day, for the users who asked for it."""

    _name = "self_healing.digest"
    _description = "Self-Healing Daily Digest"

    @api.model
    def _values(self, now=None):
        """Plain rows for the template; ``empty`` when there is nothing to tell."""
        now = now or fields.Datetime.now()
        since = now - timedelta(hours=DIGEST_HOURS)
        Incident = self.env["self_healing.incident"].sudo()
        Attempt = self.env["self_healing.fix.attempt"].sudo()

        def rows(records):
            return [{"name": record.display_name, "url": Incident._record_url(record)} for record in records]

        sections = {
            "new": Incident.search([("first_seen", ">=", since)], order="first_seen desc"),
            "spikes": Incident.search([("last_spike_at", ">=", since)], order="last_spike_at desc"),
            "escalated": Incident.search([("state", "=", "escalated"), ("write_date", ">=", since)]),
            "awaiting": Incident.search([("state", "=", "awaiting_approval")]),
            "failed_fixes": Attempt.search(
                [("state", "in", ("failed", "rolled_back")), ("write_date", ">=", since), ("dry_run", "=", False)]
            ),
            "healed": Incident.search([("healed_at", ">=", since)]),
        }
        Policy = self.env["self_healing.policy"].sudo()
        breaker_open = Policy._consecutive_failures() >= Policy._settings().breaker_failures
        values = {
            key: {"count": len(records), "rows": rows(records[:DIGEST_ROWS])} for key, records in sections.items()
        }
        values["breaker_open"] = breaker_open
        values["since"] = since
        values["dashboard_url"] = f"{Incident.get_base_url()}/odoo/self-healing"
        values["empty"] = not breaker_open and not any(
            section["count"] for section in values.values() if isinstance(section, dict)
        )
        return values

    @api.model
    def _cron_send(self, now=None):
        """Queue one digest per opted-in user; nothing is sent on a day with nothing to tell."""
        values = self._values(now)
        if values["empty"]:
            return self.env["res.users"]
        group = self.env.ref(USER_GROUP)
        users = (
            self.env["res.users"]
            .sudo()
            .search(
                [
                    ("self_healing_digest", "=", True),
                    (compat.USER_GROUPS_FIELD, "in", group.ids),
                    ("email", "!=", False),
                ]
            )
        )
        template = self.env.ref("self_healing.mail_template_digest").sudo()
        for user in users:
            template.with_context(digest=values, lang=user.lang).send_mail(user.id)
        return users
