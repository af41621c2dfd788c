import psycopg2.errors

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..autopatches import base, runner
from . import autopatch_faults as faults
from .common import SelfHealingCase

PARAMS = {"table": "res_partner_title", "column": "shortcut"}


@tagged("post_install", "-at_install")
class TestModuleUpgrade(SelfHealingCase):
    def setUp(self):
        super().setUp()
        self.title = self.env["res.partner.title"].create({"name": "Dr. Heal", "shortcut": "Dr"})
        faults.drop_column(self.env, "res.partner.title", "shortcut")

    def assert_column_missing(self):
        with (
            self.assertRaisesRegex(psycopg2.errors.UndefinedColumn, "shortcut"),
            mute_logger("odoo.sql_db"),
            self.env.cr.savepoint(),
        ):
            self.env["res.partner.title"].search_read([], ["shortcut"])

    def test_missing_column_created_then_dropped_by_rollback(self):
        self.assert_column_missing()
        written = faults.rows_written(self.env)
        plan = runner.preview(self.env, "module_upgrade", PARAMS)
        self.assertEqual(faults.rows_written(self.env), written)
        self.assertIn("ADD COLUMN shortcut", plan)
        self.assert_column_missing()

        attempt = faults.make_attempt(self.env, "module_upgrade", PARAMS)
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, attempt.outcome)
        self.assertIn("-u base", attempt.outcome)
        self.assertEqual(self.env["res.partner.title"].browse(self.title.id).shortcut, False)
        self.assertEqual(attempt.backup_ids.payload["columns"], ["shortcut"])

        attempt.with_user(self.sh_manager).action_rollback()
        self.assert_column_missing()

    def test_rollback_refused_once_data_lives_in_the_new_column(self):
        attempt = faults.make_attempt(self.env, "module_upgrade", PARAMS)
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.title.shortcut = "Dr"
        with self.assertRaisesRegex(UserError, "data was written"):
            attempt.with_user(self.sh_manager).action_rollback()

    def test_only_declared_fields(self):
        ok, reason = runner.check(self.env, "module_upgrade", {"table": "res_partner_title", "column": "x_nothing"})
        self.assertFalse(ok)
        self.assertIn("declares no stored field", reason)

    def test_diagnose_finds_the_dropped_column_and_the_replay_reproduces_the_read(self):
        diagnosis = runner.diagnose(self.env, "module_upgrade", PARAMS)
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        self.assertEqual(diagnosis.evidence["model"], "res.partner.title")
        self.assertIs(diagnosis.evidence["column_in_table"], False)
        self.assertIs(diagnosis.evidence["declared_in_ir_model_fields"], True)
        self.assertEqual(list(diagnosis.evidence["missing"]), ["shortcut"])
        self.assertEqual(diagnosis.rows, 1)
        patch = base.get("module_upgrade")()
        with mute_logger("odoo.sql_db"):
            ok, detail = patch.replay(self.env, PARAMS)
        self.assertFalse(ok)
        self.assertIn("UndefinedColumn", detail)

        attempt = faults.make_attempt(self.env, "module_upgrade", PARAMS)
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.assertEqual(attempt.diagnosis["evidence"]["missing"], {"shortcut": "jsonb"})
        self.assertIn("reading res.partner.title works", attempt.outcome)
        self.assertTrue(patch.replay(self.env, PARAMS)[0])

    def test_look_alikes_are_refuted(self):
        # The column exists (the failing query came from elsewhere), or the field is not stored.
        attempt = faults.make_attempt(self.env, "module_upgrade", PARAMS)
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        for params, reason in (
            (PARAMS, "column res_partner_title.shortcut exists"),
            ({"table": "res_partner_title", "column": "display_name"}, "declares no stored field display_name"),
            ({"table": "no_such_table", "column": "shortcut"}, "no installed model"),
        ):
            diagnosis = runner.diagnose(self.env, "module_upgrade", params)
            self.assertFalse(diagnosis.holds, params)
            self.assertIn(reason, diagnosis.reason)
        self.assertIs(runner.diagnose(self.env, "module_upgrade", PARAMS).evidence["column_in_table"], True)
        written = faults.rows_written(self.env)
        again = faults.make_attempt(self.env, "module_upgrade", PARAMS)
        runner.run_attempt(again)
        self.assertEqual(again.state, "failed")
        self.assertIn("live diagnosis refutes", again.outcome)
        self.assertFalse(again.backup_ids)
        self.assertLessEqual(faults.rows_written(self.env) - written, 12, "only the attempt's own rows are written")
