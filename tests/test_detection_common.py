"""Helpers for the detection tests (no tests here).

The live capture writes on a connection of its own and commits, as it must in
production. A test transaction (REPEATABLE READ, rolled back at the end)
never sees those rows, so the tests that follow a fault through the live
capture work on committed data, the way another Odoo process would, and put
the database back as they found it afterwards.
"""

import contextlib
import logging
import time

from odoo import SUPERUSER_ID, api
from odoo.sql_db import db_connect

from ..detection import installer
from ..detection import settings as detection_settings

PARAM_KEYS = (*detection_settings.KEYS, "self_healing.cron_failures_reported", "self_healing.ir_logging_last_id")


@contextlib.contextmanager
def committed_env(dbname):
    """A superuser environment on a connection of its own, committed when the block ends without error."""
    with db_connect(dbname).cursor() as cr:
        yield api.Environment(cr, SUPERUSER_ID, {})


@contextlib.contextmanager
def logger_levels(levels):
    """Set logger levels for the block: the test runner silences Odoo below CRITICAL, a server does not."""
    loggers = {name: logging.getLogger(name) for name in levels}
    previous = {name: logger.level for name, logger in loggers.items()}
    try:
        for name, level in levels.items():
            loggers[name].setLevel(level)
        yield
    finally:
        for name, level in previous.items():
            loggers[name].setLevel(level)


SERVER_LEVELS = {"odoo": logging.WARNING, "werkzeug": logging.INFO, "odoo.addons.base.models.ir_cron": logging.INFO}


def flush_capture(timeout=5.0):
    handler = installer.current()
    return handler.flush(timeout) if handler is not None else False


def wait_for(check, timeout=10.0, interval=0.05):
    """Flush the capture and poll ``check()`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        flush_capture()
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def staged_rows(dbname, where, params=()):
    """Committed staging rows matching an SQL condition, read on a connection of their own."""
    with committed_env(dbname) as env:
        env.cr.execute(
            f"SELECT id, source, level, logger, message, traceback, uid, request_path, extra "
            f"FROM self_healing_signal WHERE {where} ORDER BY id",
            list(params),
        )
        return env.cr.dictfetchall()


class CommittedState:
    """Where the committed detection data stood before a test, to put it back afterwards.

    Everything created after the snapshot (incidents with their occurrences
    and messages, staged signals, cron triggers, capture counters) is
    removed, and the detection settings get their old values back.
    """

    def __init__(self, dbname):
        self.dbname = dbname
        self.crons = []
        with committed_env(dbname) as env:
            cr = env.cr
            self.max_ids = {}
            for table in (
                "self_healing_incident",
                "self_healing_signal",
                "ir_cron_trigger",
                "self_healing_capture_stat",
                "ir_logging",
            ):
                cr.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
                self.max_ids[table] = cr.fetchone()[0]
            cr.execute("SELECT key, value FROM ir_config_parameter WHERE key IN %s", [PARAM_KEYS])
            self.params = dict(cr.fetchall())

    def set_params(self, values):
        """Commit detection settings (and re-read them into this process) for the test."""
        with committed_env(self.dbname) as env:
            for key, value in values.items():
                env["ir.config_parameter"].set_param(key, value)
            installer.apply_database_settings(self.dbname, detection_settings.read(env.cr))

    def restore(self):
        flush_capture()
        with committed_env(self.dbname) as env:
            cr = env.cr
            for cron_id in self.crons:
                cr.execute("DELETE FROM ir_cron_trigger WHERE cron_id = %s", [cron_id])
                cr.execute("DELETE FROM ir_cron_progress WHERE cron_id = %s", [cron_id])
            crons = env["ir.cron"].with_context(active_test=False).browse(self.crons).exists()
            actions = crons.ir_actions_server_id
            crons.unlink()
            actions.unlink()
            env["self_healing.incident"].search([("id", ">", self.max_ids["self_healing_incident"])]).unlink()
            for table in ("self_healing_signal", "ir_cron_trigger", "self_healing_capture_stat", "ir_logging"):
                cr.execute(f"DELETE FROM {table} WHERE id > %s", [self.max_ids[table]])
            cr.execute("DELETE FROM ir_config_parameter WHERE key IN %s", [PARAM_KEYS])
            for key, value in self.params.items():
                env["ir.config_parameter"].set_param(key, value)
            env.registry.clear_cache()
            installer.apply_database_settings(self.dbname, detection_settings.read(cr))


def use_live_capture(case, dbname):
    """For ``case``: committed rows restored afterwards, the server's log levels, the live capture installed.

    Sets ``case.state`` (the CommittedState).
    """
    case.state = CommittedState(dbname)
    case.addCleanup(case.state.restore)
    levels = logger_levels(SERVER_LEVELS)
    levels.__enter__()
    case.addCleanup(levels.__exit__, None, None, None)
    # Another test may have detached it; a server process always has it from post_load.
    installer.install()
