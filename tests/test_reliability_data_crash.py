"""SIGKILL in the middle of a data fix: never half-applied, and the attempt is told and can run again.

A real server process runs ``filter_deactivate`` through the runner and is
killed (SIGKILL) after its first write (the favourite is deactivated) and
before its second (the window action's domain): had anything committed in
between, the favourite would stay off with the action still broken. A new
process loading the registry must find the run's marker and post a note on
the attempt; the attempt is then run again, to the end.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import odoo
from odoo.tests import tagged

from ..autopatches import runner
from ..autopatches.context import RUN_SUFFIX, journal_directory, recover_interrupted_runs
from . import autopatch_faults as faults
from .common import ODOO_ROOT, SelfHealingCase
from .test_detection_common import committed_env

PARAMS = {"model": "res.partner", "field": faults.GHOST_FIELD}

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import odoo
    from odoo.api import SUPERUSER_ID, Environment
    from odoo.modules.registry import Registry
    odoo.tools.config.parse_config(["-c", sys.argv[1], "--log-level=warn"])
    registry = Registry(sys.argv[2])
    if sys.argv[3] == "restart":
        sys.exit(0)
    from odoo.addons.self_healing.autopatches import context, runner
    write = context.PatchContext.write
    writes = []

    def killed_between_writes(self, records, vals, method="orm"):
        result = write(self, records, vals, method)
        writes.append(records._name)
        if len(writes) == 1:
            self.env.flush_all()
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    context.PatchContext.write = killed_between_writes
    with registry.cursor() as cr:
        env = Environment(cr, SUPERUSER_ID, {})
        attempt = env["self_healing.fix.attempt"].browse(int(sys.argv[4]))
        runner.run_attempt(attempt)
    """
)


@tagged("post_install", "-at_install")
class TestDataFixCrash(SelfHealingCase):
    def run_child(self, step, attempt_id=0):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ODOO_ROOT), os.environ.get("PYTHONPATH")])))
        return subprocess.run(  # noqa: S603 - our own Odoo
            [sys.executable, "-c", CHILD, odoo.tools.config.rcfile, self.env.cr.dbname, step, str(attempt_id)],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            check=False,
        )

    def markers(self, attempt_id):
        directory = Path(journal_directory(self.env.cr.dbname))
        return list(directory.glob(f"run-{attempt_id}-*{RUN_SUFFIX}*"))

    def test_a_data_fix_killed_between_its_writes_leaves_nothing_and_can_run_again(self):
        dbname = self.env.cr.dbname
        with committed_env(dbname) as env:
            saved = faults.break_saved_filter(env, "res.partner")
            action = faults.break_action_domain(env, "res.partner")
            broken_domain = action.domain
            attempt = faults.make_attempt(env, "filter_deactivate", PARAMS)
            ids = {"filter": saved.id, "action": action.id, "attempt": attempt.id, "incident": attempt.incident_id.id}
        self.addCleanup(self.delete_committed, ids)

        killed = self.run_child("fix", ids["attempt"])
        self.assertEqual(killed.returncode, -signal.SIGKILL, killed.stderr[-3000:])
        self.assertTrue(self.markers(ids["attempt"]), "the run was marked before the first write")
        with committed_env(dbname) as env:
            self.assertTrue(env["ir.filters"].browse(ids["filter"]).active, "the first write did not commit")
            self.assertEqual(env["ir.actions.act_window"].browse(ids["action"]).domain, broken_domain)
            attempt = env["self_healing.fix.attempt"].browse(ids["attempt"])
            self.assertEqual(attempt.state, "proposed", "not left applied, not stuck: runnable as before")
            self.assertFalse(attempt.backup_ids)

        restarted = self.run_child("restart")
        self.assertEqual(restarted.returncode, 0, restarted.stderr[-3000:])
        self.assertEqual(self.markers(ids["attempt"]), [], "the restart handled the marker")
        with committed_env(dbname) as env:
            attempt = env["self_healing.fix.attempt"].browse(ids["attempt"])
            notes = attempt.message_ids.mapped("body")
            self.assertTrue(
                any(
                    "stopped while this fix ran" in str(body) and "nothing of the fix was kept" in str(body)
                    for body in notes
                ),
                notes,
            )
            # Resumable: the same attempt runs to the end now.
            result = runner.run_attempt(attempt)
            self.assertTrue(result.ok, attempt.outcome)
            self.assertFalse(env["ir.filters"].browse(ids["filter"]).active)
            self.assertNotEqual(env["ir.actions.act_window"].browse(ids["action"]).domain, broken_domain)

    def test_a_run_that_ends_leaves_no_marker(self):
        saved = faults.break_saved_filter(self.env, "res.partner")
        attempt = faults.make_attempt(self.env, "filter_deactivate", PARAMS)
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.assertFalse(saved.active)
        # The test transaction never commits: its rollback ends the run as a commit would.
        self.env.cr.postrollback.run()
        self.assertEqual(self.markers(attempt.id), [])

    def test_a_marker_of_an_earlier_database_of_this_name_is_removed_without_a_word(self):
        attempt = faults.make_attempt(self.env, "filter_deactivate", PARAMS)
        finished = subprocess.Popen(["true"])  # noqa: S603, S607 - a process that has ended: its pid is free
        finished.wait()
        directory = Path(journal_directory(self.env.cr.dbname))
        directory.mkdir(parents=True, exist_ok=True)
        here = self.env["ir.config_parameter"].sudo().get_param("database.uuid")
        entry = {"attempt_id": attempt.id, "incident_id": attempt.incident_id.id, "autopatch_code": "x"}
        entry.update(host=socket.gethostname(), pid=finished.pid, started=None, at="2026-01-01 00:00:00")
        stale = directory / f"run-{attempt.id}-earlier{RUN_SUFFIX}"
        stale.write_text(json.dumps(dict(entry, database_uuid="an-earlier-database")))
        self.assertEqual(recover_interrupted_runs(self.env), [])
        self.assertFalse(stale.exists(), "the stale marker is removed")
        ours = directory / f"run-{attempt.id}-ours{RUN_SUFFIX}"
        ours.write_text(json.dumps(dict(entry, database_uuid=here)))
        self.assertEqual(recover_interrupted_runs(self.env), [("attempt", attempt.id)], "this database's run is told")
        self.assertFalse(ours.exists())

    def delete_committed(self, ids):
        with committed_env(self.env.cr.dbname) as env:
            env["self_healing.incident"].browse(ids["incident"]).exists().unlink()
            env["ir.filters"].with_context(active_test=False).browse(ids["filter"]).exists().unlink()
            env["ir.actions.act_window"].browse(ids["action"]).exists().unlink()
