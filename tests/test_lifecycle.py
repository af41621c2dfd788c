from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import SelfHealingCase


@tagged("post_install", "-at_install")
class TestIncidentLifecycle(SelfHealingCase):
    def test_allowed_path_with_chatter(self):
        incident = self.make_incident().with_context(tracking_disable=False)
        incident._set_state("matched")
        incident._set_state("awaiting_approval")
        incident._set_state("fixing")
        incident._set_state("healed", note="Sequence moved past max(id).")
        self.assertEqual(incident.state, "healed")
        self.assertTrue(incident.healed_at)
        bodies = incident.message_ids.mapped("body")
        self.assertTrue(any("Sequence moved past max(id)." in body for body in bodies))

    def test_forbidden_moves(self):
        incident = self.make_incident()
        with self.assertRaises(UserError):
            incident._set_state("failed")
        incident._set_state("ignored")
        with self.assertRaises(UserError):
            incident._set_state("fixing")
        incident.action_reopen()
        self.assertEqual(incident.state, "new")

    def test_buttons(self):
        incident = self.make_incident()
        incident.with_user(self.sh_approver).action_escalate()
        self.assertEqual(incident.state, "escalated")
        incident.with_user(self.sh_approver).action_mark_healed()
        self.assertEqual(incident.state, "healed")


@tagged("post_install", "-at_install")
class TestAttemptLifecycle(SelfHealingCase):
    def test_rejected_is_final(self):
        attempt = self.Attempt.create({"incident_id": self.make_incident().id})
        attempt.with_user(self.sh_approver)._reject("too risky")
        self.assertEqual(attempt.state, "rejected")
        with self.assertRaises(UserError):
            attempt.with_user(self.sh_approver)._approve()

    def test_approval_closes_the_review_activity(self):
        attempt = self.Attempt.create({"incident_id": self.make_incident().id})
        attempt.activity_schedule("mail.mail_activity_data_todo", user_id=self.sh_approver.id, summary="Review")
        self.assertEqual(len(attempt.activity_ids), 1)
        attempt.with_user(self.sh_approver)._approve("ok")
        self.assertFalse(attempt.activity_ids)
