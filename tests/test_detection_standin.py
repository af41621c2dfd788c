"""The scheduler stand-in: when it runs (a fake clock, no database), then what it runs (a real database).

The second half leaves a module 'to install' for real (committed, as the
scheduler reads it on a connection of its own), runs one pass of Odoo's own
scheduler, and follows its warning through the live capture, the sink and
the stand-in, which groups and heals while every cron of the database is
skipped.
"""

import logging
import threading
import time

from odoo.tests import BaseCase, TransactionCase, tagged

from odoo.addons.self_healing_chaos import faults

from ..detection import installer, sources, standin
from ..detection import settings as detection_settings
from ..detection.filters import DatabaseLevelFilter
from ..detection.sink import StagingSink
from ..detection.sources import CRON_LOGGER, SCHEDULER_BLOCKED_FORMAT
from ..engine.detect.signal import Signal
from .test_detection_common import committed_env, flush_capture, use_live_capture


def stick_a_module(env):
    """An uninstalled module left 'to install' two hours ago, as an interrupted install leaves it."""
    module = env["ir.module.module"].search(
        [("state", "=", "uninstalled"), ("name", "=like", "base\\_%")], order="name", limit=1
    )
    faults.stick_module(env, module.name, "to install", minutes_ago=120)
    return {"module": module.name, "cron_id": env.ref("self_healing.ir_cron_occurrence_retention").id}


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@tagged("post_install", "-at_install")
class TestStandinGate(BaseCase):
    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.gate = standin.StandinGate(interval=60.0, clock=self.clock)

    def test_first_request_runs_at_once_and_the_worker_stops_when_nothing_is_wanted(self):
        self.assertTrue(self.gate.request("db", ("a",)))
        self.assertEqual(self.gate.next_step("db"), (standin.RUN, ("a",)))
        self.assertFalse(self.gate.is_idle("db"))
        self.assertEqual(self.gate.next_step("db"), (standin.STOP, None))
        self.assertTrue(self.gate.is_idle("db"))

    def test_same_blocking_state_runs_at_most_once_per_interval(self):
        self.gate.request("db", ("a",))
        self.gate.next_step("db")
        self.gate.next_step("db")
        self.clock.now += 20
        self.assertTrue(self.gate.request("db", ("a",)), "no worker is left: a new one starts")
        self.assertEqual(self.gate.next_step("db"), (standin.WAIT, 40.0))
        self.assertFalse(self.gate.request("db", ("a",)), "requests while waiting are merged")
        self.clock.now += 39.5
        self.assertEqual(self.gate.next_step("db"), (standin.WAIT, 0.5))
        self.clock.now += 0.5
        self.assertEqual(self.gate.next_step("db"), (standin.RUN, ("a",)))
        self.assertEqual(self.gate.next_step("db"), (standin.STOP, None))

    def test_new_blocking_state_runs_at_once(self):
        self.gate.request("db", ("a",))
        self.gate.next_step("db")
        self.gate.next_step("db")
        self.clock.now += 5
        self.gate.request("db", ("a", "b"))
        self.assertEqual(self.gate.next_step("db"), (standin.RUN, ("a", "b")))

    def test_one_worker_per_database_and_databases_are_independent(self):
        self.assertTrue(self.gate.request("one", ("a",)))
        self.assertFalse(self.gate.request("one", ("a",)))
        self.assertTrue(self.gate.request("two", ("a",)))
        self.assertEqual(self.gate.next_step("one"), (standin.RUN, ("a",)))
        self.assertFalse(self.gate.request("one", ("b",)), "the running worker takes it after its run")
        self.assertEqual(self.gate.next_step("one"), (standin.RUN, ("b",)))
        self.assertEqual(self.gate.next_step("two"), (standin.RUN, ("a",)))


@tagged("post_install", "-at_install")
class TestAlwaysCapturedWarnings(BaseCase):
    def record(self, name, msg, level=logging.WARNING):
        return logging.LogRecord(name, level, __file__, 1, msg, ("somedb",), None)

    def test_the_scheduler_warning_passes_the_default_level_and_no_other_warning_does(self):
        level_filter = DatabaseLevelFilter()
        self.assertTrue(level_filter.filter(self.record(CRON_LOGGER, SCHEDULER_BLOCKED_FORMAT)))
        self.assertFalse(level_filter.filter(self.record(CRON_LOGGER, "Skipping database %s as its base version")))
        self.assertFalse(level_filter.filter(self.record("odoo.http", SCHEDULER_BLOCKED_FORMAT)))
        self.assertFalse(level_filter.filter(self.record(CRON_LOGGER, SCHEDULER_BLOCKED_FORMAT, logging.INFO)))
        self.assertLessEqual(installer.handler_level(), logging.WARNING)

    def test_the_staged_warning_is_a_cron_signal_that_blocks_the_scheduler(self):
        message = SCHEDULER_BLOCKED_FORMAT % "prod"
        refinement = sources.refine("log", CRON_LOGGER, message)
        self.assertEqual((refinement.source, refinement.facts), ("cron", {"scheduler_blocked": True}))
        self.assertTrue(sources.blocks_scheduler({"source": "log", "logger": CRON_LOGGER, "message": message}))
        self.assertFalse(
            sources.blocks_scheduler(
                {
                    "source": "log",
                    "logger": CRON_LOGGER,
                    "message": "Skipping database prod as its base version is not 18.0.",
                }
            )
        )
        self.assertEqual(sources.refine("log", CRON_LOGGER, "Skipping database prod").source, "log")

    def test_finished_job_lines_of_both_series_are_slow_job_signals(self):
        lines = {
            "18.0": "Job 'Nightly sync' (42) done in 12.500s",
            "19.0": "Job 'Nightly sync' (42) fully done (#loop 1; done 3; remaining 0; duration 12.50s)",
        }
        for series, message in lines.items():
            with self.subTest(series):
                refinement = sources.refine("log", CRON_LOGGER, message)
                self.assertEqual(
                    (refinement.source, refinement.title), ("performance", "Slow scheduled action: Nightly sync")
                )
                self.assertEqual(refinement.facts, {"cron_id": 42, "cron_name": "Nightly sync", "duration": 12.5})


@tagged("post_install", "-at_install")
class TestStandinThreads(BaseCase):
    """The threads around the gate, with a run that only records itself."""

    def test_runs_never_overlap_and_requests_meanwhile_become_one_run(self):
        active, overlaps, calls = [0], [0], []
        lock = threading.Lock()

        def run(dbname, signature):
            with lock:
                active[0] += 1
                overlaps[0] = max(overlaps[0], active[0])
                calls.append((dbname, signature, time.monotonic()))
            time.sleep(0.2)
            with lock:
                active[0] -= 1

        stand_in = standin.SchedulerStandin(interval=0.5, run=run)
        stand_in.request("db", ("a",))
        time.sleep(0.05)
        requesters = [threading.Thread(target=stand_in.request, args=("db", ("a",))) for _i in range(20)]
        for thread in requesters:
            thread.start()
        for thread in requesters:
            thread.join()
        self.assertTrue(stand_in.wait_idle("db", 10))
        self.assertEqual(overlaps[0], 1)
        self.assertEqual(len(calls), 2, "twenty requests during the first run make one more run")
        self.assertGreaterEqual(calls[1][2] - calls[0][2], 0.5, "the same state waits for the interval")
        self.assertEqual(stand_in.runs["db"], 2)

    def test_a_failing_run_is_logged_and_the_next_request_runs_again(self):
        def run(dbname, signature):
            raise RuntimeError("stand-in probe failure")

        stand_in = standin.SchedulerStandin(interval=60.0, run=run)
        with self.assertLogs(standin.__name__, logging.WARNING) as logs:
            stand_in.request("db", ("a",))
            self.assertTrue(stand_in.wait_idle("db", 10))
        self.assertIn("stand-in probe failure", "\n".join(logs.output))
        self.assertEqual(stand_in.errors, 1)
        stand_in.request("db", ("b",))
        self.assertTrue(stand_in.wait_idle("db", 10))
        self.assertEqual((stand_in.runs["db"], stand_in.errors), (2, 2))


@tagged("post_install", "-at_install")
class TestStandinRuns(TransactionCase):
    """A module left 'to install' (committed); Odoo's scheduler skips the database; the stand-in runs the jobs."""

    INTERVAL = 3.0

    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        use_live_capture(self, self.dbname)
        # The live sink hands blocked databases to a stand-in of this test (a short interval).
        sink = installer.sink_of(installer.current())
        self.run_starts = []
        self.stand_in = standin.SchedulerStandin(interval=self.INTERVAL, run=self.recorded_run)
        previous, sink.standin = sink.standin, self.stand_in
        self.addCleanup(setattr, sink, "standin", previous)
        with committed_env(self.dbname) as env:
            self.assertEqual(detection_settings.read(env.cr).capture_level, logging.ERROR)
            self.facts = stick_a_module(env)
            self.processing_cron = env.ref("self_healing.ir_cron_process_signals").id
        self.addCleanup(self._unstick)
        self.addCleanup(self.stand_in.wait_idle, self.dbname, 120)

    def recorded_run(self, dbname, signature):
        self.run_starts.append(time.monotonic())
        return standin.run_jobs(dbname, signature)

    def _unstick(self):
        with committed_env(self.dbname) as env:
            env["ir.module.module"].search([("name", "=", self.facts["module"]), ("state", "=", "to install")]).write(
                {"state": "uninstalled"}
            )

    def run_scheduler(self):
        """One pass of Odoo's scheduler over the test database, with a job due (a committed trigger)."""
        cron_id = self.facts["cron_id"]
        with committed_env(self.dbname) as env:
            env["ir.cron"].browse(cron_id)._trigger()
        thread = threading.current_thread()
        previous = getattr(thread, "dbname", None)
        try:
            type(self.env["ir.cron"])._process_jobs(self.dbname)
        finally:
            thread.dbname = previous
            with committed_env(self.dbname) as env:
                env.cr.execute("DELETE FROM ir_cron_trigger WHERE cron_id = %s", [cron_id])
        flush_capture()

    def committed(self, query, params=()):
        with committed_env(self.dbname) as env:
            env.cr.execute(query, list(params))
            return env.cr.fetchall()

    def test_stand_in_groups_and_heals_while_the_scheduler_skips_the_database(self):
        message = SCHEDULER_BLOCKED_FORMAT % self.dbname
        self.run_scheduler()
        self.assertTrue(self.stand_in.wait_idle(self.dbname, 120))
        self.assertEqual((self.stand_in.runs.get(self.dbname), self.stand_in.errors), (1, 0))
        self.assertFalse(
            self.committed(
                "SELECT id FROM self_healing_signal WHERE id > %s", [self.state.max_ids["self_healing_signal"]]
            ),
            "the processing job ran",
        )
        self.assertFalse(
            self.committed(
                "SELECT id FROM ir_cron_trigger WHERE cron_id = %s AND id > %s",
                [self.processing_cron, self.state.max_ids["ir_cron_trigger"]],
            ),
            "no trigger for a cron the scheduler skips",
        )
        with committed_env(self.dbname) as env:
            occurrence = env["self_healing.occurrence"].search([("message", "=", message)], order="id desc", limit=1)
            self.assertEqual((occurrence.level, occurrence.signal_source), ("WARNING", "cron"))
            incident = occurrence.incident_id
            self.assertEqual(incident.error_class, "CRON_FAILURE")
            self.assertEqual(incident.guardrail_id.code, "GR-CRN-002")
            self.assertFalse(incident.to_process, "the healing job ran")
            self.assertTrue(incident.decision, "the healing job decided")
            first_count = incident.occurrence_count

        # The scheduler says it again at its next poll: same blocking state, one more run after the interval.
        self.run_scheduler()
        self.assertTrue(self.stand_in.wait_idle(self.dbname, 120))
        self.assertEqual(self.stand_in.runs[self.dbname], 2)
        self.assertGreaterEqual(self.run_starts[1] - self.run_starts[0], self.INTERVAL)
        with committed_env(self.dbname) as env:
            self.assertEqual(env["self_healing.incident"].browse(incident.id).occurrence_count, first_count + 1)

    def test_old_warning_after_the_reset_goes_to_the_processing_cron(self):
        # Modules reset between the warning and the sink's check: the scheduler runs again, so no stand-in.
        self._unstick()
        sink = StagingSink(standin=self.stand_in)
        with committed_env(self.dbname) as env:
            self.assertFalse(standin.pending_modules(env.cr))
        sink(
            self.dbname,
            [
                Signal(
                    source="log",
                    level="WARNING",
                    logger=CRON_LOGGER,
                    message=SCHEDULER_BLOCKED_FORMAT % self.dbname,
                    dbname=self.dbname,
                ).to_dict()
            ],
        )
        self.assertEqual((sink.stats()["staged"], sink.stats()["standin_requests"]), (1, 0))
        self.assertTrue(
            self.committed(
                "SELECT id FROM ir_cron_trigger WHERE cron_id = %s AND id > %s",
                [self.processing_cron, self.state.max_ids["ir_cron_trigger"]],
            )
        )
