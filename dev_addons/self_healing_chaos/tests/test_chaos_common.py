"""Helpers for the chaos scenario tests (no tests here).

A scenario is injected into the test database and provoked the way its
provocation says, in this process: JSON-RPC calls and page requests go
through the test HTTP server, scheduled actions run as the scheduler runs
them (the job in a cursor of its own, then Odoo's failure bookkeeping). The
log records this produces are captured at the scenario's level by a capture
handler of the engine, exactly as the live capture turns them into signals,
and ingested with the signals the detectors staged. What the chaos command
measures on a live server (timings, healing, learning) is not repeated here.
"""

import contextlib
import json
import logging
import shutil
import tempfile
import threading
import xmlrpc.client

from odoo import api
from odoo.tests import HttpCase

from odoo.addons.base.models.ir_cron import CompletionStatus
from odoo.addons.self_healing import compat
from odoo.addons.self_healing.detection import capture
from odoo.addons.self_healing.tests.test_detection_common import (
    SERVER_LEVELS,
    CommittedState,
    committed_env,
    logger_levels,
)

from .. import faults, scenarios
from ..smtp import LocalSMTPServer

WARNING_LEVELS = dict(SERVER_LEVELS, **{"odoo.modules.module": logging.WARNING})


@contextlib.contextmanager
def captured_signals(dbname, level):
    """Signal dicts of the records logged for ``dbname`` at ``level`` or above during the block."""
    signals = []

    def sink(signal_dbname, batch):
        signals.extend(dict(signal, dbname=dbname) for signal in batch if signal_dbname in (dbname, None))

    handler = capture.BufferedCaptureHandler(sink, level=level, source="log", flush_interval=0.05)
    root = logging.getLogger()
    thread = threading.current_thread()
    had_dbname, previous = hasattr(thread, "dbname"), getattr(thread, "dbname", None)
    # Records logged by this thread belong to the test database, as a server's request thread says.
    thread.dbname = dbname
    root.addHandler(handler)
    try:
        with logger_levels(WARNING_LEVELS):
            yield signals
            handler.flush(5.0)
    finally:
        root.removeHandler(handler)
        handler.close()
        if had_dbname:
            thread.dbname = previous
        elif hasattr(thread, "dbname"):
            del thread.dbname


def mark_for_chaos(env):
    env["ir.config_parameter"].sudo().set_param(scenarios.CHAOS_ALLOWED_PARAM, "True")


class ChaosScenarioCase(HttpCase):
    """Inject, provoke and ingest one scenario in the test database."""

    def setUp(self):
        super().setUp()
        self.committed = CommittedState(self.env.cr.dbname)
        self.addCleanup(self.committed.restore)
        mark_for_chaos(self.env)
        self.smtp = LocalSMTPServer().start()
        self.addCleanup(self.smtp.stop)
        self.addons_path = tempfile.mkdtemp(prefix="self_healing_chaos_addons_")
        self.addCleanup(shutil.rmtree, self.addons_path, True)
        compat.add_addons_path(self.addons_path)
        self.addCleanup(compat.remove_addons_path, self.addons_path)
        server = faults.make_mail_server(self.env, self.smtp.port)
        server.from_filter = "example.com"
        self.run_context = scenarios.RoundContext(round=1, addons_path=self.addons_path, mail_server_id=server.id)
        # Odoo lists the static folders of every addon on its first request; have that done before a
        # scenario puts a broken manifest on the addons path.
        self.url_open("/web/static/self_healing_chaos_warm_up")
        self.authenticate("admin", "admin")

    # ------------------------------------------------------------------ the scenario

    def run_scenario(self, name, committed=False):
        """Inject and provoke ``name``; returns the incidents the resulting signals made, matched.

        ``committed`` injects on a connection of its own and commits, for faults the scheduler must see
        (it reads the database on its own connection); the scenario's clean-up undoes them afterwards.
        """
        scenario = scenarios.get(name)
        if committed:
            with committed_env(self.env.cr.dbname) as env:
                facts = scenario.inject(env, self.run_context)
            self.addCleanup(self.committed_cleanup, scenario, facts)
        else:
            facts = scenario.inject(self.env(su=True), self.run_context)
        if scenario.capture_level:
            # What the chaos command sets for the scenario: ingestion keeps records from this level on.
            self.env["ir.config_parameter"].sudo().set_param(scenarios.CAPTURE_LEVEL_PARAM, scenario.capture_level)
        self.env.flush_all()
        provocation = scenario.provocation(facts)
        Incident = self.env["self_healing.incident"].sudo()
        before = Incident.search([]).ids
        with captured_signals(self.env.cr.dbname, scenario.capture_level or "ERROR") as signals:
            self.provoke(provocation)
        Incident._ingest_signals(signals)
        self.env["self_healing.signal"].sudo()._process_staged()
        incidents = Incident.search([("id", "not in", before)])
        self.env["self_healing.matcher"].sudo().apply_match(incidents)
        return incidents

    def committed_cleanup(self, scenario, facts):
        with committed_env(self.env.cr.dbname) as env:
            scenario.cleanup(env, facts)

    def assert_scenario_detected(self, name, committed=False):
        scenario = scenarios.get(name)
        incidents = self.run_scenario(name, committed=committed)
        found = incidents.filtered(lambda incident: incident.error_class == scenario.error_class)
        self.assertTrue(
            found, f"{name}: no {scenario.error_class} incident among {[(i.error_class, i.name) for i in incidents]}"
        )
        patches = set(found.guardrail_id.mapped("autopatch_code"))
        self.assertIn(scenario.autopatch, patches, f"{name}: matched {found.guardrail_id.mapped('code')}")
        return found.filtered(lambda incident: incident.guardrail_id.autopatch_code == scenario.autopatch)

    # ------------------------------------------------------------------ provocations, in this process

    def provoke(self, provocation):
        kind = provocation["kind"]
        if kind == "call":
            self.json_call(provocation["model"], provocation["method"], provocation["args"], provocation["kwargs"])
        elif kind == "xmlrpc":
            with contextlib.suppress(xmlrpc.client.Fault):
                self.xmlrpc_object.execute_kw(
                    self.env.cr.dbname,
                    self.env.ref("base.user_admin").id,
                    "admin",
                    provocation["model"],
                    provocation["method"],
                    provocation["args"],
                    provocation["kwargs"],
                )
        elif kind == "get":
            self.url_open(provocation["path"])
        elif kind == "cron" and self.scheduler_blocked():
            self.run_scheduler(provocation["cron_id"])
        elif kind == "cron":
            self.smtp.fail_next(provocation.get("smtp_failures", 0))
            with faults.real_smtp():
                self.run_cron_as_scheduler(provocation["cron_id"])
        else:
            raise ValueError(f"{kind} provocations need real concurrent transactions: see the serialization test")

    def json_call(self, model, method, args, kwargs):
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs},
        }
        response = self.url_open(
            f"/web/dataset/call_kw/{model}/{method}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        return response.json()

    def scheduler_blocked(self):
        """Whether the scheduler would skip this database (it reads committed module states)."""
        with committed_env(self.env.cr.dbname) as env:
            env.cr.execute("SELECT count(*) FROM ir_module_module WHERE state LIKE 'to %%'")
            return bool(env.cr.fetchone()[0])

    def run_scheduler(self, cron_id):
        """One pass of the scheduler itself over this database, with ``cron_id`` due (a committed trigger)."""
        dbname = self.env.cr.dbname
        with committed_env(dbname) as env:
            env["ir.cron"].browse(cron_id)._trigger()
        thread = threading.current_thread()
        previous = getattr(thread, "dbname", None)
        try:
            type(self.env["ir.cron"])._process_jobs(dbname)
        finally:
            thread.dbname = previous
            with committed_env(dbname) as env:
                env.cr.execute("DELETE FROM ir_cron_trigger WHERE cron_id = %s", [cron_id])

    def run_cron_as_scheduler(self, cron_id):
        """The job in a cursor of its own (it rolls back when it fails), then the failure bookkeeping."""
        cron = self.env["ir.cron"].sudo().browse(cron_id)
        error = None
        if compat.ODOO_MAJOR >= 19:
            # 19.0 logs a job's failure in _run_job (18.0 in _callback): run that very step of the scheduler.
            IrCron = type(self.env["ir.cron"])
            job = IrCron._acquire_one_job(self.env.cr, cron.id, include_not_ready=True)
            if IrCron._run_job(job) == CompletionStatus.FAILED:
                error = RuntimeError(f"job {cron.cron_name!r} failed (see the log)")
        else:
            try:
                with self.registry.cursor() as job_cr:
                    job_env = api.Environment(job_cr, cron.user_id.id, {"cron_id": cron.id})
                    job_env["ir.cron"].browse(cron.id)._callback(cron.cron_name, cron.ir_actions_server_id.id)
            except Exception as exc:  # noqa: BLE001 - the job's failure is the provocation
                error = exc
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT id, cron_name, failure_count, first_failure_date, active FROM ir_cron WHERE id = %s", [cron.id]
        )
        job = self.env.cr.dictfetchone()
        self.env["ir.cron"].sudo()._update_failure_count(
            job, CompletionStatus.FAILED if error else CompletionStatus.FULLY_DONE
        )
        self.env.invalidate_all()
        return error
