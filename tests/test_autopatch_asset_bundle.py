import hashlib
import os

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from ..autopatches import base, runner
from ..autopatches.asset_bundle_purge import bundle_attachments, defect
from . import autopatch_faults as faults

BUNDLE = "web.assets_clickbot"


@tagged("post_install", "-at_install")
class TestAssetBundlePurge(HttpCase):
    def setUp(self):
        super().setUp()
        self.env = self.env(context=dict(self.env.context, tracking_disable=True))
        self.attachment = faults.bundle_attachment(self.env, BUNDLE)
        self.url = self.attachment.url
        self.manager = self.env.ref("base.user_admin")

    def heal_and_serve(self, broken):
        attempt = faults.make_attempt(self.env, "asset_bundle_purge", {"bundle": BUNDLE})
        written = faults.rows_written(self.env)
        self.assertIn(f"#{broken.id}", runner.preview(self.env, "asset_bundle_purge", {"bundle": BUNDLE}))
        self.assertEqual(faults.rows_written(self.env), written)
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, attempt.outcome)
        self.assertFalse(broken.exists())
        rebuilt = bundle_attachments(self.env, BUNDLE)
        self.assertTrue(rebuilt)
        self.assertFalse(any(defect(attachment) for attachment in rebuilt))
        response = self.url_open(rebuilt[-1].url)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(hashlib.sha1(response.content).hexdigest(), rebuilt[-1].checksum)
        return attempt

    def test_missing_file(self):
        self.addCleanup(faults.break_bundle_file(self.attachment, "missing"))
        self.assertIn("missing", defect(self.attachment))
        with mute_logger("odoo.http", "odoo.addons.base.models.ir_attachment"):
            self.assertEqual(self.url_open(self.url).status_code, 500)
        attempt = self.heal_and_serve(self.attachment)
        backup = attempt.backup_ids
        self.assertEqual(backup.operation, "delete")
        self.assertEqual(backup.payload["rows"][0]["id"], self.attachment.id)

        attempt.with_user(self.manager).action_rollback()
        self.assertEqual(attempt.state, "rolled_back")
        restored = self.env["ir.attachment"].browse(self.attachment.id)
        self.assertTrue(restored.exists())
        self.assertEqual((restored.url, restored.checksum), (self.url, backup.payload["rows"][0]["checksum"]))

    def test_corrupt_file(self):
        self.addCleanup(faults.break_bundle_file(self.attachment, "garbage"))
        self.assertIn("checksum", defect(self.attachment))
        served = self.url_open(self.url)
        self.assertIn(b"garbage, not javascript", served.content)
        self.heal_and_serve(self.attachment)

    def test_healthy_bundle_is_left_alone(self):
        ok, reason = runner.check(self.env, "asset_bundle_purge", {"bundle": BUNDLE})
        self.assertFalse(ok)
        self.assertIn("present and matches", reason)

    def test_diagnose_names_the_missing_file_and_the_replay_reproduces_the_request(self):
        self.addCleanup(faults.break_bundle_file(self.attachment, "missing"))
        diagnosis = runner.diagnose(self.env, "asset_bundle_purge", {"bundle": BUNDLE})
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        broken = diagnosis.evidence["broken"]
        self.assertEqual([entry["id"] for entry in broken], [self.attachment.id])
        self.assertEqual(broken[0]["store_fname"], self.attachment.store_fname)
        self.assertIn("missing from the filestore", broken[0]["defect"])
        self.assertIn(self.attachment.id, diagnosis.evidence["deleted_with_them"])
        self.assertGreaterEqual(diagnosis.rows, 1)
        self.assertGreaterEqual(diagnosis.files, 1)

        patch = base.get("asset_bundle_purge")()
        ok, detail = patch.replay(self.env, {"bundle": BUNDLE})
        self.assertFalse(ok)
        self.assertIn("FileNotFoundError", detail)
        self.assertTrue(self.attachment.exists(), "the replay deletes nothing")

        attempt = self.heal_and_serve(self.attachment)
        self.assertEqual(attempt.diagnosis["evidence"]["broken"][0]["id"], self.attachment.id)
        self.assertIn("the asset requests serve /web/assets/", attempt.outcome)
        self.assertTrue(patch.replay(self.env, {"bundle": BUNDLE})[0])

    def test_corrupt_file_is_served_as_garbage_before_the_fix(self):
        self.addCleanup(faults.break_bundle_file(self.attachment, "garbage"))
        ok, detail = base.get("asset_bundle_purge")().replay(self.env, {"bundle": BUNDLE})
        self.assertFalse(ok)
        self.assertIn("do not match", detail)

    def test_look_alike_missing_file_of_a_user_attachment_is_not_touched(self):
        # A missing filestore file, but of a user's document, not of a generated bundle.
        document = self.env["ir.attachment"].create({"name": "contract.pdf", "raw": b"%PDF-1.4 self_healing"})
        path = document._full_path(document.store_fname)
        with open(path, "rb") as handle:
            original = handle.read()
        os.remove(path)
        self.addCleanup(lambda: open(path, "wb").write(original))
        for params in ({"bundle": BUNDLE}, {}):
            diagnosis = runner.diagnose(self.env, "asset_bundle_purge", params)
            self.assertFalse(diagnosis.holds, diagnosis.reason)
            self.assertEqual(diagnosis.evidence["broken"], [])
        attempt = faults.make_attempt(self.env, "asset_bundle_purge", {})
        runner.run_attempt(attempt)
        self.assertEqual(attempt.state, "failed")
        self.assertIn("live diagnosis refutes", attempt.outcome)
        self.assertTrue(document.exists())
        self.assertTrue(self.attachment.exists())
