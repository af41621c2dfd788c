import hashlib

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from ..autopatches import runner
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
