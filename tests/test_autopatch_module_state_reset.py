from odoo import sql_db
from odoo.tests import tagged

from odoo.addons.base.models.ir_cron import BadModuleState

from ..autopatches import base, runner
from . import autopatch_faults as faults
from .common import SelfHealingCase


@tagged("post_install", "-at_install")
class TestModuleStateReset(SelfHealingCase):
    def check_scheduler(self):
        type(self.env["ir.cron"])._check_modules_state(self.env.cr, [])

    def test_stuck_modules_reset_like_odoo_does(self):
        uninstalled = self.env["ir.module.module"].search([("state", "=", "uninstalled")], limit=1)
        faults.stick_module(self.env, uninstalled.name, "to install")
        faults.stick_module(self.env, "web", "to upgrade")
        with self.assertRaises(BadModuleState):
            self.check_scheduler()
        written = faults.rows_written(self.env)
        plan = runner.preview(self.env, "module_state_reset", {})
        self.assertEqual(faults.rows_written(self.env), written)
        self.assertIn(f"{uninstalled.name}: to install -> uninstalled", plan)

        attempt = faults.make_attempt(self.env, "module_state_reset", {})
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, attempt.outcome)
        self.assertEqual(uninstalled.state, "uninstalled")
        self.assertEqual(self.env.ref("base.module_web").state, "installed")
        self.check_scheduler()

        attempt.with_user(self.sh_manager).action_rollback()
        self.assertEqual(uninstalled.state, "to install")
        self.assertEqual(self.env.ref("base.module_web").state, "to upgrade")

    def test_a_fresh_click_is_left_alone(self):
        faults.stick_module(self.env, "web", "to upgrade", minutes_ago=1)
        ok, reason = runner.check(self.env, "module_state_reset", {})
        self.assertFalse(ok)
        self.assertIn("maybe on its way", reason)

    def test_diagnose_proves_nothing_carries_the_operation_and_replay_reproduces_the_skip(self):
        faults.stick_module(self.env, "web", "to upgrade")
        diagnosis = runner.diagnose(self.env, "module_state_reset", {"module": "web"})
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        self.assertEqual(diagnosis.evidence["stuck"][0]["module"], "web")
        self.assertEqual(diagnosis.evidence["carriers"], [])
        self.assertIs(diagnosis.evidence["registry_ready"], True)
        self.assertEqual(diagnosis.rows, 1)
        patch = base.get("module_state_reset")()
        ok, detail = patch.replay(self.env, {})
        self.assertFalse(ok)
        self.assertIn("still pending: web", detail)

        attempt = faults.make_attempt(self.env, "module_state_reset", {"module": "web"})
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.assertEqual(attempt.diagnosis["evidence"]["stuck"][0]["module"], "web")
        self.assertIn("crons run again", attempt.outcome)
        self.assertTrue(patch.replay(self.env, {})[0])

    def test_look_alike_operation_carried_out_by_another_transaction_is_not_touched(self):
        # Another worker is upgrading: its transaction has written (here: locked) module rows.
        faults.stick_module(self.env, "web", "to upgrade")
        self.env.flush_all()
        upgrader = sql_db.db_connect(self.env.cr.dbname).cursor()
        self.addCleanup(upgrader.close)
        upgrader.execute("SELECT id FROM ir_module_module WHERE name = 'base' FOR UPDATE")
        diagnosis = runner.diagnose(self.env, "module_state_reset", {})
        self.assertFalse(diagnosis.holds)
        self.assertIn("a module operation is running right now", diagnosis.reason)
        self.assertIn(upgrader._cnx.info.backend_pid, [row["pid"] for row in diagnosis.evidence["carriers"]])
        attempt = faults.make_attempt(self.env, "module_state_reset", {})
        runner.run_attempt(attempt)
        self.assertEqual(attempt.state, "failed")
        self.assertIn("live diagnosis refutes", attempt.outcome)
        self.assertEqual(self.env.ref("base.module_web").state, "to upgrade")
        upgrader.rollback()
        self.assertTrue(runner.diagnose(self.env, "module_state_reset", {}).holds, "once it ends, the fix applies")
