from odoo.tests import tagged
from odoo.tools import mute_logger

from ..autopatches import runner
from . import autopatch_faults as faults
from .common import SelfHealingCase


@tagged("post_install", "-at_install")
class TestCronReactivate(SelfHealingCase):
    def setUp(self):
        super().setUp()
        self.cron = faults.make_failing_cron(self.env)
        with mute_logger("odoo.addons.base.models.ir_cron"):
            self.error = faults.fail_cron_until_deactivated(self.env, self.cron)

    def test_reactivated_only_once_the_cause_is_healed(self):
        self.assertIsInstance(self.error, ZeroDivisionError)
        self.assertFalse(self.cron.active, "Odoo switches a job off after 5 failures over 7 days")
        self.assertEqual(self.cron.failure_count, 0)

        params = {"cron_id": self.cron.id}
        still_failing = faults.make_attempt(self.env, "cron_reactivate", params)
        runner.run_attempt(still_failing)
        self.assertEqual(still_failing.state, "failed")
        self.assertIn("the job still fails: ZeroDivisionError", still_failing.outcome)
        self.assertFalse(self.cron.active)

        faults.heal_cron_cause(self.env)
        written = faults.rows_written(self.env)
        self.assertIn("Reactivate scheduled action", runner.preview(self.env, "cron_reactivate", params))
        self.assertEqual(faults.rows_written(self.env), written)
        attempt = faults.make_attempt(self.env, "cron_reactivate", {"cron_name": self.cron.cron_name})
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, attempt.outcome)
        self.assertTrue(self.cron.active)
        self.assertTrue(self.cron.lastcall, "validation ran the job once")
        self.assertIsNone(faults.run_cron_as_scheduler(self.env, self.cron))

        attempt.with_user(self.sh_manager).action_rollback()
        self.assertFalse(self.cron.active)

    def test_active_cron_is_left_alone(self):
        faults.heal_cron_cause(self.env)
        self.cron.active = True
        ok, reason = runner.check(self.env, "cron_reactivate", {"cron_id": self.cron.id})
        self.assertFalse(ok)
        self.assertIn("is active", reason)
