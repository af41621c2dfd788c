import psycopg2.errors

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..autopatches import runner
from . import autopatch_faults as faults
from .common import SelfHealingCase

PARAMS = {"table": "res_partner_industry", "column": "full_name"}


@tagged("post_install", "-at_install")
class TestModuleUpgrade(SelfHealingCase):
    def setUp(self):
        super().setUp()
        self.industry = self.env["res.partner.industry"].create({"name": "Dr. Heal", "full_name": "Dr"})
        faults.drop_column(self.env, "res.partner.industry", "full_name")

    def assert_column_missing(self):
        with (
            self.assertRaisesRegex(psycopg2.errors.UndefinedColumn, "full_name"),
            mute_logger("odoo.sql_db"),
            self.env.cr.savepoint(),
        ):
            self.env["res.partner.industry"].search_read([], ["full_name"])

    def test_missing_column_created_then_dropped_by_rollback(self):
        self.assert_column_missing()
        written = faults.rows_written(self.env)
        plan = runner.preview(self.env, "module_upgrade", PARAMS)
        self.assertEqual(faults.rows_written(self.env), written)
        self.assertIn("ADD COLUMN full_name", plan)
        self.assert_column_missing()

        attempt = faults.make_attempt(self.env, "module_upgrade", PARAMS)
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, attempt.outcome)
        self.assertIn("-u base", attempt.outcome)
        self.assertEqual(self.env["res.partner.industry"].browse(self.industry.id).full_name, False)
        self.assertEqual(attempt.backup_ids.payload["columns"], ["full_name"])

        attempt.with_user(self.sh_manager).action_rollback()
        self.assert_column_missing()

    def test_rollback_refused_once_data_lives_in_the_new_column(self):
        attempt = faults.make_attempt(self.env, "module_upgrade", PARAMS)
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.industry.full_name = "Dr"
        with self.assertRaisesRegex(UserError, "data was written"):
            attempt.with_user(self.sh_manager).action_rollback()

    def test_only_declared_fields(self):
        ok, reason = runner.check(self.env, "module_upgrade", {"table": "res_partner_industry", "column": "x_nothing"})
        self.assertFalse(ok)
        self.assertIn("declares no stored field", reason)
