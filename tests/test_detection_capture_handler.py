"""The capture handler: cheap, never raising, bounded, routing per database; and Signal itself."""

import logging
import os
import sys
import threading
import traceback
from datetime import datetime, timedelta, timezone

import pytest

from ..detection import capture
from ..engine.detect import fingerprint
from ..engine.detect.signal import SOURCES, Signal


class RecordingSink:
    """Keeps what the handler delivers, per database, like the Odoo sink would insert it."""

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def __call__(self, dbname, signals):
        with self.lock:
            self.calls.append((dbname, list(signals), threading.current_thread().name))

    def signals(self, dbname=Ellipsis):
        with self.lock:
            return [s for db, batch, _ in self.calls if dbname is Ellipsis or db == dbname for s in batch]


@pytest.fixture(autouse=True)
def no_database_on_this_thread():
    """Run as on a thread outside any request: pytest-odoo's thread carries the test database."""
    thread = threading.current_thread()
    missing = object()
    previous = getattr(thread, "dbname", missing)
    if previous is not missing:
        del thread.dbname
    yield
    if previous is not missing:
        thread.dbname = previous


@pytest.fixture
def make_logger():
    """A private logger (not propagating to root) with a handler attached; closed afterwards."""
    created = []

    def factory(handler, name="test.capture.app"):
        logger = logging.getLogger(f"{name}.{len(created)}")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
        created.append((logger, handler))
        return logger

    yield factory
    for logger, handler in created:
        logger.removeHandler(handler)
        handler.close(timeout=2)


def fail_in_custom_code():
    raise KeyError("serial_id")


def test_error_records_reach_the_sink_as_signal_dicts(make_logger):
    sink = RecordingSink()
    handler = capture.BufferedCaptureHandler(sink, flush_interval=0.05)
    logger = make_logger(handler)
    try:
        fail_in_custom_code()
    except KeyError:
        logger.exception("export of order %s failed", 42)
    logger.warning("below the default ERROR threshold")
    assert handler.flush(timeout=5)
    [signal_dict] = sink.signals()
    signal = Signal.from_dict(signal_dict)
    assert signal.source == "log" and signal.level == "ERROR"
    assert signal.message == "export of order 42 failed"
    assert signal.traceback.startswith("Traceback (most recent call last):")
    assert "in fail_in_custom_code" in signal.traceback
    # Source lines are looked up on the flusher thread, not skipped.
    assert 'raise KeyError("serial_id")' in signal.traceback
    assert signal.traceback.rstrip().endswith("KeyError: 'serial_id'")
    assert signal.dbname is None
    assert signal.extra["func"] == "test_error_records_reach_the_sink_as_signal_dicts"
    assert sink.calls[0][2] == "self_healing.capture.flusher"
    assert handler.stats()["flushed"] == 1 and handler.stats()["captured"] == 1


def test_snapshot_text_matches_python_traceback_and_groups_the_same():
    code = (
        "class UniqueViolation(Exception):\n    pass\n"
        "UniqueViolation.__module__ = 'psycopg2.errors'\n"
        "def write():\n    raise UniqueViolation('duplicate key value violates unique constraint \"x_pkey\"')\n"
        "def confirm():\n    try:\n        write()\n    except UniqueViolation as exc:\n"
        "        raise ValueError('wrapped') from exc\n"
        "def cron():\n    try:\n        confirm()\n    except ValueError:\n        {}['missing']\n"
        "cron()\n"
    )
    try:
        exec(compile(code, "/opt/odoo/addons/my_mod/models/job.py", "exec"), {})
    except KeyError:
        exc_info = sys.exc_info()
    python_text = "".join(traceback.format_exception(*exc_info)).rstrip("\n")
    our_text = capture.format_snapshot(capture.snapshot_exception(*exc_info))
    assert our_text == python_text
    assert fingerprint.fingerprint(our_text) == fingerprint.fingerprint(python_text)


def test_traceback_already_formatted_by_another_handler_is_reused(make_logger):
    sink = RecordingSink()
    handler = capture.BufferedCaptureHandler(sink, flush_interval=0.05)
    logger = make_logger(handler)
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "boom", (), None)
    record.exc_text = 'Traceback (most recent call last):\n  File "x.py", line 1, in f\nValueError: as formatted before'
    record.message = "boom"
    logger.handle(record)
    assert handler.flush(timeout=5)
    assert sink.signals()[0]["traceback"] == record.exc_text


def test_handler_never_raises_when_sink_or_formatting_fails(make_logger, monkeypatch):
    # pytest 9 puts its own capture handler on this logger too, and that one re-raises a
    # formatting error while logging.raiseExceptions is on. What is tested is ours.
    monkeypatch.setattr(logging, "raiseExceptions", False)

    def broken_sink(dbname, signals):
        raise RuntimeError("database is down")

    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("cannot print me")

    handler = capture.BufferedCaptureHandler(broken_sink, flush_interval=0.05)
    logger = make_logger(handler)
    logger.error("wrong arguments %d %d", "not-a-number")  # message formatting fails  # noqa: PLE1206 - the formatting failure is the point
    try:
        raise Unprintable()
    except Unprintable:
        logger.exception("exception whose str() fails")
    logger.error("plain")
    handler.flush(timeout=5)
    stats = handler.stats()
    assert stats["captured"] == 3
    assert stats["sink_errors"] >= 1 and stats["sink_lost"] == 3 and stats["flushed"] == 0
    assert stats["emit_errors"] == 0


def test_formatting_failures_still_deliver_a_message(make_logger, monkeypatch):
    monkeypatch.setattr(logging, "raiseExceptions", False)  # see the test above
    sink = RecordingSink()
    handler = capture.BufferedCaptureHandler(sink, flush_interval=0.05)
    logger = make_logger(handler)
    logger.error("wrong arguments %d %d", "not-a-number")  # noqa: PLE1206 - as above
    assert handler.flush(timeout=5)
    [signal] = sink.signals()
    assert "wrong arguments %d %d" in signal["message"] and "not-a-number" in signal["message"]


def test_burst_from_threads_accounts_for_every_record(make_logger):
    release = threading.Event()

    def slow_sink(dbname, signals):
        release.wait(10)  # the flusher is stuck, so the queue must fill and drop

    handler = capture.BufferedCaptureHandler(slow_sink, capacity=500, batch_size=100, flush_interval=0.01)
    logger = make_logger(handler)
    per_thread, thread_count = 1000, 4
    start = threading.Barrier(thread_count)

    def burst():
        start.wait()
        for index in range(per_thread):
            logger.error("burst record %d", index)

    threads = [threading.Thread(target=burst) for _ in range(thread_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = handler.stats()
    assert stats["captured"] + stats["dropped"] == per_thread * thread_count
    assert stats["dropped"] > 0
    assert stats["captured"] <= 500 + handler.batch_size  # the bound holds (one batch may be in the sink)
    release.set()
    assert handler.flush(timeout=10)
    assert handler.stats()["flushed"] == stats["captured"]


def test_burst_within_the_bound_drops_nothing(make_logger):
    sink = RecordingSink()
    handler = capture.BufferedCaptureHandler(sink, capacity=10000, flush_interval=0.01)
    logger = make_logger(handler)

    def burst():
        for index in range(500):
            logger.error("record %d", index)

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert handler.flush(timeout=10)
    stats = handler.stats()
    assert (stats["captured"], stats["dropped"], stats["flushed"]) == (2000, 0, 2000)
    assert len(sink.signals()) == 2000


def test_own_loggers_and_the_flusher_thread_are_ignored(make_logger):
    sink_logger = logging.getLogger("test.capture.sink_side")
    sink = RecordingSink()

    def logging_sink(dbname, signals):
        sink(dbname, signals)
        sink_logger.error("the sink itself failed for %s", dbname)  # would loop back without the guard

    handler = capture.BufferedCaptureHandler(logging_sink, flush_interval=0.05)
    make_logger(handler)
    sink_logger.addHandler(handler)
    sink_logger.propagate = False
    try:
        own = logging.getLogger("odoo.addons.self_healing.models.incident")
        # Under Odoo the "odoo" logger may be set to CRITICAL: pin this one so the record is emitted.
        saved_level, saved_propagate = own.level, own.propagate
        own.setLevel(logging.DEBUG)
        own.propagate = False
        own.addHandler(handler)
        try:
            own.error("our own error")
        finally:
            own.removeHandler(handler)
            own.setLevel(saved_level)
            own.propagate = saved_propagate
        logging.getLogger("test.capture.app.0").error("a real fault")
        assert handler.flush(timeout=5)
        handler.flush(timeout=1)
        assert [s["message"] for s in sink.signals()] == ["a real fault"]
        assert handler.stats()["ignored"] >= 2
    finally:
        sink_logger.removeHandler(handler)


def test_ignore_prefix_is_configurable(make_logger):
    sink = RecordingSink()
    handler = capture.BufferedCaptureHandler(sink, ignore_prefix="test.capture.app", flush_interval=0.05)
    logger = make_logger(handler)
    logger.error("ignored by prefix")
    handler.flush(timeout=2)
    assert sink.signals() == [] and handler.stats()["ignored"] == 1


def test_records_are_routed_per_database_with_thread_context(make_logger):
    sink = RecordingSink()
    handler = capture.BufferedCaptureHandler(sink, flush_interval=0.05)
    logger = make_logger(handler)

    def request(dbname, uid, url):
        thread = threading.current_thread()
        thread.dbname, thread.uid, thread.url = dbname, uid, url
        logger.error("failure in %s", dbname)

    threads = [
        threading.Thread(target=request, args=("prod", 2, "http://erp.example.com/odoo/action-42?debug=1")),
        threading.Thread(target=request, args=("staging", 7, "http://erp.example.com/web/dataset/call_kw")),
        threading.Thread(target=request, args=("prod", 9, None)),
    ]
    for thread in threads:
        thread.start()
        thread.join()
    logger.error("no database here")
    assert handler.flush(timeout=5)
    assert {db for db, _, _ in sink.calls} == {"prod", "staging", None}
    prod = sink.signals("prod")
    assert sorted(s["uid"] for s in prod) == [2, 9]
    assert sorted(s["request_path"] or "" for s in prod) == ["", "/odoo/action-42"]
    [staging] = sink.signals("staging")
    assert staging["uid"] == 7 and staging["request_path"] == "/web/dataset/call_kw"
    assert all(batch and all(s["dbname"] == db for s in batch) for db, batch, _ in sink.calls)


def test_level_threshold_is_configurable(make_logger):
    sink = RecordingSink()
    handler = capture.BufferedCaptureHandler(sink, level=logging.WARNING, flush_interval=0.05)
    logger = make_logger(handler)
    logger.info("not captured")
    logger.warning("captured warning")
    assert handler.flush(timeout=5)
    assert [s["level"] for s in sink.signals()] == ["WARNING"]


def test_close_delivers_pending_records_then_ignores_new_ones(make_logger):
    sink = RecordingSink()
    handler = capture.BufferedCaptureHandler(sink, flush_interval=60)  # only close() makes it flush
    logger = make_logger(handler)
    for index in range(3):
        logger.error("pending %d", index)
    handler.close(timeout=5)
    assert len(sink.signals()) == 3
    logger.error("after close")
    assert handler.stats()["captured"] == 3 and handler.stats()["queue_size"] == 0


def test_install_twice_attaches_one_handler_and_uninstall_removes_it():
    sink = RecordingSink()
    root = logging.getLogger()
    # Inside a running Odoo the addon's own handler is already installed: set it aside meanwhile.
    resident = [h for h in root.handlers if getattr(h, capture.INSTALLED_MARKER, False)]
    for handler in resident:
        root.removeHandler(handler)
    before = list(root.handlers)
    created = []

    def factory():
        handler = capture.BufferedCaptureHandler(sink, flush_interval=0.05)
        created.append(handler)
        return handler

    try:
        first = capture.install(factory)
        second = capture.install(factory)
        assert first is second and len(created) == 1
        assert capture.installed_handler() is first
        assert sum(1 for h in root.handlers if getattr(h, capture.INSTALLED_MARKER, False)) == 1
    finally:
        assert capture.uninstall(timeout=2) == 1
        for handler in resident:
            root.addHandler(handler)
    assert capture.installed_handler() is (resident[0] if resident else None)
    assert [h for h in root.handlers if h not in resident] == before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_forked_worker_gets_an_empty_queue_and_its_own_flusher(make_logger):
    release = threading.Event()
    delivered = []

    def sink(dbname, signals):
        release.wait(5)
        delivered.extend(signals)

    handler = capture.BufferedCaptureHandler(sink, flush_interval=0.01)
    logger = make_logger(handler)
    logger.error("parent record 1")
    logger.error("parent record 2")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: parent's queue is gone, a new flusher delivers the child's records
        try:
            release.set()
            ok = handler.stats()["captured"] == 0
            logger.error("child record")
            ok = ok and handler.flush(timeout=5)
            ok = ok and [s["message"] for s in delivered] == ["child record"]
            os.write(write_end, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 1)
    os.close(read_end)
    os.waitpid(pid, 0)
    release.set()
    assert handler.flush(timeout=5)
    assert answer == b"1"
    assert sorted(s["message"] for s in delivered) == ["parent record 1", "parent record 2"]


def test_signal_round_trips_through_a_dict():
    moment = datetime(2024, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    signal = Signal(
        source="cron",
        level="ERROR",
        logger="odoo.addons.base.models.ir_cron",
        message="Job failed",
        traceback="Traceback ...",
        dbname="prod",
        uid=1,
        request_path=None,
        occurred_at=moment,
        extra={"cron_id": 12, "failure_count": 3},
    )
    data = signal.to_dict()
    assert data["occurred_at"] == "2024-05-01T10:30:00+00:00"
    assert Signal.from_dict(data) == signal
    assert Signal.from_dict({**data, "unknown_future_key": 1}) == signal
    assert signal.text == "Job failed\nTraceback ..."


def test_signal_rejects_unknown_sources_and_takes_naive_times_as_utc():
    with pytest.raises(ValueError):
        Signal(source="telepathy")
    naive = Signal(source="manual", occurred_at=datetime(2024, 1, 1, 8, 0))
    assert naive.occurred_at.tzinfo == timezone.utc and naive.occurred_at.hour == 8
    assert Signal(source="performance", occurred_at="2024-01-01T08:00:00Z").occurred_at.hour == 8
    assert set(SOURCES) == {"log", "ir_logging", "cron", "mail", "performance", "user_report", "manual"}
