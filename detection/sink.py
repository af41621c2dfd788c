"""Where the capture handler's flusher thread delivers signals: the staging table of their database.

Each call gets the signals of one database. The sink opens a connection of
its own for the batch (never a request's cursor, which may roll back, and
never one of Odoo's pool, which forked workers would inherit: see
detection/connection.py), limits the
statement time, writes the batch with one INSERT, wakes the processing cron
and, now and then, records the process's capture counters in that database.
When the batch says the scheduler skips the database (modules left in a
pending state), waking a cron is useless: the database is handed to the
scheduler stand-in instead (detection/standin.py).
A database without the addon (or after its uninstallation) is recognised
once, remembered for a while, and its signals are counted and skipped.

A batch whose connection is lost (PostgreSQL restarted, the backend
terminated, the network cut) is tried again a few times with a growing pause;
after the last try the handler counts it as lost. A try cut during its
COMMIT may have committed all the same: the next try asks PostgreSQL for
that transaction's outcome (``txid_status``) before writing the batch again,
so a batch is never staged twice. The loss counters of a
process must reach the database even if no later batch ever succeeds: the
flusher calls ``idle`` between batches, which writes counters still owed to a
database, no more often than its own backoff allows.
"""

import os
import random
import socket
import threading
import time
from datetime import datetime, timezone

import psycopg2
import psycopg2.errors
from psycopg2 import sql

from . import cron_wake, staging, standin
from . import settings as detection_settings
from .cache import settings_cache
from .connection import direct_cursor
from .sources import CRON_LOGGER, blocks_scheduler

PROCESSING_CRON_XMLID = ("self_healing", "ir_cron_process_signals")
STATS_TABLE = "self_healing_capture_stat"
STAT_COLUMNS = (
    "captured",
    "dropped",
    "flushed",
    "sink_errors",
    "sink_lost",
    "ignored",
    "emit_errors",
    "queue_size",
    "staged",
    "no_database",
    "not_installed",
    "slow_forwarded",
)
STATEMENT_TIMEOUT_MS = 5000
RECHECK_SECONDS = 60.0
TRIGGER_INTERVAL = 1.0
STATS_INTERVAL = 30.0
# Pauses before each new try of a batch whose connection failed: about 1.5 s in all,
# long enough to outlast a backend terminated or a server restart's first second, short
# enough that the bounded queue behind it does not fill under a normal error rate.
RETRY_DELAYS = (0.05, 0.2, 0.5, 0.8)
# Counters owed to a database are tried again after this pause, doubled up to the maximum.
OWED_RETRY_SECONDS = 1.0
OWED_RETRY_MAX_SECONDS = 15.0
# How long a try cut during its COMMIT may take to end before its outcome is read.
OUTCOME_WAIT_SECONDS = 2.0
# The errors that say the connection, not the batch, failed: a new connection may succeed.
CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)


class _DatabaseState:
    __slots__ = ("installed", "cron_id", "checked_at", "triggered_at", "stats_at", "losses_written")

    def __init__(self, installed, cron_id, checked_at):
        self.installed = installed
        self.cron_id = cron_id
        self.checked_at = checked_at
        self.triggered_at = 0.0
        self.stats_at = 0.0
        self.losses_written = None


class StagingSink:
    """``sink(dbname, signal_dicts)`` for engine.capture.BufferedCaptureHandler.

    ``stats_provider`` returns the counters written to the stats table (the
    installer gives the handler's, the sink's and the forwarder's together).
    """

    def __init__(
        self,
        stats_provider=None,
        recheck_seconds=RECHECK_SECONDS,
        trigger_interval=TRIGGER_INTERVAL,
        stats_interval=STATS_INTERVAL,
        standin=None,
    ):
        self.stats_provider = stats_provider
        self.standin = standin  # a standin.SchedulerStandin, or None: the scheduler is never stood in for
        self.recheck_seconds = recheck_seconds
        self.trigger_interval = trigger_interval
        self.stats_interval = stats_interval
        self.started_at = datetime.now(timezone.utc).replace(tzinfo=None)
        self.host = socket.gethostname()[:128]
        self._databases = {}
        self._lock = threading.Lock()
        self._counts = {
            "staged": 0,
            "no_database": 0,
            "not_installed": 0,
            "triggers": 0,
            "standin_requests": 0,
            "retries": 0,
            "owed_writes": 0,
            "found_committed": 0,
        }
        # dbname -> (monotonic time of the next try, current pause): counters not yet written there.
        self._owed = {}
        self._sleep = time.sleep

    # --- counters -------------------------------------------------------------

    def _count(self, name, amount=1):
        with self._lock:
            self._counts[name] += amount

    def stats(self):
        with self._lock:
            return dict(self._counts)

    def forget(self, dbname=None):
        """Drop what is remembered about ``dbname`` (every database when None)."""
        with self._lock:
            if dbname is None:
                self._databases.clear()
            else:
                self._databases.pop(dbname, None)

    def after_fork(self):
        # A forked worker is a new process: its own counters, its own stats row.
        with self._lock:
            self._counts = dict.fromkeys(self._counts, 0)
            self._databases.clear()
            self._owed.clear()
        self.started_at = datetime.now(timezone.utc).replace(tzinfo=None)

    # --- delivery -------------------------------------------------------------

    def __call__(self, dbname, signals):
        if not signals:
            return
        if not dbname:
            self._count("no_database", len(signals))
            return
        # The id of the last try's transaction: a connection cut during COMMIT leaves
        # the client unsure whether the batch is in; PostgreSQL knows, and is asked.
        tried = []
        for delay in (*RETRY_DELAYS, None):
            try:
                self._deliver(dbname, signals, tried)
            except CONNECTION_ERRORS:
                if delay is None:
                    if tried and self._landed(dbname, tried[-1], len(signals)):
                        return
                    # The handler counts the batch lost; the database is owed the counters that say so.
                    self._owe(dbname)
                    raise
                self._count("retries")
                # Jitter: the workers cut at the same moment do not all come back at the same moment.
                self._sleep(delay * random.uniform(0.75, 1.25))  # noqa: S311 - not cryptographic
            else:
                return

    def _landed(self, dbname, xid, count):
        """After the last try failed: whether its transaction committed all the same (the cut came during COMMIT)."""
        try:
            with direct_cursor(dbname) as cr:
                committed = self._committed(cr, xid)
        except Exception:  # noqa: BLE001 - still unreachable: the batch counts as lost
            return False
        if committed:
            self._count("staged", count)
            self._count("found_committed")
        return committed

    def _committed(self, cr, xid):
        """Whether transaction ``xid`` (of an earlier try) committed; waits a little while it is still ending."""
        deadline = time.monotonic() + OUTCOME_WAIT_SECONDS
        while True:
            cr.execute("SELECT txid_status(%s)", [xid], log_exceptions=False)
            status = cr.fetchone()[0]
            if status != "in progress" or time.monotonic() > deadline:
                return status == "committed"
            self._sleep(0.02)

    def _deliver(self, dbname, signals, tried):
        now = time.monotonic()
        state = self._databases.get(dbname)
        if state is not None and not state.installed and now - state.checked_at < self.recheck_seconds:
            self._count("not_installed", len(signals))
            return
        notify = False
        pending_modules = ()
        try:
            with direct_cursor(dbname) as cr:
                cr.execute("SET LOCAL statement_timeout = %s", [STATEMENT_TIMEOUT_MS], log_exceptions=False)
                if tried and self._committed(cr, tried[-1]):
                    self._count("staged", len(signals))
                    self._count("found_committed")
                    return
                cr.execute("SELECT txid_current()", log_exceptions=False)
                tried.append(cr.fetchone()[0])
                if state is None or now - state.checked_at >= self.recheck_seconds:
                    state = self._inspect(cr, dbname, now)
                if not state.installed:
                    self._count("not_installed", len(signals))
                    return
                self._insert(cr, signals)
                if self.standin is not None and any(blocks_scheduler(signal) for signal in signals):
                    pending_modules = standin.pending_modules(cr)
                # While the scheduler skips this database a trigger would only make it say so again.
                if not pending_modules and not all(
                    self._is_processing_failure(signal, state.cron_id) for signal in signals
                ):
                    notify = self._trigger(cr, state, now)
                self._write_stats(cr, state, now, pending=len(signals))
        except psycopg2.errors.UndefinedTable:
            # Uninstalled since the last check: remember it and count the batch as skipped.
            self._databases[dbname] = _DatabaseState(False, None, time.monotonic())
            self._count("not_installed", len(signals))
            return
        self._count("staged", len(signals))
        if notify:
            cron_wake.notify_cron_workers(dbname)
        if pending_modules:
            self._count("standin_requests")
            self.standin.request(dbname, pending_modules)

    def _owe(self, dbname):
        with self._lock:
            if dbname not in self._owed:
                self._owed[dbname] = (time.monotonic() + OWED_RETRY_SECONDS, OWED_RETRY_SECONDS)

    def idle(self):
        """Write the counters owed to a database (a loss since they were last written there); never raises.

        Called by the flusher between batches: the batches that failed were
        the only deliveries, so nothing else would tell the database about them.
        """
        if self.stats_provider is None:
            return
        now = time.monotonic()
        losses = self._losses()
        with self._lock:
            for dbname, state in self._databases.items():
                if state.installed and state.losses_written is not None and state.losses_written != losses:
                    self._owed.setdefault(dbname, (now, OWED_RETRY_SECONDS))
            due = [(dbname, pause) for dbname, (at, pause) in self._owed.items() if at <= now]
        for dbname, pause in due:
            try:
                with direct_cursor(dbname) as cr:
                    cr.execute("SET LOCAL statement_timeout = %s", [STATEMENT_TIMEOUT_MS], log_exceptions=False)
                    state = self._databases.get(dbname)
                    if state is None or now - state.checked_at >= self.recheck_seconds:
                        state = self._inspect(cr, dbname, now)
                    if state.installed:
                        self.write_stats(cr)
                        state.stats_at = now
                        state.losses_written = losses
            except Exception:  # noqa: BLE001 - still unreachable: try again later, a little later each time
                pause = min(pause * 2, OWED_RETRY_MAX_SECONDS)
                with self._lock:
                    self._owed[dbname] = (time.monotonic() + pause, pause)
                continue
            with self._lock:
                self._owed.pop(dbname, None)
            self._count("owed_writes")

    def _inspect(self, cr, dbname, now):
        cr.execute(
            "SELECT to_regclass(%s) IS NOT NULL, to_regclass('ir_model_data') IS NOT NULL",
            [staging.TABLE],
            log_exceptions=False,
        )
        has_table, is_odoo = cr.fetchone()
        cron_id = None
        if has_table and is_odoo:
            # An inactive cron ignores triggers: none are written then.
            cr.execute(
                "SELECT cron.id FROM ir_model_data data JOIN ir_cron cron ON cron.id = data.res_id "
                "WHERE data.module = %s AND data.name = %s AND data.model = 'ir.cron' AND cron.active",
                list(PROCESSING_CRON_XMLID),
                log_exceptions=False,
            )
            row = cr.fetchone()
            cron_id = row[0] if row else None
            settings_cache.update(dbname, detection_settings.read(cr))
        state = _DatabaseState(bool(has_table and is_odoo), cron_id, now)
        self._databases[dbname] = state
        return state

    def _insert(self, cr, signals):
        query, params = staging.insert_statement(signals)
        try:
            cr.execute("SAVEPOINT self_healing_stage", log_exceptions=False)
            cr.execute(query, params, log_exceptions=False)
        except (UnicodeEncodeError, psycopg2.DataError):
            # One text PostgreSQL refused: retry the batch with every text made strictly valid.
            cr.execute("ROLLBACK TO SAVEPOINT self_healing_stage", log_exceptions=False)
            query, params = staging.insert_statement(signals, clean=staging.strict_text)
            cr.execute(query, params, log_exceptions=False)

    @staticmethod
    def _is_processing_failure(signal, cron_id):
        """The processing cron's own failure: triggering it again would only fail again, at once."""
        return (
            cron_id is not None
            and signal.get("logger") == CRON_LOGGER
            and f"({cron_id}) server action #" in (signal.get("message") or "")
        )

    def _trigger(self, cr, state, now):
        """Ask for the processing cron to run now, at most once per ``trigger_interval``."""
        if state.cron_id is None or now - state.triggered_at < self.trigger_interval:
            return False
        # now() is this transaction's start, later than the start of a cron run
        # already in progress, so that run's clean-up of past triggers keeps it.
        cr.execute(
            "INSERT INTO ir_cron_trigger (cron_id, call_at, create_date, write_date) "
            "VALUES (%s, now() at time zone 'UTC', now() at time zone 'UTC', now() at time zone 'UTC')",
            [state.cron_id],
            log_exceptions=False,
        )
        state.triggered_at = now
        self._count("triggers")
        return True

    def _write_stats(self, cr, state, now, pending=0):
        if self.stats_provider is None:
            return
        # Losses are written at the next delivery, not 30 s later: whoever balances the
        # accounts (the stress command, an administrator) must not miss them.
        losses = self._losses()
        if now - state.stats_at < self.stats_interval and losses == state.losses_written:
            return
        state.stats_at = now
        state.losses_written = losses
        self.write_stats(cr, pending=pending)

    def _losses(self):
        counters = self.stats_provider() or {}
        return tuple(counters.get(name, 0) for name in ("dropped", "sink_lost", "emit_errors"))

    def write_stats(self, cr, pending=0):
        """Record this process's counters in the database of ``cr`` (an upsert on host and pid)."""
        counters = dict.fromkeys(STAT_COLUMNS, 0)
        counters.update({key: value for key, value in (self.stats_provider() or {}).items() if key in counters})
        # The batch being written now counts as staged already.
        counters["staged"] += pending
        columns = ("host", "pid", "started_at", "updated_at", *STAT_COLUMNS)
        values = [
            self.host,
            os.getpid(),
            self.started_at,
            datetime.now(timezone.utc).replace(tzinfo=None),
            *(counters[name] for name in STAT_COLUMNS),
        ]
        updates = sql.SQL(", ").join(
            sql.SQL("{name} = EXCLUDED.{name}").format(name=sql.Identifier(name)) for name in columns[2:]
        )
        cr.execute(
            sql.SQL(
                "INSERT INTO {table} ({columns}, create_date, write_date) "
                "VALUES ({values}, now() at time zone 'UTC', now() at time zone 'UTC') "
                "ON CONFLICT (host, pid) DO UPDATE SET {updates}, write_date = EXCLUDED.write_date"
            ).format(
                table=sql.Identifier(STATS_TABLE),
                columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
                values=sql.SQL(", ").join([sql.Placeholder()] * len(columns)),
                updates=updates,
            ),
            values,
            log_exceptions=False,
        )
