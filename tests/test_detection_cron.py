import threading
import unittest
from datetime import timedelta

from odoo import fields
from odoo.modules.registry import Registry
from odoo.sql_db import db_connect
from odoo.tests import tagged
from odoo.tests.common import get_db_name

from .. import compat
from .common import ODOO_MAJOR
from .test_detection_common import committed_env, staged_rows, use_live_capture, wait_for


@tagged("post_install", "-at_install")
class TestDetectionCron(unittest.TestCase):
    """Scheduled actions run by Odoo's own cron machinery, with real commits as in a cron worker."""

    def setUp(self):
        super().setUp()
        self.dbname = get_db_name()
        use_live_capture(self, self.dbname)

    def make_cron(self, name, code):
        with committed_env(self.dbname) as env:
            cron = env["ir.cron"].create(
                {
                    "name": name,
                    "model_id": env.ref("base.model_res_partner").id,
                    "state": "code",
                    "code": code,
                    "interval_number": 1,
                    "interval_type": "days",
                    "nextcall": fields.Datetime.now() - timedelta(minutes=1),
                }
            )
        self.state.crons.append(cron.id)
        return cron.id

    def make_due(self, cron_id):
        with committed_env(self.dbname) as env:
            env.cr.execute(
                "UPDATE ir_cron SET nextcall = (now() at time zone 'UTC') - interval '1 minute' WHERE id = %s",
                [cron_id],
            )

    def run_job(self, cron_id):
        """Acquire and run one job as a cron worker does in ir.cron._process_jobs."""
        thread = threading.current_thread()
        previous = getattr(thread, "dbname", None)
        thread.dbname = self.dbname
        try:
            db = db_connect(self.dbname)
            with db.cursor() as cron_cr:
                job = Registry(self.dbname)["ir.cron"]._acquire_one_job(cron_cr, cron_id)
                self.assertTrue(job, f"cron {cron_id} is not ready")
                compat.process_cron_job(Registry(self.dbname), db, cron_cr, job)
        finally:
            thread.dbname = previous

    def process_signals(self):
        with committed_env(self.dbname) as env:
            cron_id = env.ref("self_healing.ir_cron_process_signals").id
            env["self_healing.signal"]._trigger_processing()
        self.run_job(cron_id)

    def cron_values(self, cron_id):
        with committed_env(self.dbname) as env:
            cron = env["ir.cron"].with_context(active_test=False).browse(cron_id)
            return {"failure_count": cron.failure_count, "active": cron.active}

    def incidents(self, domain):
        with committed_env(self.dbname) as env:
            incidents = env["self_healing.incident"].search(
                [("id", ">", self.state.max_ids["self_healing_incident"]), *domain]
            )
            return [
                {
                    "id": incident.id,
                    "name": incident.name,
                    "source": incident.source,
                    "exception_type": incident.exception_type,
                    "count": incident.occurrence_count,
                    "severity": incident.severity,
                    "extras": incident.occurrence_ids.sorted("id").mapped("extra"),
                    "messages": incident.occurrence_ids.sorted("id").mapped("message"),
                }
                for incident in incidents
            ]

    def test_failing_cron_is_seen_in_the_log_and_by_the_scan(self):
        cron_id = self.make_cron("Detection failing job", "x = 1 / 0")
        for _run in range(2):
            self.make_due(cron_id)
            self.run_job(cron_id)
        self.assertEqual(self.cron_values(cron_id), {"failure_count": 2, "active": True}, "counted by Odoo")
        where = "id > %s AND logger = 'odoo.addons.base.models.ir_cron' AND message LIKE %s"
        params = (self.state.max_ids["self_healing_signal"], f"Job 'Detection failing job' ({cron_id}) server action%")
        self.assertTrue(wait_for(lambda: len(staged_rows(self.dbname, where, params)) == 2))
        self.process_signals()
        [failure] = self.incidents([("exception_type", "=", "ZeroDivisionError")])
        self.assertEqual((failure["source"], failure["count"]), ("cron", 2))
        self.assertEqual({extra["cron_id"] for extra in failure["extras"]}, {cron_id})

        with committed_env(self.dbname) as env:
            self.assertEqual(env["ir.cron"]._self_healing_scan_failures(), 1)
            self.assertEqual(env["ir.cron"]._self_healing_scan_failures(), 0, "nothing new since the last scan")
        self.make_due(cron_id)
        self.run_job(cron_id)
        with committed_env(self.dbname) as env:
            self.assertEqual(env["ir.cron"]._self_healing_scan_failures(), 1)
        self.process_signals()
        [failing] = self.incidents([("name", "=", "Scheduled action failing: Detection failing job")])
        self.assertEqual((failing["source"], failing["count"]), ("cron", 2))
        self.assertEqual([extra["failure_count"] for extra in failing["extras"]], [2, 3])
        self.assertEqual(failing["extras"][0]["cause_incident_id"], failure["id"])
        self.assertEqual(
            failing["messages"][1][: len(f"Job 'Detection failing job' ({cron_id}) failed 3 times")],
            f"Job 'Detection failing job' ({cron_id}) failed 3 times",
        )

    def test_cron_deactivated_by_odoo_becomes_an_incident(self):
        cron_id = self.make_cron("Detection doomed job", "x = 1 / 0")
        with committed_env(self.dbname) as env:
            env.cr.execute(
                "UPDATE ir_cron SET failure_count = 4, first_failure_date = %s WHERE id = %s",
                [fields.Datetime.now() - timedelta(days=8), cron_id],
            )
        self.run_job(cron_id)
        self.assertEqual(self.cron_values(cron_id), {"failure_count": 0, "active": False}, "deactivated by Odoo")
        self.process_signals()
        [deactivated] = self.incidents(
            [("name", "=", "Scheduled action deactivated after repeated failures: Detection doomed job")]
        )
        self.assertEqual((deactivated["source"], deactivated["severity"], deactivated["count"]), ("cron", "high", 1))
        self.assertIn(
            f"Cron job 'Detection doomed job' ({cron_id}) has been deactivated after failing 5 times",
            deactivated["messages"][0],
        )
        self.assertEqual(deactivated["extras"][0]["cron_id"], cron_id)

    def test_slow_cron_becomes_a_performance_incident(self):
        self.state.set_params({"self_healing.slow_cron_seconds": "0.1"})
        cron_id = self.make_cron("Detection slow job", "time.sleep(0.3)")
        self.run_job(cron_id)
        self.assertEqual(self.cron_values(cron_id)["failure_count"], 0)
        where = "id > %s AND logger = 'odoo.addons.base.models.ir_cron' AND message LIKE %s"
        # 18.0 logs "... done in 0.301s"; 19.0 "... fully done (#loop 1; ...; duration 0.30s)".
        finished = "fully done (#loop" if ODOO_MAJOR >= 19 else "done in"
        params = (self.state.max_ids["self_healing_signal"], f"Job 'Detection slow job' ({cron_id}) {finished} %")
        self.assertTrue(wait_for(lambda: staged_rows(self.dbname, where, params)))
        self.process_signals()
        [slow] = self.incidents([("name", "=", "Slow scheduled action: Detection slow job")])
        self.assertEqual((slow["source"], slow["severity"]), ("performance", "low"))
        self.assertGreaterEqual(slow["extras"][0]["duration"], 0.3)
