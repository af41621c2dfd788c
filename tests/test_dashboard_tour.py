import shutil
import unittest
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestDashboardTour(HttpCase):
    """The charts render in a real browser and each bar opens exactly the records it counts."""

    def start_dashboard_tour(self, tour):
        # A missing browser is a failure here, not a skipped test: nothing else checks the charts render.
        self.assertTrue(shutil.which("chromium") or shutil.which("google-chrome"), "Chromium is needed for the tours")
        try:
            self.start_tour("/odoo/self-healing", tour, login="admin")
        except unittest.SkipTest as reason:
            self.fail(f"the dashboard tour could not run: {reason}")

    def test_charts_render_and_open_their_records(self):
        Incident = self.env["self_healing.incident"]
        # Incidents other tests committed would change the counts the tour reads.
        Incident.with_context(active_test=False).search([]).unlink()
        now = fields.Datetime.now()
        guardrail = self.env["self_healing.guardrail"].create(
            {"code": "GR-CHART-001", "name": "Chart guardrail", "error_class": "SEQ_PKEY_DRIFT", "confidence": 0.9}
        )
        for index, confidence in enumerate((0.95, 0.92, 0.5)):
            incident = Incident.create(
                {
                    "name": f"Chart incident {index}",
                    "fingerprint": f"chart-{index}",
                    "first_seen": now,
                    "last_seen": now,
                    "confidence": confidence,
                    "guardrail_id": guardrail.id,
                }
            )
            if index < 2:
                attempt = self.env["self_healing.fix.attempt"].create(
                    {"incident_id": incident.id, "guardrail_id": guardrail.id, "mode": "auto"}
                )
                attempt._set_state("applied")
                attempt._set_state("validated")
                incident._set_state("fixing")
                incident._set_state("healed")
        old = now - timedelta(days=60)
        Incident.create({"name": "Chart incident old", "fingerprint": "chart-old", "first_seen": old, "last_seen": old})
        # Far from UTC: the chart's days are the user's, and the chart says whose.
        self.env.ref("base.user_admin").tz = "Pacific/Auckland"
        data = self.env["self_healing.dashboard"].get_dashboard_data(days=7)
        self.assertEqual((data["daily"][-1]["detected"], data["daily"][-1]["healed"]), (3, 2))
        self.assertEqual(
            self.env["self_healing.dashboard"].get_dashboard_data(days=90)["current"]["issues_detected"], 4
        )
        self.start_dashboard_tour("self_healing_dashboard_charts_tour")

    def test_a_fresh_database_explains_instead_of_drawing_zeros(self):
        self.env["self_healing.incident"].with_context(active_test=False).search([]).unlink()
        self.assertTrue(self.env["self_healing.dashboard"].get_dashboard_data()["empty"])
        self.start_dashboard_tour("self_healing_dashboard_empty_tour")
