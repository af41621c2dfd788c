"""An addons path the server cannot write, or a disk that fills, in the middle of a file fix.

A real server process runs the manifest fix through the runner. Right after
the pre-image was journaled, and before the manifest is replaced, the disk
"fills" or the path stops being writable for the server:

- full: the process gets a file size limit (RLIMIT_FSIZE, SIGXFSZ ignored),
  so the kernel refuses the write with EFBIG exactly as a full file system
  refuses it with ENOSPC: the writer sees a failed write() mid-file;
- read-only: the process drops its effective user to ``nobody`` (the usual
  production layout: addons owned by root, Odoo running as another user),
  so opening the temporary next to the manifest fails with EACCES.

Either way the manifest must be byte for byte what it was, with no
temporary and no journal entry left, no backup row, and the attempt failed
with the reason in its outcome.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import odoo
from odoo.tests import tagged

from ..autopatches.context import journal_directory
from . import autopatch_faults as faults
from .common import ODOO_ROOT, SelfHealingCase
from .test_detection_common import committed_env

MODULE = "self_healing_refusal_addon"
BROKEN = '{"name": "Refusal Addon", "version": "17.0.1.0.0", "depends": ["base"]}\n'

CHILD = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    import odoo
    from odoo.api import SUPERUSER_ID, Environment
    from odoo.modules.registry import Registry
    odoo.tools.config.parse_config(["-c", sys.argv[1], "--log-level=critical"])
    odoo.addons.__path__.append(sys.argv[3])
    registry = Registry(sys.argv[2])
    from odoo.addons.self_healing.autopatches import context, runner
    journal_entry = context._write_journal_entry

    def then_fault(*args, **kwargs):
        path = journal_entry(*args, **kwargs)
        if sys.argv[4] == "full":
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (16, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        else:
            os.setresuid(65534, 65534, 0)  # the saved uid lets the journal's clean-up run as before
        return path

    def lifted(function):
        def call(*args, **kwargs):
            # Clean-up of our own journal (outside the addons path) is not what is faulted.
            resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            if os.geteuid() != 0:
                os.seteuid(0)
            return function(*args, **kwargs)
        return call

    context._write_journal_entry = then_fault
    context._remove = lifted(context._remove)
    with registry.cursor() as cr:
        env = Environment(cr, SUPERUSER_ID, {})
        incident = env["self_healing.incident"].create(
            {"name": "refusal", "fingerprint": "refusal-" + str(os.getpid()), "source": "manual"}
        )
        attempt = env["self_healing.fix.attempt"].create(
            {"incident_id": incident.id, "autopatch_code": "manifest_fix", "params": {"module": sys.argv[5]},
             "mode": "auto"}
        )
        cr.commit()
        result = runner.run_attempt(attempt)
        print(json.dumps({"ok": result.ok, "state": attempt.state, "outcome": attempt.outcome,
                          "error": attempt.error, "attempt": attempt.id, "incident": incident.id,
                          "backups": len(attempt.backup_ids)}))
    """
)


@tagged("post_install", "-at_install")
class TestFileFixRefusal(SelfHealingCase):
    def run_fault(self, fault):
        with faults.throwaway_addon(MODULE, BROKEN) as module_dir:
            manifest = Path(module_dir, "__manifest__.py")
            before = manifest.read_bytes()
            env = dict(
                os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ODOO_ROOT), os.environ.get("PYTHONPATH")]))
            )
            child = subprocess.run(  # noqa: S603 - our own Odoo
                [
                    sys.executable,
                    "-c",
                    CHILD,
                    odoo.tools.config.rcfile,
                    self.env.cr.dbname,
                    str(Path(module_dir).parent),
                    fault,
                    MODULE,
                ],
                capture_output=True,
                text=True,
                timeout=300,
                env=env,
                check=False,
            )
            self.assertEqual(child.returncode, 0, child.stderr[-3000:])
            result = json.loads(child.stdout.strip().splitlines()[-1])
            self.addCleanup(self.delete_incident, result["incident"])
            self.assertEqual(manifest.read_bytes(), before, "nothing half-written")
            self.assertEqual(
                sorted(path.name for path in Path(module_dir).iterdir()), ["__init__.py", "__manifest__.py"]
            )
            journal = Path(journal_directory(self.env.cr.dbname))
            self.assertEqual(
                [path for path in journal.glob("*.json*") if str(manifest) in path.read_text()],
                [],
                "the journal entry went with the failed write",
            )
        self.assertFalse(result["ok"])
        self.assertEqual((result["state"], result["backups"]), ("failed", 0), result)
        return result

    def test_a_disk_full_during_the_manifest_write_refuses_the_fix(self):
        result = self.run_fault("full")
        self.assertIn("File too large", result["outcome"], result)
        self.assertIn("Nothing was changed", result["outcome"])

    def test_an_addons_path_the_server_cannot_write_refuses_the_fix(self):
        result = self.run_fault("readonly")
        self.assertIn("Permission denied", result["outcome"], result)
        self.assertIn("Nothing was changed", result["outcome"])

    def delete_incident(self, incident_id):
        with committed_env(self.env.cr.dbname) as env:
            env["self_healing.incident"].browse(incident_id).exists().unlink()
