"""What people do with an incident: assign, snooze until a condition, merge and unmerge.

Sentry's issue workflow, on Odoo's terms: assigning schedules an activity,
a snoozed incident is an ignored one with a condition that reopens it by
itself (a date, a number of new occurrences, or a rate), and a merge keeps
the merged incident's fingerprint so that its new signals keep landing in
the incident it was merged into.
"""

from datetime import timedelta

from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .. import compat
from ..engine.decide import rate

SNOOZE_MODES = [
    ("date", "Until a date"),
    ("count", "Until more occurrences"),
    ("rate", "Until a rate is reached"),
]
SNOOZE_FIELDS = ("snooze_mode", "snooze_until", "snooze_count", "snooze_base_count", "snooze_rate_count")
# A merge chain longer than this is a loop made by hand in the database.
MAX_MERGE_DEPTH = 10
# States in which an incident's fix is under way: it cannot disappear into another one.
UNMERGEABLE_STATES = ("fixing",)


def record_link(record):
    """An internal link the chatter opens in place."""
    return Markup('<a href="#" data-oe-model="%s" data-oe-id="%d">%s</a>') % (
        record._name,
        record.id,
        record.display_name,
    )


class SelfHealingIncidentWorkflow(models.Model):
    _inherit = "self_healing.incident"

    active = fields.Boolean(default=True, help="Cleared when the incident is merged into another one.")
    user_id = fields.Many2one(
        "res.users",
        string="Assigned to",
        tracking=True,
        index=True,
        domain=lambda self: [
            (compat.USER_GROUPS_FIELD, "in", self.env.ref("self_healing.group_self_healing_user").ids)
        ],
    )
    snooze_mode = fields.Selection(SNOOZE_MODES, readonly=True, copy=False)
    snooze_until = fields.Datetime(string="Snoozed until", readonly=True, copy=False)
    snooze_count = fields.Integer(
        string="Wake after occurrences", readonly=True, copy=False, help="New occurrences that end the snooze."
    )
    snooze_base_count = fields.Integer(readonly=True, copy=False, help="The occurrence count when it was snoozed.")
    snooze_rate_count = fields.Integer(
        string="Wake at occurrences per hour",
        readonly=True,
        copy=False,
        help="Occurrences within one hour that end the snooze.",
    )
    snooze_summary = fields.Char(compute="_compute_snooze_summary")
    merged_into_id = fields.Many2one(
        "self_healing.incident", string="Merged into", readonly=True, index=True, copy=False, ondelete="set null"
    )
    merged_ids = fields.One2many(
        "self_healing.incident",
        "merged_into_id",
        string="Merged incidents",
        readonly=True,
        context={"active_test": False},
    )
    merged_at = fields.Datetime(readonly=True, copy=False)
    merged_new_count = fields.Integer(
        readonly=True, copy=False, help="Occurrences of this fingerprint that arrived after the merge."
    )
    affected_user_ids = fields.Many2many(
        "res.users",
        "self_healing_incident_affected_user_rel",
        "incident_id",
        "user_id",
        string="Users affected",
        readonly=True,
        copy=False,
    )
    affected_company_ids = fields.Many2many(
        "res.company",
        "self_healing_incident_affected_company_rel",
        "incident_id",
        "company_id",
        string="Companies affected",
        readonly=True,
        copy=False,
    )
    affected_user_count = fields.Integer(
        string="Users", compute="_compute_affected_counts", store=True, aggregator="max"
    )
    affected_company_count = fields.Integer(
        string="Companies", compute="_compute_affected_counts", store=True, aggregator="max"
    )
    traceback_search = fields.Char(
        string="Traceback contains", compute="_compute_traceback_search", search="_search_traceback"
    )

    @api.depends("affected_user_ids", "affected_company_ids")
    def _compute_affected_counts(self):
        for incident in self:
            incident.affected_user_count = len(incident.affected_user_ids)
            incident.affected_company_count = len(incident.affected_company_ids)

    def _compute_traceback_search(self):
        self.traceback_search = False

    @api.model
    def _search_traceback(self, operator, value):
        if operator not in ("ilike", "like", "=ilike", "=like"):
            raise UserError(_("Search the traceback with 'contains'."))
        # The sample is the first traceback; an occurrence's own may differ in its values and lines.
        self.env["self_healing.occurrence"].flush_model(["traceback", "message", "incident_id"])
        # The domain's =ilike/=like are ILIKE/LIKE on the value as given (no added wildcards).
        sql_operator = SQL("ILIKE") if operator in ("ilike", "=ilike") else SQL("LIKE")
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT incident_id FROM self_healing_occurrence
                 WHERE traceback %(operator)s %(pattern)s OR message %(operator)s %(pattern)s""",
                operator=sql_operator,
                pattern=f"%{value}%" if operator in ("ilike", "like") else value,
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        return ["|", ("sample_traceback", operator, value), ("id", "in", ids)]

    @api.depends("snooze_mode", "snooze_until", "snooze_count", "snooze_rate_count", "snooze_base_count")
    def _compute_snooze_summary(self):
        for incident in self:
            incident.snooze_summary = incident._describe_snooze() if incident.snooze_mode else False

    def _describe_snooze(self):
        if self.snooze_mode == "date":
            return _("Snoozed until %s UTC", fields.Datetime.to_string(self.snooze_until)[:16])
        if self.snooze_mode == "count":
            return _(
                "Snoozed until %(count)s more occurrences (%(seen)s so far)",
                count=self.snooze_count,
                seen=max(0, self.occurrence_count - self.snooze_base_count),
            )
        return _("Snoozed until %s occurrences within an hour", self.snooze_rate_count)

    # ------------------------------------------------------------------ assign

    def write(self, vals):
        previous = {incident.id: incident.user_id for incident in self} if "user_id" in vals else {}
        result = super().write(vals)
        if previous:
            self._after_assignment(previous)
        return result

    def _after_assignment(self, previous):
        for incident in self:
            old, new = previous.get(incident.id), incident.user_id
            if old == new:
                continue
            if old:
                incident.activity_unlink(["mail.mail_activity_data_todo"], user_id=old.id)
            if new:
                incident.activity_schedule(
                    "mail.mail_activity_data_todo",
                    user_id=new.id,
                    summary=_("Look at this incident"),
                    note=_("%(user)s assigned this incident to you.", user=self.env.user.name),
                )

    def action_assign_to_me(self):
        self.write({"user_id": self.env.uid})
        return True

    def action_unassign(self):
        self.write({"user_id": False})
        return True

    # ------------------------------------------------------------------ snooze

    def _snooze(self, mode, until=None, count=0, rate_count=0):
        """Ignore until a condition holds; bad conditions are refused with the reason."""
        now = fields.Datetime.now()
        values = {"snooze_mode": mode, "snooze_until": False, "snooze_count": 0, "snooze_rate_count": 0}
        if mode == "date":
            until = fields.Datetime.to_datetime(until)
            if not until or until <= now:
                raise UserError(_("Snooze until a moment in the future."))
            values["snooze_until"] = until
        elif mode == "count":
            if not count or count < 1:
                raise UserError(_("Snooze until at least one more occurrence."))
            values["snooze_count"] = count
        elif mode == "rate":
            if not rate_count or rate_count < 1:
                raise UserError(_("Snooze until at least one occurrence per hour."))
            values["snooze_rate_count"] = rate_count
        else:
            raise UserError(_("Unknown snooze condition %s.", mode))
        for incident in self:
            if incident.state == "fixing":
                raise UserError(_("Incident %s is being fixed: it cannot be snoozed now.", incident.display_name))
            if incident.state != "ignored":
                incident._set_state("ignored")
            incident.write(dict(values, snooze_base_count=incident.occurrence_count))
            incident.message_post(
                body=_("%(snooze)s, by %(user)s.", snooze=incident._describe_snooze(), user=self.env.user.name),
                subtype_xmlid="mail.mt_note",
            )
        if mode == "date":
            self.env.ref("self_healing.ir_cron_wake_snoozed").sudo()._trigger(at=values["snooze_until"])
        return True

    def _wake(self, reason):
        """End the snooze: the incident is new again and goes through the healing loop."""
        for incident in self:
            incident.write(dict.fromkeys(SNOOZE_FIELDS, False))
            incident._set_state("new", _("Woken up: %s", reason))
            if "to_process" in incident._fields:
                incident.to_process = True
        if self:
            self.env.ref("self_healing.ir_cron_heal_incidents").sudo()._trigger()

    def _set_state(self, target, note=None):
        result = super()._set_state(target, note)
        # Reopened by hand, or ignored for good: an old snooze condition no longer applies.
        if target != "ignored":
            self.filtered("snooze_mode").write(dict.fromkeys(SNOOZE_FIELDS, False))
        return result

    def action_ignore(self):
        result = super().action_ignore()
        self.filtered("snooze_mode").write(dict.fromkeys(SNOOZE_FIELDS, False))
        return result

    def _check_snooze_conditions(self, now=None):
        """Wake the snoozed incidents among ``self`` whose condition is met; returns them."""
        now = now or fields.Datetime.now()
        woken = self.browse()
        snoozed = self.filtered(lambda incident: incident.state == "ignored" and incident.snooze_mode)
        rates = {}
        by_rate = snoozed.filtered(lambda incident: incident.snooze_mode == "rate")
        if by_rate:
            self.env["self_healing.occurrence"].flush_model(["incident_id", "occurred_at"])
            self.env.cr.execute(
                """SELECT incident_id, count(*) FROM self_healing_occurrence
                    WHERE incident_id IN %s AND occurred_at >= %s GROUP BY incident_id""",
                [tuple(by_rate.ids), now - timedelta(hours=1)],
            )
            rates = dict(self.env.cr.fetchall())
        for incident in snoozed:
            reason = None
            if incident.snooze_mode == "date" and incident.snooze_until <= now:
                reason = _("the snooze date has come.")
            elif incident.snooze_mode == "count":
                new = incident.occurrence_count - incident.snooze_base_count
                if new >= incident.snooze_count:
                    reason = _("%s new occurrences since it was snoozed.", new)
            elif incident.snooze_mode == "rate":
                recent = rates.get(incident.id, 0)
                if rate.rate_reached(recent, incident.snooze_rate_count):
                    reason = _("%s occurrences in the last hour.", recent)
            if reason:
                incident._wake(reason)
                woken |= incident
        return woken

    def _after_ingest(self):
        result = super()._after_ingest()
        self._check_snooze_conditions()
        return result

    @api.model
    def _cron_wake_snoozed(self):
        self.search([("state", "=", "ignored"), ("snooze_mode", "!=", False)])._check_snooze_conditions()

    def action_open_snooze(self):
        self._check_approver()
        return {
            "type": "ir.actions.act_window",
            "name": _("Snooze"),
            "res_model": "self_healing.incident.snooze",
            "view_mode": "form",
            "target": "new",
            "context": {"active_model": self._name, "active_ids": self.ids},
        }

    # ------------------------------------------------------------------ affected users

    def _note_affected(self, user_ids):
        """Remember who met this fault (and their companies), however many occurrences are kept."""
        self.ensure_one()
        users = self.env["res.users"].sudo().with_context(active_test=False).browse(user_ids).exists()
        new_users = users - self.affected_user_ids
        new_companies = users.company_id - self.affected_company_ids
        if new_users or new_companies:
            self.write(
                {
                    "affected_user_ids": [fields.Command.link(user.id) for user in new_users],
                    "affected_company_ids": [fields.Command.link(company.id) for company in new_companies],
                }
            )

    # ------------------------------------------------------------------ merge

    def _merge_target(self):
        """The incident this one's signals go to: itself, or the end of its merge chain."""
        self.ensure_one()
        incident, depth = self, 0
        while incident.merged_into_id and depth < MAX_MERGE_DEPTH:
            incident, depth = incident.merged_into_id, depth + 1
        return incident

    def action_merge(self):
        """Merge the selected incidents into the one seen most often (the oldest on a tie)."""
        self._check_approver()
        # Counts and dates are server-recorded fields: once the right is checked, the move writes them.
        incidents = self.sudo().filtered("active")
        if len(incidents) < 2:
            raise UserError(_("Select at least two incidents to merge."))
        target = incidents.sorted(lambda incident: (-incident.occurrence_count, incident.first_seen, incident.id))[0]
        (incidents - target)._merge_into(target)
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": target.id,
            "view_mode": "form",
        }

    def _merge_into(self, target):
        target.ensure_one()
        if target in self or not target.active:
            raise UserError(_("An incident can only be merged into another open incident."))
        blocked = self.filtered(lambda incident: incident.state in UNMERGEABLE_STATES)
        if blocked:
            raise UserError(_("%s is being fixed: merge it once the fix is over.", blocked[0].display_name))
        Occurrence = self.env["self_healing.occurrence"].sudo()
        now = fields.Datetime.now()
        for source in self:
            occurrences = Occurrence.search([("incident_id", "=", source.id)])
            occurrences.filtered(lambda occurrence: not occurrence.origin_incident_id).write(
                {"origin_incident_id": source.id}
            )
            occurrences.write({"incident_id": target.id})
            target._bump(source.occurrence_count, source.first_seen, source.last_seen, source.sample_traceback)
            target._note_affected(source.affected_user_ids.ids)
            source.write({"merged_into_id": target.id, "merged_at": now, "merged_new_count": 0, "active": False})
            # Earlier merges into the source now follow it into the target.
            source.merged_ids.write({"merged_into_id": target.id})
            source.message_post(
                body=escape(_("Merged into ")) + record_link(target) + escape(_(" by %s.", self.env.user.name)),
                subtype_xmlid="mail.mt_note",
            )
            target.message_post(
                body=escape(_("Merged "))
                + record_link(source)
                + escape(
                    _(
                        " into this incident (%(count)s occurrences) by %(user)s; its new signals land here.",
                        count=source.occurrence_count,
                        user=self.env.user.name,
                    )
                ),
                subtype_xmlid="mail.mt_note",
            )
        return target

    def action_unmerge(self):
        """Give a merged incident back its occurrences and its own life."""
        self._check_approver()
        Occurrence = self.env["self_healing.occurrence"].sudo()
        for source in self.sudo().with_context(active_test=False).filtered("merged_into_id"):
            target = source.merged_into_id
            moved = Occurrence.search([("origin_incident_id", "=", source.id), ("incident_id", "!=", source.id)])
            holders = moved.incident_id
            moved.write({"incident_id": source.id})
            returned = source.occurrence_count + source.merged_new_count
            for holder in holders | target:
                holder._recount_after_unmerge(returned if holder == target else 0)
            last = max([source.last_seen, *moved.mapped("occurred_at")])
            source.write(
                {
                    "merged_into_id": False,
                    "merged_at": False,
                    "active": True,
                    "occurrence_count": returned,
                    "last_seen": last,
                    "merged_new_count": 0,
                }
            )
            target.message_post(
                body=escape(_("Unmerged ")) + record_link(source) + escape(_(" by %s.", self.env.user.name)),
                subtype_xmlid="mail.mt_note",
            )
            source.message_post(
                body=escape(_("Unmerged from "))
                + record_link(target)
                + escape(_(" by %(user)s: %(count)s occurrences came back.", user=self.env.user.name, count=returned)),
                subtype_xmlid="mail.mt_note",
            )
        return True

    def _recount_after_unmerge(self, returned):
        """Take back what a merge added; first and last seen follow the occurrences still here."""
        self.ensure_one()
        values = {"occurrence_count": max(1, self.occurrence_count - returned)}
        self.env["self_healing.occurrence"].flush_model(["incident_id", "occurred_at"])
        self.env.cr.execute(
            "SELECT min(occurred_at), max(occurred_at) FROM self_healing_occurrence WHERE incident_id = %s",
            [self.id],
        )
        first, last = self.env.cr.fetchone()
        if first:
            values.update(first_seen=first, last_seen=last)
        self.write(values)
