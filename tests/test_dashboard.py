from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestDashboard(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        now = fields.Datetime.now()
        guardrail = cls.env["self_healing.guardrail"].create(
            {"code": "GR-TOUR-001", "name": "Tour guardrail", "error_class": "SEQ_PKEY_DRIFT", "confidence": 0.9}
        )
        healed = cls.env["self_healing.incident"].create(
            {
                "name": "Tour incident healed",
                "fingerprint": "tour-1",
                "guardrail_id": guardrail.id,
                "first_seen": now - timedelta(minutes=10),
                "last_seen": now - timedelta(minutes=10),
                "confidence": 0.95,
            }
        )
        cls.env["self_healing.fix.attempt"].create(
            {
                "incident_id": healed.id,
                "guardrail_id": guardrail.id,
                "mode": "auto",
                "autopatch_code": "sequence_resync",
            }
        )._set_state("applied")
        healed.fix_attempt_ids._set_state("validated")
        healed._set_state("fixing")
        healed._set_state("healed")
        waiting = cls.env["self_healing.incident"].create(
            {"name": "Tour incident awaiting approval", "fingerprint": "tour-2", "confidence": 0.7}
        )
        waiting._set_state("awaiting_approval")
        cls.healed, cls.waiting = healed, waiting

    def test_figures(self):
        data = self.env["self_healing.dashboard"].get_dashboard_data(days=7)
        self.assertEqual(
            data["current"]["issues_detected"],
            self.env["self_healing.incident"].search_count(
                [("last_seen", ">=", fields.Datetime.now() - timedelta(days=7))]
            ),
        )
        self.assertGreaterEqual(data["current"]["auto_fixed"], 1)
        self.assertIn("GR-TOUR-001", [row["name"] for row in data["top_fixed"]])
        self.assertIn(self.waiting.id, [row["id"] for row in data["alerts"]["incidents"]])

    def test_reliability_table_of_this_database(self):
        attempt = self.healed.fix_attempt_ids
        self.assertEqual(attempt.outcome_label, "settling", "a validated fix waits for its settling window")
        data = self.env["self_healing.dashboard"].get_dashboard_data(days=7)
        before = data["reliability"]["labelled"]
        attempt.confidence_before = 0.95
        settled = self.env["self_healing.fix.attempt"]._settle_outcomes(now=fields.Datetime.now() + timedelta(days=2))
        self.assertIn(attempt, settled)
        reliability = self.env["self_healing.dashboard"].get_dashboard_data(days=7)["reliability"]
        self.assertEqual(reliability["labelled"], before + 1)
        top = [row for row in reliability["rows"] if row["low"] == 0.9]
        self.assertTrue(top and top[0]["count"] >= 1)
        self.assertIsNotNone(reliability["ece"])

    def test_user_sees_the_dashboard_in_the_browser(self):
        self.start_tour("/odoo/self-healing", "self_healing_dashboard_tour", login="admin")
