"""Cheap checks on the logging path, before anything is queued.

Both run on the thread that logged, so they only read thread attributes and
the in-memory settings cache, and never raise.
"""

import logging
import re
import threading

from . import capture
from .cache import settings_cache
from .sources import CRON_DONE_FORMATS, always_captured_record

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _current_dbname():
    return getattr(threading.current_thread(), "dbname", None)


class DatabaseLevelFilter(logging.Filter):
    """Keeps a record when it reaches the capture level of the database it was logged for.

    The handler's own level is the lowest level any database asks for (never
    above the warnings of sources.ALWAYS_CAPTURED); this filter applies each
    database's own choice, and lets those few warnings through at any level.
    """

    def filter(self, record):
        try:
            if record.levelno >= settings_cache.level_for(_current_dbname()):
                return True
            return always_captured_record(record.name, record.msg, record.levelno) is not None
        except Exception:
            return True


class SlowRecordForwarder(logging.Handler):
    """Sits on the werkzeug and ir.cron loggers at INFO and forwards only slow requests and jobs.

    A request line carries Odoo's query count and timings in ``perf_info``
    (added by odoo.netsvc.PerfFilter on the werkzeug logger); a finished job
    logs its duration as an argument. A slow one is copied as a WARNING
    record (the figures appended to a request line's message) and handed to
    the installed capture handler, bypassing that handler's level. The
    database's exact limits are checked again when the signal is processed.
    """

    MARKER = "_self_healing_slow_forwarder"

    def __init__(self):
        super().__init__(logging.INFO)
        setattr(self, self.MARKER, True)
        self.forwarded = 0
        self.errors = 0

    def handle(self, record):
        # Bypass logging.Handler.handle: no lock is needed to read a record.
        try:
            if record.levelno < self.level:
                return False
            message = self._slow_message(record)
            if message is None:
                return False
            target = capture.installed_handler()
            if target is None:
                return False
            copy = logging.makeLogRecord(
                dict(
                    record.__dict__,
                    msg=message,
                    args=None,
                    levelno=logging.WARNING,
                    levelname="WARNING",
                    exc_info=None,
                    exc_text=None,
                    message=message,
                )
            )
            target.emit(copy)
            self.forwarded += 1
            return True
        except Exception:
            self.errors += 1
            return False

    def emit(self, record):
        self.handle(record)

    def _slow_message(self, record):
        limits = settings_cache.get(_current_dbname())
        position = CRON_DONE_FORMATS.get(record.msg) if isinstance(record.msg, str) else None
        if position is not None:
            args = record.args
            seconds = args[position] if isinstance(args, tuple) and len(args) > position else None
            if limits.slow_cron_seconds is None or not isinstance(seconds, (int, float)):
                return None
            return record.getMessage() if seconds > limits.slow_cron_seconds else None
        perf_info = getattr(record, "perf_info", None)
        if not perf_info or record.name != "werkzeug":
            return None
        if "\x1b" in perf_info:
            perf_info = _ANSI.sub("", perf_info)
        figures = perf_info.split()
        if len(figures) < 3 or figures[0] == "-":
            return None
        queries = int(figures[0])
        seconds = float(figures[1]) + float(figures[2])
        slow = (limits.slow_request_seconds is not None and seconds > limits.slow_request_seconds) or (
            limits.slow_request_queries is not None and queries > limits.slow_request_queries
        )
        if not slow:
            return None
        line = record.getMessage()
        if "\x1b" in line:
            line = _ANSI.sub("", line)
        return f"{line} {perf_info}"
