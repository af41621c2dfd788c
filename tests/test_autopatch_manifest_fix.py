import ast
import os

from odoo.exceptions import UserError
from odoo.release import major_version
from odoo.tests import tagged

from .. import compat
from ..autopatches import base, runner
from . import autopatch_faults as faults
from .common import SelfHealingCase

MODULE = "self_healing_chaos_addon"
BROKEN = """# A customer's addon: keep this comment.
{
    "name": "Chaos Addon",  # the name, with a comma
    "version": "17.0.2.1.0",
    "depends": ["base"],
    "data": [],
}
"""
FIXED_VERSION = f"{major_version}.2.1.0"  # the series of the Odoo running the tests


@tagged("post_install", "-at_install")
class TestManifestFix(SelfHealingCase):
    def read_bytes(self, path):
        with open(path, "rb") as handle:
            return handle.read()

    def test_license_and_version_fixed_as_text_and_restored_byte_for_byte(self):
        with faults.throwaway_addon(MODULE, BROKEN) as module_dir:
            path = f"{module_dir}/__manifest__.py"
            if compat.ODOO_MAJOR >= 19:
                # 19.0 accepts the format and skips the module with a warning (GR-MAN-002's second wording).
                with self.assertLogs("odoo.modules.module", "WARNING") as logs:
                    self.assertFalse(compat.load_manifest(MODULE, module_dir)["installable"])
                self.assertIn(
                    f"The module {MODULE} has an incompatible version, setting installable=False", logs.output[-1]
                )
            else:
                with self.assertRaisesRegex(ValueError, f"Module {MODULE}: invalid manifest"):
                    compat.load_manifest(MODULE, module_dir)
            plan = runner.preview(self.env, "manifest_fix", {"module": MODULE})
            self.assertEqual(self.read_bytes(path), BROKEN.encode(), "planning must not touch the file")
            self.assertIn(f'+    "version": "{FIXED_VERSION}",', plan)

            attempt = faults.make_attempt(self.env, "manifest_fix", {"module": MODULE})
            result = runner.run_attempt(attempt)
            self.assertTrue(result.ok, attempt.outcome)
            fixed = self.read_bytes(path).decode()
            self.assertEqual(
                fixed,
                BROKEN.replace("17.0.2.1.0", FIXED_VERSION).replace(
                    '"data": [],', '"data": [],\n    "license": "LGPL-3",'
                ),
            )
            self.assertEqual(ast.literal_eval(fixed)["license"], "LGPL-3")
            self.assertEqual(compat.load_manifest(MODULE, module_dir)["version"], FIXED_VERSION)
            backup = attempt.backup_ids
            self.assertEqual((backup.kind, backup.operation), ("file", "file"))

            attempt.with_user(self.sh_manager).action_rollback()
            self.assertEqual(self.read_bytes(path), BROKEN.encode())

    def test_missing_license_only(self):
        text = "{'name': 'Chaos', 'version': '1.0', 'depends': ['base']}\n"
        with faults.throwaway_addon(MODULE, text) as module_dir:
            with self.assertLogs("odoo.modules.module", "WARNING") as logs:
                compat.load_manifest(MODULE, module_dir)
            # 19.0 also warns about the missing author first.
            self.assertTrue(any("Missing `license` key" in line for line in logs.output), logs.output)
            attempt = faults.make_attempt(self.env, "manifest_fix", {"module": MODULE})
            self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
            with open(f"{module_dir}/__manifest__.py", encoding="utf-8") as handle:
                self.assertEqual(
                    handle.read(), "{'name': 'Chaos', 'version': '1.0', 'depends': ['base'], 'license': 'LGPL-3'}\n"
                )
            with open(f"{module_dir}/__manifest__.py", "a", encoding="utf-8") as handle:
                handle.write("# edited by a developer since\n")
            with self.assertRaisesRegex(UserError, "changed since"):
                attempt.with_user(self.sh_manager).action_rollback()

    def test_odoo_own_manifests_are_refused(self):
        ok, reason = runner.check(self.env, "manifest_fix", {"module": "base"})
        self.assertFalse(ok)
        self.assertIn("part of Odoo itself", reason)
        ok, reason = runner.check(self.env, "manifest_fix", {"module": "mail"})
        self.assertIn("part of Odoo itself", reason)

    def test_diagnose_reads_the_file_and_the_replay_runs_odoo_loader(self):
        with faults.throwaway_addon(MODULE, BROKEN) as module_dir:
            path = f"{module_dir}/__manifest__.py"
            diagnosis = runner.diagnose(self.env, "manifest_fix", {"module": MODULE})
            self.assertTrue(diagnosis.holds, diagnosis.reason)
            self.assertEqual(os.path.realpath(diagnosis.evidence["path"]), os.path.realpath(path))
            self.assertEqual(sorted(diagnosis.evidence["problems"]), ["license", "version"])
            self.assertEqual((diagnosis.rows, diagnosis.files), (0, 1))
            patch = base.get("manifest_fix")()
            ok, detail = patch.replay(self.env, {"module": MODULE})
            self.assertFalse(ok)
            if compat.ODOO_MAJOR >= 19:  # a well-formed version of another series: a warning, not an error
                self.assertIn("Odoo's loader warns about", detail)
                self.assertIn("has an incompatible version, setting installable=False", detail)
            else:
                self.assertIn("Odoo's loader refuses", detail)
            self.assertEqual(self.read_bytes(path), BROKEN.encode(), "the replay only reads")

            attempt = faults.make_attempt(self.env, "manifest_fix", {"module": MODULE})
            self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
            self.assertEqual(os.path.realpath(attempt.diagnosis["evidence"]["path"]), os.path.realpath(path))
            self.assertIn("Odoo loads", attempt.outcome)
            self.assertTrue(patch.replay(self.env, {"module": MODULE})[0])

    def test_replay_fails_on_the_license_warning(self):
        text = "{'name': 'Chaos', 'version': '1.0', 'depends': ['base']}\n"
        with faults.throwaway_addon(MODULE, text):
            ok, detail = base.get("manifest_fix")().replay(self.env, {"module": MODULE})
        self.assertFalse(ok)
        self.assertIn("Missing `license` key", detail)

    def test_look_alike_valid_manifest_is_not_touched(self):
        text = f"{{'name': 'Chaos', 'version': '{major_version}.1.0.0', 'depends': ['base'], 'license': 'AGPL-3'}}\n"
        with faults.throwaway_addon(MODULE, text) as module_dir:
            diagnosis = runner.diagnose(self.env, "manifest_fix", {"module": MODULE})
            self.assertFalse(diagnosis.holds)
            self.assertIn("has a license and a valid version", diagnosis.reason)
            self.assertTrue(base.get("manifest_fix")().replay(self.env, {"module": MODULE})[0])
            attempt = faults.make_attempt(self.env, "manifest_fix", {"module": MODULE})
            runner.run_attempt(attempt)
            self.assertEqual(attempt.state, "failed")
            self.assertIn("live diagnosis refutes", attempt.outcome)
            self.assertEqual(self.read_bytes(f"{module_dir}/__manifest__.py"), text.encode())
