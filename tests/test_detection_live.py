import json

from odoo.tests import HttpCase, new_test_user, tagged

from ..engine.detect import fingerprint as fingerprints
from ..models.incident_grouping import addons_roots, grouping_key
from .common import read_field_error
from .test_detection_common import committed_env, staged_rows, use_live_capture, wait_for


@tagged("post_install", "-at_install")
class TestDetectionLive(HttpCase):
    """Faults raised by real requests, seen by the live log capture and grouped by the processing cron."""

    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        use_live_capture(self, self.dbname)
        self.authenticate("admin", "admin")
        self.partners = self.env["res.partner"].create([{"name": f"Detection partner {i}"} for i in range(4)])

    def call_kw(self, model, method, args, kwargs=None):
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        }
        response = self.url_open(
            f"/web/dataset/call_kw/{model}/{method}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200)
        return response.json()

    def staged_after(self, condition, params=(), count=1):
        where = f"id > %s AND {condition}"
        rows = wait_for(
            lambda: len(staged_rows(self.dbname, where, (self.state.max_ids["self_healing_signal"], *params))) >= count
        )
        self.assertTrue(rows, f"nothing matching {condition!r} was staged")
        return staged_rows(self.dbname, where, (self.state.max_ids["self_healing_signal"], *params))

    def process(self):
        with committed_env(self.dbname) as env:
            env["self_healing.signal"]._process_staged()

    def test_request_error_twice_with_other_ids_is_one_incident(self):
        first, second = self.partners[:2].ids, self.partners[2:].ids
        for ids in (first, second):
            answer = self.call_kw("res.partner", "open_commercial_entity", [ids])
            self.assertIn("Expected singleton", answer["error"]["data"]["message"])
        rows = self.staged_after(
            "message = 'Exception during request handling.' AND traceback LIKE %s",
            ["%Expected singleton: res.partner%"],
            count=2,
        )
        self.assertEqual(len(rows), 2)
        self.assertTrue(all(row["source"] == "log" and row["logger"] == "odoo.http" for row in rows))
        self.assertEqual(
            {row["request_path"] for row in rows}, {"/web/dataset/call_kw/res.partner/open_commercial_entity"}
        )
        expected = {
            grouping_key(fingerprints.fingerprint(row, addons_roots=addons_roots()).fingerprint, None) for row in rows
        }
        self.assertEqual(len(expected), 1, "the two tracebacks must share one fingerprint")

        self.process()
        with committed_env(self.dbname) as env:
            incident = env["self_healing.incident"].search([("fingerprint", "in", list(expected))])
            self.assertEqual(len(incident), 1)
            self.assertEqual(incident.occurrence_count, 2)
            self.assertEqual(incident.source, "log")
            self.assertEqual(incident.exception_type, "ValueError")
            self.assertEqual(incident.message_template, "Expected singleton: res.partner(<ids>)")
            self.assertEqual(incident.module, "base")
            self.assertIn("open_commercial_entity", incident.sample_traceback)
            self.assertEqual(set(incident.occurrence_ids.mapped("user_id.login")), {"admin"})
            self.assertEqual(set(incident.occurrence_ids.mapped("dbname")), {self.dbname})

    def test_request_errors_on_different_fields_are_two_incidents(self):
        for field_name in ("x_detect_missing_a", "x_detect_missing_b"):
            self.call_kw("res.partner", "read", [self.partners[:1].ids, [field_name]])
        self.staged_after("traceback LIKE %s", ["%Invalid field 'x_detect_missing_%"], count=2)
        self.process()
        with committed_env(self.dbname) as env:
            incidents = env["self_healing.incident"].search(
                [
                    ("id", ">", self.state.max_ids["self_healing_incident"]),
                    ("message_template", "like", "Invalid field 'x_detect_missing_"),
                ]
            )
            self.assertEqual(
                sorted(incidents.mapped("message_template")),
                [
                    read_field_error("res.partner", "x_detect_missing_a"),
                    read_field_error("res.partner", "x_detect_missing_b"),
                ],
            )
            self.assertEqual(incidents.mapped("occurrence_count"), [1, 1])

    def test_slow_request_becomes_a_performance_incident(self):
        self.state.set_params({"self_healing.slow_request_queries": "1", "self_healing.slow_request_seconds": "0"})
        for _round in range(2):
            self.call_kw("res.partner", "search_read", [[("id", "in", self.partners.ids)], ["name"]])
        rows = self.staged_after(
            "logger = 'werkzeug' AND message LIKE %s",
            # 19.0 logs the path as ".../search_read#res.partner.search_read".
            ['%"POST /web/dataset/call_kw/res.partner/search_read% HTTP/1.1" 200%'],
            count=2,
        )
        self.assertTrue(all(row["level"] == "WARNING" for row in rows))
        self.process()
        with committed_env(self.dbname) as env:
            incident = env["self_healing.incident"].search(
                [
                    ("name", "=", "Slow request: POST /web/dataset/call_kw/res.partner/search_read"),
                ]
            )
            self.assertEqual(len(incident), 1)
            self.assertEqual(incident.source, "performance")
            self.assertEqual(incident.severity, "low")
            self.assertGreaterEqual(incident.occurrence_count, 2)
            extra = incident.occurrence_ids[0].extra
            self.assertGreater(extra["query_count"], 1)
            self.assertEqual(extra["path"], "/web/dataset/call_kw/res.partner/search_read")
            self.assertEqual(extra["status"], 200)

    def test_fast_request_is_not_a_performance_signal(self):
        self.call_kw("res.partner", "search_read", [[("id", "in", self.partners.ids)], ["name"]])
        # The default limits (5 s, 1000 queries) are far above this request.
        rows = wait_for(
            lambda: staged_rows(
                self.dbname, "id > %s AND logger = 'werkzeug'", [self.state.max_ids["self_healing_signal"]]
            ),
            timeout=1.0,
        )
        self.assertFalse(rows)


@tagged("post_install", "-at_install")
class TestReportProblemInBrowser(HttpCase):
    def test_any_internal_user_reports_from_the_user_menu(self):
        reporter = new_test_user(self.env, login="tour_reporter", groups="base.group_user")
        self.start_tour("/odoo", "self_healing_report_problem_tour", login="tour_reporter")
        incident = self.env["self_healing.incident"].search([("source", "=", "user_report")])
        self.assertEqual(incident.name, "Reported by a user: The tour cannot print the delivery slip")
        occurrence = incident.occurrence_ids
        self.assertEqual(occurrence.user_id, reporter)
        self.assertTrue(occurrence.request_path.startswith("/odoo"), occurrence.request_path)
