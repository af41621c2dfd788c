"""Install the live capture once per process and keep its level in line with the databases' settings.

``install`` is called by the addon's post_load hook (once per process, before
any registry) and again by every registry load of a database with the addon
(for processes that imported the addon some other way, such as test runners
and scripts). Both land here and find the handler already installed: one
handler per process whatever the number of databases, workers or reloads.
"""

import logging
import os

from . import capture, rpc_faults
from .cache import settings_cache
from .filters import DatabaseLevelFilter, SlowRecordForwarder
from .sink import StagingSink
from .sources import ACCESS_LOGGER, ALWAYS_CAPTURED_LEVEL, CRON_LOGGER
from .standin import scheduler_standin

SLOW_LOGGERS = (ACCESS_LOGGER, CRON_LOGGER)


def current():
    """The capture handler installed on the root logger, or None."""
    return capture.installed_handler()


def sink_of(handler):
    return getattr(handler, "self_healing_sink", None)


def _new_handler():
    sink = StagingSink(stats_provider=stats, standin=scheduler_standin)
    handler = capture.BufferedCaptureHandler(sink, level=handler_level(), source="log")
    handler.addFilter(DatabaseLevelFilter())
    handler.self_healing_sink = sink
    return handler


def _forwarder():
    for name in SLOW_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if getattr(handler, SlowRecordForwarder.MARKER, False):
                return handler
    return None


def install():
    """Attach the capture handler, the slow-record forwarder and the XML-RPC fault log once; return the handler."""
    existing = current()
    if existing is not None and getattr(existing, "_closed", False):
        # logging.shutdown() closed it (Odoo's shell and --stop-after-init stop the
        # server, then go on loading registries): a closed handler captures nothing.
        logging.getLogger().removeHandler(existing)
    handler = capture.install(_new_handler)
    forwarder = _forwarder() or SlowRecordForwarder()
    for name in SLOW_LOGGERS:
        logger = logging.getLogger(name)
        if forwarder not in logger.handlers:
            logger.addHandler(forwarder)
    settings_cache.on_change(apply_levels)
    apply_levels()
    rpc_faults.install()
    return handler


def uninstall(timeout=5.0):
    """Detach everything ``install`` attached (queued signals are delivered first, up to ``timeout``)."""
    forwarder = _forwarder()
    if forwarder is not None:
        for name in SLOW_LOGGERS:
            logging.getLogger(name).removeHandler(forwarder)
    rpc_faults.uninstall()
    return capture.uninstall(timeout)


def handler_level():
    """The lowest level any known database asks for, or that of a warning captured at every level."""
    return min(settings_cache.lowest_level(), ALWAYS_CAPTURED_LEVEL)


def apply_levels():
    """Let the handler see records down to ``handler_level()``; its filter applies each database's level."""
    handler = current()
    if handler is not None:
        handler.setLevel(handler_level())


def forget_database(dbname):
    """Make the sink check ``dbname`` again on its next batch (after the addon was installed there)."""
    sink = sink_of(current())
    if sink is not None:
        sink.forget(dbname)


def apply_database_settings(dbname, settings):
    settings_cache.update(dbname, settings)


def stats():
    """This process's capture counters: the handler's, its sink's and the forwarder's."""
    handler = current()
    counters = {}
    if handler is not None:
        counters.update(handler.stats())
        sink = sink_of(handler)
        if sink is not None:
            counters.update(sink.stats())
    forwarder = _forwarder()
    counters["slow_forwarded"] = forwarder.forwarded if forwarder is not None else 0
    return counters


def write_stats(cr):
    """Record this process's counters in the database of ``cr`` now; False when capture is not installed."""
    sink = sink_of(current())
    if sink is None:
        return False
    sink.write_stats(cr)
    return True


def _reset_after_fork():
    sink = sink_of(current())
    if sink is not None:
        sink.after_fork()
    forwarder = _forwarder()
    if forwarder is not None:
        forwarder.forwarded = forwarder.errors = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
