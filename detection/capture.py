"""Capture error log records in memory and hand them to a sink in batches.

Odoo's own PostgreSQLHandler opens a cursor and runs two statements on the
thread that logged, for every record. Here the logging thread only copies
what it must (message, traceback, the thread's dbname/uid/url) into a bounded
queue; a flusher thread of our own turns entries into signal dicts and calls
the sink once per database and batch (and its ``idle()``, if it has one,
between batches). Nothing in this module may raise into
or wait on the code that logged.

The queue is bounded twice: by records (``capacity``) and by the characters
they hold (``max_queue_chars``). Each record is cut on the logging thread to
what the staging table keeps (head and tail: a "bad query" line ends with
PostgreSQL's error, a traceback with its root exception), so a multi-MB
message costs the worker a bounded copy. Records refused by either bound are
counted as dropped.
"""

import collections
import contextlib
import linecache
import logging
import os
import threading
import time
import traceback
import urllib.parse
import weakref
from datetime import datetime, timezone

from ..engine.detect.signal import Signal
from .staging import MAX_MESSAGE_CHARS, MAX_TRACEBACK_CHARS, clip_text

DEFAULT_IGNORE_PREFIX = "odoo.addons.self_healing"
DEFAULT_CAPACITY = 10000
DEFAULT_BATCH_SIZE = 500
DEFAULT_FLUSH_INTERVAL = 1.0
# 10,000 records of a few KB each fit; a burst of multi-MB lines cannot hold more than this.
DEFAULT_MAX_QUEUE_CHARS = 32 * 1024 * 1024
MAX_FRAMES = 200  # per exception: a RecursionError keeps its first and last hundred frames
_FRAME_CHARS = 120  # what one frame costs in the queue, for the character bound

# The attribute that marks our handler on the root logger. It lives on the
# handler, not in a module global, so that a second load of the addon's code in
# the same process (a registry rebuilt after an upgrade) still finds it.
INSTALLED_MARKER = "_self_healing_capture_handler"

_live_handlers = weakref.WeakSet()

_DIRECT_CAUSE = "\nThe above exception was the direct cause of the following exception:\n"
_DURING_HANDLING = "\nDuring handling of the above exception, another exception occurred:\n"
MAX_CHAINED_EXCEPTIONS = 8
_YIELD_EVERY = 32


def _exception_name(exc_type):
    module = getattr(exc_type, "__module__", None)
    name = getattr(exc_type, "__qualname__", None) or getattr(exc_type, "__name__", "Exception")
    return name if module in (None, "__main__", "builtins") else f"{module}.{name}"


def _exception_text(exc_value):
    try:
        return str(exc_value)
    except Exception:
        return "<exception str() failed>"


def snapshot_exception(exc_type, exc_value, tb):
    """Copy an exception chain as plain data, cheaply enough for the logging thread.

    Frames become (file, line, function) tuples now, while they still exist;
    their source lines are read later by ``format_snapshot``. This costs a
    fraction of building a traceback.TracebackException. The chain is a
    list of (frames, type name, message, link to the next exception), root
    cause first, as Python prints it.
    """
    chain = []
    seen = set()
    link = None
    while True:
        frames = [(frame.f_code.co_filename, lineno, frame.f_code.co_name) for frame, lineno in traceback.walk_tb(tb)]
        if len(frames) > MAX_FRAMES:
            half = MAX_FRAMES // 2
            frames = [*frames[:half], (None, len(frames) - 2 * half, None), *frames[-half:]]
        message = clip_text(_exception_text(exc_value), MAX_MESSAGE_CHARS) if exc_value is not None else ""
        if isinstance(exc_value, SyntaxError) and exc_value.filename:
            # Python shows where the bad source is as a frame without function.
            frames.append((exc_value.filename, exc_value.lineno or 0, None))
            message = exc_value.msg or message
        chain.append((frames, _exception_name(exc_type), message, link))
        if exc_value is None or len(chain) >= MAX_CHAINED_EXCEPTIONS:
            break
        seen.add(id(exc_value))
        if exc_value.__cause__ is not None and id(exc_value.__cause__) not in seen:
            exc_value, link = exc_value.__cause__, _DIRECT_CAUSE
        elif (
            exc_value.__context__ is not None
            and not exc_value.__suppress_context__
            and id(exc_value.__context__) not in seen
        ):
            exc_value, link = exc_value.__context__, _DURING_HANDLING
        else:
            break
        exc_type, tb = type(exc_value), exc_value.__traceback__
    chain.reverse()
    return chain


def format_snapshot(chain):
    """Python's traceback text for a ``snapshot_exception`` result, source lines included."""
    lines = []
    for frames, type_name, message, link in chain:
        lines.append("Traceback (most recent call last):")
        for filename, lineno, function in frames:
            if filename is None:
                lines.append(f"  [... {lineno} frames omitted ...]")
                continue
            if function is None:
                lines.append(f'  File "{filename}", line {lineno}')
            else:
                lines.append(f'  File "{filename}", line {lineno}, in {function}')
            source = linecache.getline(filename, lineno).strip() if lineno else ""
            if source:
                lines.append(f"    {source}")
        lines.append(f"{type_name}: {message}" if message else type_name)
        if link:
            lines.append(link)
    return "\n".join(lines)


class BufferedCaptureHandler(logging.Handler):
    """A logging handler that queues records and delivers them from a thread of its own.

    ``sink(dbname, signal_dicts)`` is called from the flusher thread with
    records grouped per database (``dbname`` is None for records logged
    outside any database). Records from loggers starting with
    ``ignore_prefix`` and records logged by the flusher thread itself (the
    sink's own errors) are ignored, so the handler never feeds itself.
    """

    def __init__(
        self,
        sink,
        level=logging.ERROR,
        capacity=DEFAULT_CAPACITY,
        batch_size=DEFAULT_BATCH_SIZE,
        flush_interval=DEFAULT_FLUSH_INTERVAL,
        ignore_prefix=DEFAULT_IGNORE_PREFIX,
        source="log",
        max_queue_chars=DEFAULT_MAX_QUEUE_CHARS,
    ):
        super().__init__(level)
        self.sink = sink
        self.capacity = max(1, int(capacity))
        self.max_queue_chars = max(1, int(max_queue_chars))
        self.batch_size = max(1, int(batch_size))
        self.flush_interval = flush_interval
        self.ignore_prefix = ignore_prefix or None
        self.source = source
        # Wake the flusher once a batch is ready, or sooner with a small queue.
        self._wake_at = max(1, min(self.batch_size, self.capacity // 2))
        self._reset_state()
        _live_handlers.add(self)

    def _reset_state(self):
        self._queue = collections.deque()
        self._counter_lock = threading.Lock()
        self._wake = threading.Event()
        self._progress = threading.Condition(threading.Lock())
        self._captured = 0
        self._dropped = 0
        self._queued_chars = 0
        self._clipped = 0
        self._ignored = 0
        self._emit_errors = 0
        self._flushed = 0
        self._sink_errors = 0
        self._sink_lost = 0
        self._settled = 0  # entries handed to the sink, whether it succeeded or not
        self._thread = None
        self._flusher_ident = None
        self._stopping = False
        self._closed = False

    # --- logging thread -----------------------------------------------------

    def handle(self, record):
        # logging.Handler.handle serialises every logging thread on the
        # handler's lock around emit(); emit() is thread-safe on its own.
        accepted = self.filter(record)
        if accepted:
            self.emit(accepted if isinstance(accepted, logging.LogRecord) else record)
        return accepted

    def emit(self, record):
        try:
            if self._closed:
                return
            if (self.ignore_prefix and record.name.startswith(self.ignore_prefix)) or (
                threading.get_ident() == self._flusher_ident
            ):
                with self._counter_lock:
                    self._ignored += 1
                return
            if len(self._queue) >= self.capacity:
                with self._counter_lock:
                    self._dropped += 1
                return
            entry = self._entry(record)
            size = entry[-1]
            with self._counter_lock:
                if len(self._queue) >= self.capacity or self._queued_chars + size > self.max_queue_chars:
                    self._dropped += 1
                    return
                self._queue.append(entry)
                self._queued_chars += size
                self._captured += 1
                queued = len(self._queue)
            if self._thread is None:
                self._start_flusher()
            if queued >= self._wake_at and not self._wake.is_set():
                self._wake.set()
        except Exception:  # a detector never raises into the code it observes
            with contextlib.suppress(Exception), self._counter_lock:
                self._emit_errors += 1

    def _entry(self, record):
        """The minimum copied on the logging thread; the rest happens in the flusher."""
        # A Formatter that already ran (Odoo's stream handler comes first)
        # left the formatted message and traceback text on the record.
        message = record.__dict__.get("message")
        if message is None:
            try:
                message = record.getMessage()
            except Exception:
                message = f"{record.msg!r} % {record.args!r}"
        message = message if isinstance(message, str) else str(message)
        clipped = len(message) > MAX_MESSAGE_CHARS
        message = clip_text(message, MAX_MESSAGE_CHARS)
        trace = record.exc_text or None
        if trace is not None:
            clipped = clipped or len(trace) > MAX_TRACEBACK_CHARS
            trace = clip_text(trace, MAX_TRACEBACK_CHARS)
            size = len(message) + len(trace)
        elif record.exc_info and record.exc_info[0] is not None:
            # Copy the frames now (they will be gone later); reading source
            # lines and building the text is the flusher thread's job.
            trace = snapshot_exception(*record.exc_info)
            size = len(message) + sum(len(text) + _FRAME_CHARS * len(frames) for frames, _t, text, _l in trace)
        else:
            size = len(message)
        if clipped:
            with self._counter_lock:
                self._clipped += 1
        thread = threading.current_thread()
        return (
            record.created,
            record.levelno,
            record.name,
            message,
            trace,
            getattr(thread, "dbname", None),
            getattr(thread, "uid", None),
            getattr(thread, "url", None),
            record.pathname,
            record.lineno,
            record.funcName,
            size,
        )

    def _start_flusher(self):
        with self._counter_lock:
            if self._thread is not None or self._closed:
                return
            thread = threading.Thread(target=self._run, name="self_healing.capture.flusher", daemon=True)
            self._thread = thread
        thread.start()

    # --- flusher thread -----------------------------------------------------

    def _run(self):
        self._flusher_ident = threading.get_ident()
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            with contextlib.suppress(Exception):  # keep the only consumer alive whatever happens
                self._drain()
            self._idle()
            if self._stopping and not self._queue:
                return

    def _drain(self):
        while self._queue:
            batch = []
            with contextlib.suppress(IndexError):  # the queue ran out before the batch was full
                while len(batch) < self.batch_size:
                    batch.append(self._queue.popleft())
            if batch:
                with self._counter_lock:
                    self._queued_chars -= sum(entry[-1] for entry in batch)
            if batch:
                self._deliver(batch)

    def _idle(self):
        # A sink may owe the database something a failed batch could not write (its loss counters).
        idle = getattr(self.sink, "idle", None)
        if idle is not None:
            with contextlib.suppress(Exception):  # as for the sink itself: the flusher must live on
                idle()

    def _deliver(self, batch):
        per_database = {}
        for position, entry in enumerate(batch, 1):
            if position % _YIELD_EVERY == 0:
                # Hand the GIL back now and then so request threads that are
                # logging (or doing anything else) do not wait for a whole batch.
                time.sleep(0)
            try:
                signal_dict = self._signal_dict(entry)
            except Exception:
                signal_dict = None
            if signal_dict is None:
                with self._counter_lock:
                    self._emit_errors += 1
                continue
            per_database.setdefault(signal_dict["dbname"], []).append(signal_dict)
        for dbname, signals in per_database.items():
            try:
                self.sink(dbname, signals)
            except Exception:
                with self._counter_lock:
                    self._sink_errors += 1
                    self._sink_lost += len(signals)
            else:
                with self._counter_lock:
                    self._flushed += len(signals)
        with self._progress:
            self._settled += len(batch)
            self._progress.notify_all()

    def _signal_dict(self, entry):
        created, levelno, name, message, trace, dbname, uid, url, pathname, lineno, func, _size = entry
        if isinstance(trace, list):
            trace = format_snapshot(trace)
        request_path = None
        if url:
            try:
                request_path = urllib.parse.urlsplit(url).path or None
            except Exception:
                request_path = None
        signal = Signal(
            source=self.source,
            level=logging.getLevelName(levelno),
            logger=name,
            message=str(message),
            traceback=trace or "",
            dbname=dbname or None,
            uid=uid if isinstance(uid, int) else None,
            request_path=request_path,
            occurred_at=datetime.fromtimestamp(created, timezone.utc),
            extra={"pathname": pathname, "lineno": lineno, "func": func, "pid": os.getpid()},
        )
        return signal.to_dict()

    # --- control ------------------------------------------------------------

    def flush(self, timeout=2.0):
        """Wait until every record captured so far reached the sink; True when done in time."""
        if threading.get_ident() == self._flusher_ident:
            return False
        with self._counter_lock:
            target = self._captured
        if self._settled >= target:
            return True
        if self._thread is None:
            self._start_flusher()
        self._wake.set()
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        with self._progress:
            while self._settled < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._progress.wait(min(remaining, 0.05))
                if self._settled < target:
                    self._wake.set()
        return True

    def close(self, timeout=2.0):
        """Deliver what is queued (up to ``timeout``), then stop the flusher; later records are ignored."""
        if self._closed:
            return
        try:
            self.flush(timeout)
        finally:
            self._closed = True
            self._stopping = True
            self._wake.set()
            thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)
            super().close()

    def stats(self):
        with self._counter_lock:
            return {
                "captured": self._captured,
                "dropped": self._dropped,
                "flushed": self._flushed,
                "sink_errors": self._sink_errors,
                "sink_lost": self._sink_lost,
                "ignored": self._ignored,
                "emit_errors": self._emit_errors,
                "queue_size": len(self._queue),
                "queue_chars": self._queued_chars,
                "clipped": self._clipped,
            }

    def _after_fork_in_child(self):
        # Prefork workers inherit the handler but not the flusher thread, and
        # the parent's queued records are the parent's to deliver.
        closed = self._closed
        self._reset_state()
        self._closed = closed


def _reset_handlers_after_fork():
    for handler in list(_live_handlers):
        with contextlib.suppress(Exception):
            handler._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_handlers_after_fork)


_install_lock = threading.Lock()


def installed_handler():
    """The capture handler attached to the root logger, or None."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, INSTALLED_MARKER, False):
            return handler
    return None


def install(handler_factory):
    """Attach one capture handler to the root logger, once per process.

    Registry reloads and a second import of this module find the handler
    already there and return it instead of calling ``handler_factory``.
    """
    with _install_lock:
        existing = installed_handler()
        if existing is not None:
            return existing
        handler = handler_factory()
        setattr(handler, INSTALLED_MARKER, True)
        logging.getLogger().addHandler(handler)
        return handler


def uninstall(timeout=5.0):
    """Detach and close every capture handler on the root logger; returns how many there were."""
    with _install_lock:
        root = logging.getLogger()
        handlers = [handler for handler in root.handlers if getattr(handler, INSTALLED_MARKER, False)]
        for handler in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        with contextlib.suppress(Exception):
            handler.close(timeout)
    return len(handlers)
