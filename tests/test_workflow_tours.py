from odoo.tests import HttpCase, tagged

from ..models.webhook import SECRET_PARAM
from .webhook_receiver import WebhookReceiver


@tagged("post_install", "-at_install")
class TestWorkflowTours(HttpCase):
    """What an administrator clicks: assign and snooze an incident, set up a webhook and test it."""

    def test_assign_and_snooze_in_the_browser(self):
        incident = self.env["self_healing.incident"].create(
            {"name": "Tour workflow incident", "fingerprint": "tour-workflow", "occurrence_count": 2}
        )
        self.start_tour(
            f"/odoo/self_healing.incident/{incident.id}", "self_healing_incident_workflow_tour", login="admin"
        )
        incident.invalidate_recordset()
        admin = self.env.ref("base.user_admin")
        self.assertEqual(incident.user_id, admin)
        self.assertEqual(incident.activity_ids.user_id, admin)
        self.assertEqual((incident.state, incident.snooze_mode, incident.snooze_count), ("ignored", "count", 3))

    def test_merge_and_unmerge_in_the_browser(self):
        Incident = self.env["self_healing.incident"]
        often = Incident.create({"name": "Tour merge often", "fingerprint": "tour-merge-1", "occurrence_count": 9})
        rare = Incident.create({"name": "Tour merge rare", "fingerprint": "tour-merge-2", "occurrence_count": 2})
        self.start_tour("/odoo/self-healing-incidents", "self_healing_incident_merge_tour", login="admin")
        (often | rare).invalidate_recordset()
        self.assertTrue(rare.active, "merged, then unmerged")
        self.assertFalse(rare.merged_into_id)
        self.assertEqual((often.occurrence_count, rare.occurrence_count), (9, 2))
        bodies = " ".join(often.message_ids.mapped("body"))
        self.assertIn("Merged", bodies)
        self.assertIn("Unmerged", bodies)

    def test_webhook_settings_in_the_browser(self):
        self.env["self_healing.webhook"].search([]).active = False
        with WebhookReceiver() as receiver:
            hook = self.env["self_healing.webhook"].create(
                {"name": "Tour receiver", "kind": "slack", "url": receiver.url("/services/TOUR")}
            )
            self.start_tour(
                "/odoo/action-self_healing.self_healing_webhook_action", "self_healing_webhook_tour", login="admin"
            )
            self.assertEqual(len(receiver.requests), 1)
            self.assertIn("Test notification", receiver.requests[0].json()["text"])
        hook.invalidate_recordset()
        self.assertFalse(hook.on_spike)
        param = self.env["ir.config_parameter"].sudo().get_param(SECRET_PARAM % (hook.id, "secret"))
        self.assertEqual(param, "tour-secret-key")
        self.assertEqual(hook.delivery_ids.state, "sent")
