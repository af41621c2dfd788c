from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import SelfHealingCase

PERIODS = (7, 30, 90)
# Each figure of the dashboard and where it is in the data the client receives.
FIGURES = {
    "issues_detected": ("current", "issues_detected"),
    "auto_fixed": ("current", "auto_fixed"),
    "human_review": ("current", "human_review"),
    "fixes_applied": ("current", "fixes_applied"),
    "fixes_succeeded": ("current", "fixes_succeeded"),
    "healed_count": ("current", "healed_count"),
    "confidence_count": ("current", "confidence_count"),
    "awaiting_approval": ("alerts", "awaiting_approval"),
    "guardrail_count": (None, "guardrail_count"),
}


@tagged("post_install", "-at_install")
class TestDashboardExactness(SelfHealingCase):
    """Every figure equals the number of records its click opens, for each card and each period."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        now = fields.Datetime.now()
        guardrail = cls.Guardrail.create(
            {"code": "GR-EXACT-001", "name": "Exact", "error_class": "SEQ_PKEY_DRIFT", "confidence": 0.9}
        )
        # Incidents and attempts spread over the periods, in every state the figures look at.
        cls.fixtures = []
        for age_days, state, mode, attempt_state, confidence in [
            (1, "healed", "auto", "validated", 0.95),
            (3, "escalated", None, None, 0.4),
            (5, "awaiting_approval", "manual", "proposed", 0.7),
            (12, "healed", "approved", "validated", 0.8),
            (20, "failed", "auto", "rolled_back", 0.85),
            (45, "new", "auto", "failed", 0.0),
            (60, "healed", "auto", "validated", 0.9),
            (200, "new", None, None, 0.5),
        ]:
            moment = now - timedelta(days=age_days)
            incident = cls.make_incident(
                name=f"Exact {age_days}d {state}",
                first_seen=moment - timedelta(hours=1),
                last_seen=moment,
                confidence=confidence,
                guardrail_id=guardrail.id if mode else False,
            )
            if mode:
                attempt = cls.Attempt.create(
                    {
                        "incident_id": incident.id,
                        "guardrail_id": guardrail.id if age_days != 20 else False,
                        "autopatch_code": "sequence_resync",
                        "mode": mode,
                    }
                )
                if attempt_state != "proposed":
                    attempt._set_state("applied")
                    attempt._set_state(attempt_state)
                # An attempt made when the fault was seen, written the way the database keeps it.
                cls.env.cr.execute(
                    "UPDATE self_healing_fix_attempt SET create_date = %s WHERE id = %s", [moment, attempt.id]
                )
            if state == "healed":
                incident._set_state("fixing")
                incident._set_state("healed")
                cls.env.cr.execute(
                    "UPDATE self_healing_incident SET healed_at = %s WHERE id = %s", [moment, incident.id]
                )
            elif state == "failed":
                incident._set_state("fixing")
                incident._set_state("failed")
            elif state != "new":
                incident._set_state(state)
        cls.env.invalidate_all()

    def test_every_figure_equals_the_records_it_opens(self):
        Dashboard = self.env["self_healing.dashboard"]
        checked = 0
        for days in PERIODS:
            data = Dashboard.get_dashboard_data(days=days)
            self.assertEqual(set(data["targets"]), set(FIGURES), "every target has a figure, every figure a test")
            for key, (section, name) in FIGURES.items():
                figure = (data[section] if section else data)[name]
                target = data["targets"][key]
                records = self.env[target["model"]].search(target["domain"])
                self.assertEqual(figure, len(records), f"{key} over {days} days")
                checked += 1
            for row in data["top_fixed"]:
                records = self.env[row["target"]["model"]].search(row["target"]["domain"])
                self.assertEqual(row["times"], len(records), f"top fix {row['name']} over {days} days")
                validated = records.filtered(lambda attempt: attempt.state == "validated")
                self.assertAlmostEqual(row["success_rate"], len(validated) / len(records), places=3)
        self.assertEqual(checked, len(PERIODS) * len(FIGURES))

    def test_the_periods_differ_so_the_test_means_something(self):
        Dashboard = self.env["self_healing.dashboard"]
        detected = [Dashboard.get_dashboard_data(days=days)["current"]["issues_detected"] for days in PERIODS]
        self.assertLess(detected[0], detected[1])
        self.assertLess(detected[1], detected[2])
        week = Dashboard.get_dashboard_data(days=7)
        self.assertGreaterEqual(week["current"]["auto_fixed"], 1)
        self.assertGreaterEqual(week["current"]["human_review"], 2)
        names = {row["name"] for row in Dashboard.get_dashboard_data(days=30)["top_fixed"]}
        self.assertIn("sequence_resync", names, "an attempt without a guardrail is filed under its auto-patch")

    def test_a_merged_incident_leaves_the_figures_and_the_lists_alike(self):
        Dashboard = self.env["self_healing.dashboard"]
        before = Dashboard.get_dashboard_data(days=7)["current"]["issues_detected"]
        a, b = self.make_incident(name="Merge A"), self.make_incident(name="Merge B")
        (a | b).action_merge()
        data = Dashboard.get_dashboard_data(days=7)
        target = data["targets"]["issues_detected"]
        self.assertEqual(data["current"]["issues_detected"], before + 1)
        self.assertEqual(self.env[target["model"]].search_count(target["domain"]), before + 1)

    def test_the_analysis_views_group_as_designed(self):
        """Occurrences by module and class, fix outcomes by guardrail and month, incidents by first seen."""
        for xmlid, model, mode in [
            ("self_healing.self_healing_fix_outcome_action", "self_healing.fix.attempt", "graph"),
            ("self_healing.self_healing_occurrence_analysis_action", "self_healing.occurrence", "graph"),
            ("self_healing.self_healing_incident_analysis_action", "self_healing.incident", "graph"),
        ]:
            action = self.env.ref(xmlid)
            self.assertEqual((action.res_model, action.view_mode.split(",")[0]), (model, mode))
            for view_type in ("graph", "pivot"):
                self.env[model].get_view(view_type=view_type)
        graph = self.env["self_healing.incident"].get_view(view_type="graph")["arch"]
        self.assertIn('name="first_seen"', graph)
        groups = self.env["self_healing.fix.attempt"].read_group(
            [("guardrail_id.code", "=", "GR-EXACT-001")],
            ["guardrail_id"],
            ["guardrail_id", "create_date:month"],
            lazy=False,
        )
        self.assertGreaterEqual(len(groups), 3, "attempts of several months")
        incident = self.make_incident(name="Grouped", module="x_grouped_module", error_class="SEQ_PKEY_DRIFT")
        self.env["self_healing.occurrence"].create([{"incident_id": incident.id}] * 2)
        groups = self.env["self_healing.occurrence"].read_group(
            [("module", "=", "x_grouped_module")], ["module"], ["module", "error_class"], lazy=False
        )
        self.assertEqual(
            [(row["module"], row["error_class"], row["__count"]) for row in groups],
            [("x_grouped_module", "SEQ_PKEY_DRIFT", 2)],
        )
