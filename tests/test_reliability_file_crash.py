"""SIGKILL in the middle of a file fix: after a restart the file is never left half-applied.

A real server process runs the manifest fix through the runner and is killed
(SIGKILL, as the OOM killer or an operator would) right after the manifest
was replaced, before its transaction commits: no backup row exists then.
A new process loading the registry must find the journaled pre-image and put
the manifest back byte for byte.
"""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import odoo
from odoo.tests import tagged

from ..autopatches.context import journal_directory
from . import autopatch_faults as faults
from .common import ODOO_ROOT, SelfHealingCase

MODULE = "self_healing_crash_addon"
BROKEN = '{"name": "Crash Addon", "version": "17.0.1.0.0", "depends": ["base"]}\n'

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import odoo
    from odoo.api import SUPERUSER_ID, Environment
    from odoo.modules.registry import Registry
    odoo.tools.config.parse_config(["-c", sys.argv[1], "--log-level=warn"])
    odoo.addons.__path__.append(sys.argv[3])
    registry = Registry(sys.argv[2])
    if sys.argv[4] == "restart":
        sys.exit(0)
    from odoo.addons.self_healing.autopatches import context, runner
    write_file = context._write_file

    def killed_after_replacing(path, content, mode=None):
        write_file(path, content, mode)
        if path.endswith("__manifest__.py"):
            os.kill(os.getpid(), signal.SIGKILL)

    context._write_file = killed_after_replacing
    with registry.cursor() as cr:
        env = Environment(cr, SUPERUSER_ID, {})
        incident = env["self_healing.incident"].create(
            {"name": "crash", "fingerprint": "crash-" + str(os.getpid()), "source": "manual"}
        )
        attempt = env["self_healing.fix.attempt"].create(
            {"incident_id": incident.id, "autopatch_code": "manifest_fix", "params": {"module": sys.argv[5]},
             "mode": "auto"}
        )
        cr.commit()
        runner.run_attempt(attempt)
    """
)


@tagged("post_install", "-at_install")
class TestFileFixCrash(SelfHealingCase):
    def run_child(self, root, step):
        odoo_root = ODOO_ROOT
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(odoo_root), os.environ.get("PYTHONPATH")])))
        return subprocess.run(  # noqa: S603 - our own Odoo
            [sys.executable, "-c", CHILD, odoo.tools.config.rcfile, self.env.cr.dbname, root, step, MODULE],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            check=False,
        )

    @staticmethod
    def entries_for(directory, manifest):
        # Entries of this test process's own fixes (other tests) are in flight, not ours to judge.
        return [path for path in directory.glob("*.json*") if str(manifest) in path.read_text()]

    def test_manifest_is_restored_after_a_kill_before_commit(self):
        directory = Path(journal_directory(self.env.cr.dbname))
        with faults.throwaway_addon(MODULE, BROKEN) as module_dir:
            manifest = Path(module_dir, "__manifest__.py")
            root = str(Path(module_dir).parent)
            killed = self.run_child(root, "fix")
            self.assertEqual(killed.returncode, -signal.SIGKILL, killed.stderr[-3000:])
            self.assertIn(
                f'"{odoo.release.major_version}.1.0.0"',
                manifest.read_text(),
                "the kill came after the file was replaced",
            )
            self.env.cr.execute(
                "SELECT count(*) FROM self_healing_backup b JOIN self_healing_fix_attempt a ON a.id = b.attempt_id"
                " WHERE a.params->>'module' = %s",
                [MODULE],
            )
            self.assertEqual(self.env.cr.fetchone()[0], 0, "nothing of the killed transaction committed")
            self.assertTrue(self.entries_for(directory, manifest), "the pre-image was journaled before the write")

            restarted = self.run_child(root, "restart")
            self.assertEqual(restarted.returncode, 0, restarted.stderr[-3000:])
            self.assertEqual(manifest.read_text(), BROKEN)
            self.assertEqual(self.entries_for(directory, manifest), [])
        # The attempt row of the killed process was committed before the fix began: clean it up.
        self.env.cr.execute("SELECT incident_id FROM self_healing_fix_attempt WHERE params->>'module' = %s", [MODULE])
        incident_ids = [row[0] for row in self.env.cr.fetchall()]
        self.env["self_healing.incident"].browse(incident_ids).unlink()
