from odoo.tests import tagged

from odoo.addons.base.models.ir_cron import BadModuleState

from ..autopatches import runner
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
