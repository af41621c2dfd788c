from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from ..engine.detect.signal import Signal
from .common import GROUP_USER, SelfHealingCase


def traceback_text(module, exc="ValueError: stock move 42 has no location"):
    return (
        "Traceback (most recent call last):\n"
        f'  File "/srv/odoo/addons/{module}/models/a.py", line 12, in _action_done\n'
        "    raise ValueError(msg)\n"
        f"{exc}"
    )


@tagged("post_install", "-at_install")
class TestIncidentWorkflow(SelfHealingCase):
    """Assign, snooze, merge and unmerge, search by traceback, users and companies affected."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Workflow Company B"})
        cls.other = new_test_user(
            cls.env,
            login="sh_workflow_b",
            groups=f"base.group_user,{GROUP_USER}",
            company_id=cls.company_b.id,
            company_ids=[(6, 0, cls.company_b.ids)],
        )

    def signal(self, module="stock", exc="ValueError: stock move 42 has no location", uid=None, **values):
        data = {
            "source": "log",
            "logger": f"odoo.addons.{module}",
            "message": "Exception during request handling.",
            "traceback": traceback_text(module, exc),
            "dbname": self.env.cr.dbname,
            "uid": uid or self.env.uid,
        }
        data.update(values)
        return Signal(**data).to_dict()

    def ingest(self, *signals):
        return self.Incident.sudo()._ingest_signals(list(signals)).incidents

    def messages(self, incident):
        return " ".join(incident.message_ids.mapped("body"))

    # --- assign ------------------------------------------------------------------------

    def test_assigning_schedules_an_activity_and_the_filter_finds_it(self):
        incident = self.make_incident(name="Assign me")
        incident.with_user(self.sh_approver).action_assign_to_me()
        self.assertEqual(incident.user_id, self.sh_approver)
        activity = incident.activity_ids
        self.assertEqual((len(activity), activity.user_id), (1, self.sh_approver))
        mine = self.Incident.with_user(self.sh_approver).search([("user_id", "=", self.sh_approver.id)])
        self.assertIn(incident, mine)
        # The "Assigned to Me" filter of the search view is exactly this domain.
        arch = self.env.ref("self_healing.self_healing_incident_view_search").arch
        self.assertIn("[('user_id', '=', uid)]", arch)
        incident.user_id = self.sh_manager
        self.assertEqual(incident.activity_ids.user_id, self.sh_manager, "the old assignee's activity is gone")

    # --- snooze ------------------------------------------------------------------------

    def test_snooze_until_a_date_wakes_when_the_date_has_come(self):
        incident = self.make_incident(name="Snooze by date")
        until = fields.Datetime.now() + timedelta(hours=2)
        incident._snooze("date", until=until)
        self.assertEqual((incident.state, incident.snooze_mode), ("ignored", "date"))
        cron = self.env.ref("self_healing.ir_cron_wake_snoozed")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id), ("call_at", "=", until)]))
        self.assertFalse(incident._check_snooze_conditions(now=until - timedelta(minutes=1)))
        self.assertEqual(incident._check_snooze_conditions(now=until), incident)
        self.assertEqual(incident.state, "new")
        self.assertFalse(incident.snooze_mode)
        self.assertTrue(incident.to_process, "the healing loop looks at it again")
        self.assertIn("Woken up: the snooze date has come.", self.messages(incident))

    def test_snooze_until_more_occurrences_wakes_at_the_count(self):
        incident = self.ingest(self.signal())
        incident._snooze("count", count=3)
        self.ingest(self.signal(), self.signal())
        self.assertEqual(incident.state, "ignored", "2 of 3")
        self.ingest(self.signal())
        self.assertEqual(incident.state, "new")
        self.assertIn("3 new occurrences since it was snoozed", self.messages(incident))

    def test_snooze_until_a_rate_wakes_when_it_comes_fast(self):
        incident = self.ingest(self.signal())
        incident._snooze("rate", rate_count=5)
        old = fields.Datetime.now() - timedelta(hours=3)
        self.ingest(*[self.signal(occurred_at=old) for _ in range(6)])
        self.assertEqual(incident.state, "ignored", "old occurrences do not make a rate")
        self.ingest(*[self.signal() for _ in range(4)])
        self.assertEqual(incident.state, "new")
        self.assertIn("occurrences in the last hour", self.messages(incident))

    def test_bad_snoozes_are_refused(self):
        incident = self.make_incident(name="Bad snooze")
        with self.assertRaisesRegex(UserError, "future"):
            incident._snooze("date", until=fields.Datetime.now() - timedelta(minutes=1))
        with self.assertRaisesRegex(UserError, "at least one"):
            incident._snooze("count", count=0)
        self.assertEqual(incident.state, "new")

    def test_reopening_by_hand_forgets_the_snooze(self):
        incident = self.make_incident(name="Reopened")
        incident._snooze("count", count=5)
        incident.action_reopen()
        self.assertFalse(incident.snooze_mode)

    def test_the_snooze_wizard(self):
        incidents = self.make_incident(name="W1") | self.make_incident(name="W2")
        wizard = (
            self.env["self_healing.incident.snooze"]
            .with_context(active_model=incidents._name, active_ids=incidents.ids)
            .create({"mode": "count", "count": 4})
        )
        self.assertEqual(wizard.incident_ids, incidents)
        wizard.action_apply()
        self.assertEqual(set(incidents.mapped("snooze_count")), {4})

    # --- merge / unmerge -----------------------------------------------------------------

    def test_merge_moves_occurrences_and_new_signals_follow(self):
        target = self.ingest(self.signal(), self.signal(), self.signal())
        source = self.ingest(self.signal("mrp", "KeyError: 'workorder_id'"))
        self.assertNotEqual(target, source)
        moved = source.occurrence_ids
        result = (target | source).action_merge()
        self.assertEqual(result["res_id"], target.id, "the incident seen most often stays")
        self.assertFalse(source.active)
        self.assertEqual(source.merged_into_id, target)
        self.assertEqual(target.occurrence_count, 4)
        self.assertEqual(moved.incident_id, target)
        self.assertEqual(moved.origin_incident_id, source)
        # The source's fingerprint remembers the merge.
        self.assertEqual(self.ingest(self.signal("mrp", "KeyError: 'workorder_id'")), target)
        self.assertEqual((target.occurrence_count, source.merged_new_count), (5, 1))
        self.assertIn("Merged", self.messages(target))

        source.action_unmerge()
        self.assertTrue(source.active)
        self.assertEqual((source.occurrence_count, len(source.occurrence_ids)), (2, 2))
        self.assertEqual((target.occurrence_count, len(target.occurrence_ids)), (3, 3))
        self.assertEqual(self.ingest(self.signal("mrp", "KeyError: 'workorder_id'")), source)
        self.assertIn("Unmerged", self.messages(source))

    def test_an_approver_merges_and_unmerges_a_user_cannot(self):
        a, b = self.make_incident(name="Approver A", occurrence_count=2), self.make_incident(name="Approver B")
        with self.assertRaises(AccessError):
            (a | b).with_user(self.sh_user).action_merge()
        (a | b).with_user(self.sh_approver).action_merge()
        self.assertEqual(b.merged_into_id, a)
        b.with_user(self.sh_approver).action_unmerge()
        self.assertTrue(b.active)
        self.assertEqual((a.occurrence_count, b.occurrence_count), (2, 1))

    def test_the_merge_action_of_the_list(self):
        a, b = self.make_incident(name="List A", occurrence_count=4), self.make_incident(name="List B")
        action = self.env.ref("self_healing.self_healing_incident_merge_action")
        result = action.with_context(active_model=a._name, active_ids=(a | b).ids).run()
        self.assertEqual(result["res_id"], a.id)
        self.assertEqual((b.merged_into_id, a.occurrence_count), (a, 5))

    def test_merge_chains_and_refusals(self):
        a = self.make_incident(name="A", occurrence_count=5)
        b = self.make_incident(name="B", occurrence_count=3)
        c = self.make_incident(name="C", occurrence_count=1)
        (b | c).action_merge()
        self.assertEqual(c.merged_into_id, b)
        (a | b).action_merge()
        self.assertEqual(c.merged_into_id, a, "an earlier merge follows its target")
        self.assertEqual(c._merge_target(), a)
        with self.assertRaisesRegex(UserError, "at least two"):
            a.action_merge()

    def test_deleting_an_incident_leaves_no_orphan_activity(self):
        incident = self.make_incident(name="Deleted")
        attempt = self.Attempt.create({"incident_id": incident.id, "autopatch_code": "sequence_resync"})
        activity = attempt.activity_schedule("mail.mail_activity_data_todo", user_id=self.sh_approver.id)
        incident.unlink()
        self.assertFalse(attempt.exists())
        self.assertFalse(activity.exists(), "a to-do on a deleted fix would open a Missing Record dialog")

    # --- search and affected people ---------------------------------------------------------

    def test_search_by_traceback_text_on_incidents_and_occurrences(self):
        incident = self.ingest(self.signal("purchase", "ValueError: vendor bill 77 needs an analytic plan"))
        found = self.Incident.search([("traceback_search", "ilike", "analytic plan")])
        self.assertEqual(found, incident)
        occurrences = self.env["self_healing.occurrence"].search([("traceback", "ilike", "analytic plan")])
        self.assertEqual(occurrences.incident_id, incident)
        self.assertFalse(self.Incident.search([("traceback_search", "ilike", "no such text anywhere 9")]))
        # =ilike takes the pattern as given: its wildcards are the user's own.
        self.assertEqual(self.Incident.search([("traceback_search", "=ilike", "%ANALYTIC plan%")]), incident)
        self.assertFalse(self.Incident.search([("traceback_search", "=like", "analytic plan")]))

    def test_users_and_companies_affected(self):
        incident = self.ingest(self.signal(uid=self.sh_user.id), self.signal(uid=self.sh_user.id))
        self.assertEqual(incident.affected_user_count, 1)
        self.ingest(self.signal(uid=self.other.id))
        self.assertEqual(incident.affected_user_ids, self.sh_user | self.other)
        self.assertEqual((incident.affected_user_count, incident.affected_company_count), (2, 2))
        self.assertIn(self.company_b, incident.affected_company_ids)
        self.assertIn(incident, self.Incident.search([("affected_user_ids", "in", self.other.ids)]))
        self.assertIn(incident, self.Incident.search([("affected_company_ids", "in", self.company_b.ids)]))
        self.assertIn(incident, self.Incident.search([("affected_user_count", ">", 1)]))
        # Retention deleting occurrences does not forget who was affected.
        incident.occurrence_ids.unlink()
        incident.invalidate_recordset()
        self.assertEqual(incident.affected_user_count, 2)

    # --- the chatter tells what the machine did -----------------------------------------------

    def test_every_fix_step_is_in_the_chatter_with_a_link(self):
        incident = self.make_incident(name="Chatter")
        attempt = self.Attempt.create({"incident_id": incident.id, "autopatch_code": "sequence_resync", "mode": "auto"})
        attempt._set_state("applied")
        attempt._set_state("rolled_back")
        link = f'data-oe-model="self_healing.fix.attempt" data-oe-id="{attempt.id}"'
        bodies = [body for body in incident.message_ids.mapped("body") if link in body]
        self.assertEqual(len(bodies), 3, bodies)
        text = " ".join(bodies)
        self.assertIn("planned sequence_resync", text)
        self.assertIn("was applied", text)
        self.assertIn("restored from its backup", text)
