"""The capture's database connection cut while a batch is written: retried, or counted lost where it shows.

The fault is the one production gets when PostgreSQL restarts or an
administrator ends a backend: the sink's own connection is terminated by
``pg_terminate_backend`` from another session while its INSERT waits (the
staging table is locked, so the moment is certain, not a race).
"""

import contextlib
import logging
import os
import threading
import time
import unittest
import uuid

from odoo.sql_db import db_connect
from odoo.tests import tagged
from odoo.tests.common import get_db_name

from ..detection import capture
from ..detection.connection import APPLICATION_SUFFIX
from ..detection.sink import RETRY_DELAYS, StagingSink
from ..detection.staging import TABLE as STAGING_TABLE
from ..engine.detect.signal import Signal
from .test_detection_common import committed_env, use_live_capture

APPLICATION = f"odoo-{os.getpid()}-{APPLICATION_SUFFIX}"


@contextlib.contextmanager
def locked_staging(dbname):
    """Hold the staging table so that every INSERT into it waits, until the block ends."""
    with db_connect(dbname).cursor() as cr:
        cr.execute(f"LOCK TABLE {STAGING_TABLE} IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            cr.rollback()


def cut_waiting_inserts(dbname):
    """Terminate this process's capture connections that wait on the staging lock; how many."""
    with db_connect("postgres").cursor() as cr:
        cr.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = %s AND wait_event_type = 'Lock'",
            [dbname, APPLICATION],
        )
        return cr.fetchone()[0]


def wait_until(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


@tagged("post_install", "-at_install")
class TestCaptureConnectionCut(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.dbname = get_db_name()
        use_live_capture(self, self.dbname)
        self.marker = f"reliability capture probe {uuid.uuid4().hex}"

    def signal(self):
        return Signal(source="log", level="ERROR", logger="odoo.reliability", message=self.marker).to_dict()

    def staged(self):
        with committed_env(self.dbname) as env:
            env.cr.execute(f"SELECT count(*) FROM {STAGING_TABLE} WHERE message = %s", [self.marker])
            return env.cr.fetchone()[0]

    def test_a_batch_whose_connection_is_cut_is_retried_and_staged_once(self):
        sink = StagingSink()
        outcome = []

        def deliver():
            try:
                sink(self.dbname, [self.signal()])
            except Exception as exc:  # noqa: BLE001 - the outcome is what is asserted
                outcome.append(exc)
            else:
                outcome.append(None)

        thread = threading.Thread(target=deliver)
        with locked_staging(self.dbname):
            thread.start()
            self.assertTrue(wait_until(lambda: cut_waiting_inserts(self.dbname)), "the INSERT never waited")
        thread.join(30)
        self.assertEqual(outcome, [None], "the cut batch must be delivered on a new connection, not raised")
        self.assertEqual(self.staged(), 1, "staged exactly once")
        self.assertGreaterEqual(sink.stats()["retries"], 1)

    def test_a_batch_lost_on_every_try_is_counted_in_the_database_without_a_later_delivery(self):
        host = f"reliability-{uuid.uuid4().hex[:12]}"
        handler = capture.BufferedCaptureHandler(None, flush_interval=0.05, ignore_prefix=None)
        sink = StagingSink(stats_provider=lambda: {**handler.stats(), **sink.stats()})
        sink.host = host
        handler.sink = sink
        self.addCleanup(handler.close, 1.0)
        self.addCleanup(self.delete_stats, host)
        record = logging.LogRecord("odoo.reliability", logging.ERROR, __file__, 1, self.marker, None, None)
        thread = threading.current_thread()
        previous = getattr(thread, "dbname", None)
        thread.dbname = self.dbname
        try:
            handler.handle(record)
        finally:
            thread.dbname = previous
        tries = len(RETRY_DELAYS) + 1
        cuts = 0
        with locked_staging(self.dbname):
            deadline = time.monotonic() + 30
            while handler.stats()["sink_lost"] < 1 and time.monotonic() < deadline:
                cuts += cut_waiting_inserts(self.dbname)
                time.sleep(0.02)
        self.assertEqual(handler.stats()["sink_lost"], 1, "every try was cut: the batch is lost")
        self.assertGreaterEqual(cuts, tries)
        self.assertEqual(sink.stats()["retries"], tries - 1, "the retries are bounded")
        self.assertEqual(self.staged(), 0)

        # Nothing else is logged: the flusher alone must tell the database what was lost.
        def row():
            with committed_env(self.dbname) as env:
                env.cr.execute(
                    "SELECT captured, sink_lost FROM self_healing_capture_stat WHERE host = %s AND pid = %s",
                    [host, os.getpid()],
                )
                return env.cr.fetchone()

        self.assertEqual(wait_until(row, timeout=15), (1, 1))

    def delete_stats(self, host):
        with committed_env(self.dbname) as env:
            env.cr.execute("DELETE FROM self_healing_capture_stat WHERE host = %s", [host])
