from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

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
                # An attempt made when the fault was seen, written the way the database keeps it
                # (flushed first: a pending ORM write would overwrite it).
                cls.env.flush_all()
                cls.env.cr.execute(
                    "UPDATE self_healing_fix_attempt SET create_date = %s WHERE id = %s", [moment, attempt.id]
                )
            if state == "healed":
                incident._set_state("fixing")
                incident._set_state("healed")
                cls.env.flush_all()
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
                worked = self.env[row["target"]["model"]].search(row["succeeded_target"]["domain"])
                failed = self.env[row["target"]["model"]].search(row["failed_target"]["domain"])
                self.assertEqual((row["succeeded"], row["times"] - row["succeeded"]), (len(worked), len(failed)))
                self.assertEqual(worked, validated, "the bar that worked opens the validated fixes")
                self.assertEqual(worked | failed, records)
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
        search = self.env["self_healing.fix.attempt"].get_view(view_type="search")["arch"]
        self.assertIn("create_date:month", search, "fix outcomes group by month from the search panel too")
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

    def test_every_chart_point_equals_the_records_it_opens(self):
        Dashboard = self.env["self_healing.dashboard"]
        for days in PERIODS:
            data = Dashboard.get_dashboard_data(days=days)
            self.assertEqual(len(data["daily"]), days, "one point a day")
            for point in data["daily"]:
                for key, target in point["targets"].items():
                    records = self.env[target["model"]].search(target["domain"])
                    self.assertEqual(point[key], len(records), f"{key} on {point['day']} over {days} days")
                applied = self.env["self_healing.fix.attempt"].search(point["targets"]["auto_applied"]["domain"])
                if applied:
                    worked = applied.filtered(lambda attempt: attempt.state == "validated")
                    self.assertAlmostEqual(point["auto_success_rate"], len(worked) / len(applied), places=3)
                else:
                    self.assertIsNone(point["auto_success_rate"], "no automatic fix that day is no rate")
            for row in data["confidence_distribution"]:
                records = self.env[row["target"]["model"]].search(row["target"]["domain"])
                self.assertEqual(row["count"], len(records), f"confidence {row['low']} over {days} days")
            binned = sum(row["count"] for row in data["confidence_distribution"])
            self.assertEqual(binned, data["current"]["confidence_count"], "every confidence falls in one bin")

    def test_chart_days_are_the_users_days(self):
        Dashboard = self.env["self_healing.dashboard"]
        now = fields.Datetime.now()
        # Half an hour after the user's midnight ahead of UTC, before it behind UTC: in UTC, another date.
        for tz, local_time in (("Pacific/Auckland", time(0, 30)), ("America/Los_Angeles", time(23, 30))):
            zone = ZoneInfo(tz)
            today = now.replace(tzinfo=timezone.utc).astimezone(zone).date()
            moment = datetime.combine(today - timedelta(days=2), local_time, tzinfo=zone)
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
            self.assertNotEqual(moment.date(), today - timedelta(days=2), "the test needs a zone far from UTC")
            incident = self.make_incident(name=f"Just after midnight in {tz}", first_seen=moment, last_seen=moment)
            data = Dashboard.with_context(tz=tz).get_dashboard_data(days=7)
            self.assertEqual(data["day_zone"], tz)
            days = [point["day"] for point in data["daily"]]
            self.assertEqual(days[-1], today.isoformat())
            point = data["daily"][days.index((today - timedelta(days=2)).isoformat())]
            opened = self.env["self_healing.incident"].search(point["targets"]["detected"]["domain"])
            self.assertIn(incident, opened)
            self.assertEqual(point["detected"], len(opened))
            for point in data["daily"]:
                for key, target in point["targets"].items():
                    records = self.env[target["model"]].search(target["domain"])
                    self.assertEqual(point[key], len(records), f"{key} on {point['day']} in {tz}")

    def test_without_a_zone_from_the_browser_the_preference_counts(self):
        self.env.user.tz = "Asia/Tokyo"
        data = self.env["self_healing.dashboard"].with_context(tz=False).get_dashboard_data(days=7)
        self.assertEqual(data["day_zone"], "Asia/Tokyo")
        self.env.user.tz = False
        data = self.env["self_healing.dashboard"].with_context(tz=False).get_dashboard_data(days=7)
        self.assertEqual(data["day_zone"], "UTC")

    def test_the_charts_show_what_the_fixtures_hold(self):
        """Figures checked against the fixtures themselves, not only against their own domains."""
        data = self.env["self_healing.dashboard"].get_dashboard_data(days=30)
        detected = sum(point["detected"] for point in data["daily"])
        # First seen an hour before each fixture's moment, 1 to 20 days ago: five of them.
        self.assertEqual(detected, 5)
        self.assertEqual(sum(point["healed"] for point in data["daily"]), 2)
        self.assertEqual(
            sum(point["auto_applied"] for point in data["daily"]), 2, "1 day validated, 20 days rolled back"
        )
        rates = {point["auto_success_rate"] for point in data["daily"]} - {None}
        self.assertEqual(rates, {0.0, 1.0})
        bins = {row["low"]: row["count"] for row in data["confidence_distribution"] if row["count"]}
        self.assertEqual(bins, {0.9: 1, 0.4: 1, 0.7: 1, 0.8: 2})

    def test_a_confidence_on_a_bin_bound_lands_where_the_database_puts_it(self):
        Dashboard = self.env["self_healing.dashboard"]
        for confidence in (0.3, 0.6, 0.7, 1.0):
            incident = self.make_incident(name=f"Bound {confidence}", confidence=confidence)
            rows = Dashboard.get_dashboard_data(days=7)["confidence_distribution"]
            holding = [
                row for row in rows if incident in self.env[row["target"]["model"]].search(row["target"]["domain"])
            ]
            self.assertEqual(len(holding), 1, f"{confidence} is in exactly one bin")
            self.assertEqual(holding[0]["low"], min(0.9, confidence), f"{confidence} opens its own bin")
            incident.unlink()

    def test_knowledge_base_size_apart_by_provenance(self):
        Dashboard = self.env["self_healing.dashboard"]
        before = {row["model"]: row for row in Dashboard.get_dashboard_data()["knowledge"]}
        self.Guardrail.create({"code": "GR-LEARNED-1", "name": "Here", "error_class": "SEQ_PKEY_DRIFT"})
        self.env["self_healing.knowledge.entry"].create(
            {"name": "Case learned here", "problem": "p", "source": "human_fix"}
        )
        # A shipped case, written the way the sync writes it: a shipped file, created a year ago.
        shipped = self.env["self_healing.knowledge.entry"].create(
            {"name": "Shipped case", "problem": "p", "shipped_file": "x.yml"}
        )
        self.env.cr.execute(
            "UPDATE self_healing_knowledge_entry SET create_date = now() - interval '1 year' WHERE id = %s",
            [shipped.id],
        )
        self.env.invalidate_all()
        data = Dashboard.get_dashboard_data()
        after = {row["model"]: row for row in data["knowledge"]}
        guardrails, cases = after["self_healing.guardrail"], after["self_healing.knowledge.entry"]
        self.assertEqual(guardrails["learned"], before["self_healing.guardrail"]["learned"] + 1)
        self.assertEqual(guardrails["shipped"], before["self_healing.guardrail"]["shipped"])
        self.assertEqual(cases["learned_30d"], before["self_healing.knowledge.entry"]["learned_30d"] + 1)
        self.assertEqual(cases["shipped"], before["self_healing.knowledge.entry"]["shipped"] + 1)
        self.assertEqual(cases["shipped_30d"], before["self_healing.knowledge.entry"]["shipped_30d"], "a year old")
        self.assertGreater(guardrails["shipped"], 0, "the shipped library is installed")
        for row in data["knowledge"]:
            for key, target in row["targets"].items():
                self.assertEqual(row[key], self.env[target["model"]].search_count(target["domain"]), key)
        self.assertEqual(data["knowledge_size"], sum(row["shipped"] + row["learned"] for row in data["knowledge"]))

    def test_the_answer_names_the_request_it_answers(self):
        """The client keeps an answer only if it is for its latest request (static/src/dashboard)."""
        Dashboard = self.env["self_healing.dashboard"]
        self.assertEqual(Dashboard.get_dashboard_data(days=30, request_id=7)["request_id"], 7)
        self.assertIsNone(Dashboard.get_dashboard_data(days=30)["request_id"])
        self.assertFalse(Dashboard.get_dashboard_data()["empty"])
