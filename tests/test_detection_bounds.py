"""The capture's memory is bounded in bytes, not only in records: multi-MB lines cost a bounded copy.

The handler is the real one (``detection.capture``) fed by the real logging
module; its sink is held back by an event, as a slow or unreachable database
would hold it, so the queue fills.
"""

import logging
import threading
import unittest

from odoo.tests import tagged

from ..detection import capture
from ..detection.staging import MAX_MESSAGE_CHARS, MAX_TRACEBACK_CHARS

LOGGER_NAME = "odoo.addons.detection_bounds_probe"


class _HeldSink:
    def __init__(self):
        self.release = threading.Event()
        self.delivered = []

    def __call__(self, dbname, signals):
        self.release.wait(30)
        self.delivered.extend(signals)


@tagged("post_install", "-at_install")
class TestCaptureBounds(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.sink = _HeldSink()
        self.handler = capture.BufferedCaptureHandler(
            self.sink, capacity=10000, batch_size=1, flush_interval=0.05, ignore_prefix=None
        )
        self.logger = logging.getLogger(LOGGER_NAME)
        self.logger.propagate = False
        # The test runner silences Odoo's loggers below CRITICAL; a server logs errors.
        self.logger.setLevel(logging.ERROR)
        self.logger.addHandler(self.handler)
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        self.logger.removeHandler(self.handler)
        self.logger.propagate = True
        self.logger.setLevel(logging.NOTSET)
        self.sink.release.set()
        self.handler.close(5)

    def test_a_multi_megabyte_bad_query_is_cut_keeping_its_error(self):
        sql = "SELECT " + ", ".join(f"column_{i}" for i in range(400_000))  # ~5 MB
        self.logger.error('bad query: %s\nERROR: column "x_gone" does not exist', sql)
        self.sink.release.set()
        self.assertTrue(self.handler.flush(10))
        (signal,) = self.sink.delivered
        self.assertLessEqual(len(signal["message"]), MAX_MESSAGE_CHARS)
        self.assertTrue(signal["message"].startswith("bad query: SELECT column_0"))
        self.assertTrue(signal["message"].endswith('ERROR: column "x_gone" does not exist'))
        self.assertEqual(self.handler.stats()["clipped"], 1)

    def test_a_huge_exception_message_and_a_deep_traceback_are_bounded(self):
        def recurse(depth):
            if depth == 0:
                raise ValueError("v" * 3_000_000)
            recurse(depth - 1)

        try:
            recurse(900)
        except ValueError:
            self.logger.exception("deep failure")
        self.sink.release.set()
        self.assertTrue(self.handler.flush(10))
        (signal,) = self.sink.delivered
        self.assertLess(len(signal["traceback"]), MAX_TRACEBACK_CHARS)
        self.assertIn("frames omitted", signal["traceback"])
        self.assertTrue(signal["traceback"].rstrip().endswith("v" * 100))

    def test_queue_holds_a_bounded_number_of_characters_and_counts_the_rest(self):
        self.handler.max_queue_chars = 2 * MAX_MESSAGE_CHARS * 10  # about twenty clipped records
        line = "x" * 2_000_000
        for _ in range(200):
            self.logger.error("huge line %s", line)
        stats = self.handler.stats()
        self.assertLessEqual(stats["queue_chars"], self.handler.max_queue_chars)
        self.assertGreater(stats["dropped"], 150)
        self.assertEqual(stats["captured"] + stats["dropped"], 200)
        self.sink.release.set()
        self.assertTrue(self.handler.flush(20))
        self.assertEqual(len(self.sink.delivered), stats["captured"])
        self.assertEqual(self.handler.stats()["queue_chars"], 0)
