"""The scheduler stand-in: the addon's own jobs for a database that Odoo's scheduler skips.

Odoo's scheduler skips every job of a database while a module is left 'to
install', 'to upgrade' or 'to remove', and only logs a warning about it.
The addon's processing and healing jobs are skipped with the others, so the
signal of that warning would stay staged and the fault that blocks the
scheduler would never be healed. The sink hands such a database here: a
thread of the stand-in opens its registry and runs both jobs once, as a cron
worker would (superuser, a cursor of its own, each job's row locked the way
a worker locks it, commit).

When: never two runs at once for one database, at most one run per
``MIN_INTERVAL`` for one blocking state (the scheduler repeats its warning
at every poll), and at once for a new blocking state (another module, or a
module stuck again after a reset). Requests that arrive meanwhile are
merged into one later run.
"""

import logging
import os
import threading
import time
from contextlib import nullcontext

from odoo import SUPERUSER_ID, api, sql_db
from odoo.modules.registry import Registry

from .. import compat

_logger = logging.getLogger(__name__)

MIN_INTERVAL = 60.0
MAX_PROCESSING_BATCHES = 20
LOCK_TIMEOUT = "15s"
PROCESSING_JOB = "self_healing.ir_cron_process_signals"
HEALING_JOB = "self_healing.ir_cron_heal_incidents"

RUN, WAIT, STOP = "run", "wait", "stop"


class _GateState:
    __slots__ = ("worker", "wanted", "last_started", "last_signature")

    def __init__(self):
        self.worker = False
        self.wanted = None
        self.last_started = None
        self.last_signature = None


class StandinGate:
    """Decides when the stand-in runs for each database; pure (the clock is given, nothing runs here).

    ``request(dbname, signature)`` records that a run is wanted for a
    blocking state (any comparable, non-None value) and returns True when the
    caller must start the database's worker. That single worker asks
    ``next_step`` what to do until it is told ``STOP``: ``(RUN, signature)``,
    ``(WAIT, seconds)`` or ``(STOP, None)``.
    """

    def __init__(self, interval=MIN_INTERVAL, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self._states = {}
        self._lock = threading.Lock()

    def request(self, dbname, signature):
        with self._lock:
            state = self._states.setdefault(dbname, _GateState())
            state.wanted = signature
            if state.worker:
                return False
            state.worker = True
            return True

    def next_step(self, dbname):
        with self._lock:
            state = self._states.setdefault(dbname, _GateState())
            if state.wanted is None:
                state.worker = False
                return STOP, None
            if state.last_started is not None and state.wanted == state.last_signature:
                remaining = state.last_started + self.interval - self.clock()
                if remaining > 0:
                    return WAIT, remaining
            signature, state.wanted = state.wanted, None
            state.last_started, state.last_signature = self.clock(), signature
            return RUN, signature

    def is_idle(self, dbname):
        with self._lock:
            state = self._states.get(dbname)
            return state is None or not state.worker

    def reset(self):
        with self._lock:
            self._states = {}


class SchedulerStandin:
    """Runs ``run(dbname, signature)`` in a daemon thread per database, when the gate says so.

    ``request`` never blocks and never raises: it is called by the capture's
    flusher thread. A run's errors are logged at WARNING (by this module's
    logger, which the capture ignores) and swallowed.
    """

    def __init__(self, interval=MIN_INTERVAL, run=None, clock=time.monotonic):
        self.gate = StandinGate(interval, clock)
        self._run = run or run_jobs
        self._lock = threading.Lock()
        self._wakers = {}
        self.runs = {}
        self.errors = 0

    def _waker(self, dbname):
        with self._lock:
            return self._wakers.setdefault(dbname, threading.Event())

    def request(self, dbname, signature):
        try:
            waker = self._waker(dbname)
            if self.gate.request(dbname, signature):
                threading.Thread(
                    target=self._work, args=(dbname, waker), daemon=True, name=f"self_healing.standin.{dbname}"
                ).start()
            else:
                waker.set()  # a waiting worker looks again: this may be a new blocking state
        except Exception:
            self.errors += 1
            _logger.warning("Self-Healing could not start the scheduler stand-in for %s", dbname, exc_info=True)

    def _work(self, dbname, waker):
        while True:
            waker.clear()
            action, value = self.gate.next_step(dbname)
            if action == STOP:
                return
            if action == WAIT:
                waker.wait(value)
                continue
            try:
                self._run(dbname, value)
            except Exception:
                self.errors += 1
                _logger.warning("Self-Healing's scheduler stand-in failed on %s", dbname, exc_info=True)
            finally:
                with self._lock:
                    self.runs[dbname] = self.runs.get(dbname, 0) + 1

    def wait_idle(self, dbname, timeout=60.0):
        """Wait until no run is under way or planned for ``dbname``; True when it is so in time."""
        deadline = time.monotonic() + timeout
        while not self.gate.is_idle(dbname):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def after_fork(self):
        # Threads do not survive a fork: the child starts with no worker and no history.
        self.gate.reset()
        with self._lock:
            self._wakers = {}
            self.runs = {}


# ---------------------------------------------------------------------- one run


def pending_modules(cr):
    """What makes the scheduler skip the database now: ``(id, name, state, row version)`` of each pending module.

    Empty when nothing is pending. The row version changes with every write,
    so a module stuck again after a reset reads as a new blocking state.
    """
    cr.execute(
        "SELECT id, name, state, xmin::text FROM ir_module_module WHERE state LIKE %s ORDER BY id",
        ["to %"],
        log_exceptions=False,
    )
    return tuple(tuple(row) for row in cr.fetchall())


def _lock_job(lock_cr, cron):
    """Hold the job's row as a cron worker does while it runs the job; False when a worker holds it."""
    lock_cr.execute(
        "SELECT id FROM ir_cron WHERE id = %s FOR NO KEY UPDATE SKIP LOCKED", [cron.id], log_exceptions=False
    )
    return lock_cr.fetchone() is not None


def _process(env):
    """The processing job, called again while signals remain (the scheduler would); returns how many went."""
    signals = env["self_healing.signal"]
    before = remaining = signals._pending_count()
    for _batch in range(MAX_PROCESSING_BATCHES):
        if not remaining:
            break
        signals._cron_process()
        left = signals._pending_count()
        if left >= remaining:  # locked by another transaction: that one takes them
            break
        remaining = left
    return before - remaining


def _heal(env):
    incidents = env["self_healing.incident"]
    waiting = incidents.search_count([("to_process", "=", True)])
    incidents._cron_heal()
    return waiting


def _run_job(env, lock_cr, xmlid, job):
    """``job(env)`` under the job's row lock; its result, or a word saying why it did not run."""
    cron = env.ref(xmlid, raise_if_not_found=False)
    if not cron or not cron.active:
        return "switched off"
    if not _lock_job(lock_cr, cron):
        return "run by a cron worker right now"
    try:
        return job(env)
    except Exception:
        env.cr.rollback()
        env.invalidate_all()
        _logger.warning("Self-Healing's scheduler stand-in: job %s failed on %s", xmlid, env.cr.dbname, exc_info=True)
        return "failed"


def run_jobs(dbname, signature=None):
    """Run the processing job, then the healing job, once for ``dbname``; returns what each did.

    Both run in one transaction until the healing job commits its first
    incident: the trigger the processing job leaves for the healing job wakes
    the scheduler only then, so a fix made for that first incident is
    already committed when the scheduler looks again. Lock waits are bounded
    (``LOCK_TIMEOUT``): a stand-in never hangs on a row somebody holds.
    """
    thread = threading.current_thread()
    # As in a cron worker: what the jobs log is captured for this database.
    previous_dbname = getattr(thread, "dbname", None)
    thread.dbname = dbname
    started = time.monotonic()
    db = sql_db.db_connect(dbname)
    # This thread is the cron worker here, on cursors of its own with no request around them:
    # it commits where a worker would (the disabled invalid-commit checks below).
    lock_cr = db.cursor()
    cr = db.cursor()
    try:
        registry = Registry(dbname).check_signaling()
        # In test mode the registry's cursor is the test's own, which this thread must leave alone.
        changes = nullcontext() if compat.registry_in_test_mode(registry) else compat.signalled_changes(registry)
        with changes:
            # Committed at once, so that a job rolled back later keeps it for the session.
            cr.execute("SET lock_timeout = %s", [LOCK_TIMEOUT], log_exceptions=False)
            cr.commit()  # pylint: disable=invalid-commit
            env = api.Environment(cr, SUPERUSER_ID, {})
            pending = pending_modules(cr)
            if not pending:
                # Nothing blocks the scheduler any more: the processing job runs there as usual.
                processing = env.ref(PROCESSING_JOB, raise_if_not_found=False)
                if processing:
                    processing._trigger()
                cr.commit()  # pylint: disable=invalid-commit
                _logger.info("Self-Healing: the scheduler runs the jobs of %s again; no stand-in needed", dbname)
                return {"unblocked": True}
            outcome = {
                "processed": _run_job(env, lock_cr, PROCESSING_JOB, _process),
                "healed": _run_job(env, lock_cr, HEALING_JOB, _heal),
            }
            cr.commit()  # pylint: disable=invalid-commit
        _logger.info(
            "Self-Healing stood in for the scheduler of %s (pending: %s): processing job: %s signal(s), "
            "healing job: %s incident(s), in %.2f s",
            dbname,
            ", ".join(f"{name} {state}" for _id, name, state, _version in pending),
            outcome["processed"],
            outcome["healed"],
            time.monotonic() - started,
        )
        return outcome
    finally:
        try:
            # The connection goes back to Odoo's pool: without the stand-in's lock timeout.
            cr.rollback()
            cr.execute("RESET lock_timeout", log_exceptions=False)
            cr.commit()  # pylint: disable=invalid-commit
        finally:
            cr.close()
            lock_cr.rollback()
            lock_cr.close()
            if previous_dbname is None:
                del thread.dbname
            else:
                thread.dbname = previous_dbname


scheduler_standin = SchedulerStandin()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=scheduler_standin.after_fork)
