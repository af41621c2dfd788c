from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..autopatches import base, runner
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

    def test_diagnose_finds_odoo_deactivation_notice_and_replay_needs_the_job_on(self):
        faults.heal_cron_cause(self.env)
        diagnosis = runner.diagnose(self.env, "cron_reactivate", {"cron_id": self.cron.id})
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        notice = self.env["mail.message"].browse(diagnosis.evidence["odoo_notice"])
        self.assertIn("has been deactivated after failing", str(notice.body))
        self.assertIs(diagnosis.evidence["active"], False)
        self.assertEqual(diagnosis.rows, 1)
        patch = base.get("cron_reactivate")()
        ok, detail = patch.replay(self.env, {"cron_id": self.cron.id})
        self.assertFalse(ok)
        self.assertIn("the scheduler skips it", detail)
        self.assertFalse(self.cron.lastcall, "the replay does not run an inactive job")

        attempt = faults.make_attempt(self.env, "cron_reactivate", {"cron_id": self.cron.id})
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.assertEqual(attempt.diagnosis["evidence"]["odoo_notice"], notice.id)

    def test_look_alike_switched_off_by_hand_is_not_touched(self):
        # Healthy job an administrator switched off on purpose: Odoo posted no notice about it.
        manual = faults.make_failing_cron(self.env, name="self_healing paused on purpose")
        faults.heal_cron_cause(self.env)
        manual.write({"active": False})
        diagnosis = runner.diagnose(self.env, "cron_reactivate", {"cron_id": manual.id})
        self.assertFalse(diagnosis.holds)
        self.assertIn("switched off by hand", diagnosis.reason)
        self.assertIs(diagnosis.evidence["odoo_notice"], False)
        attempt = faults.make_attempt(self.env, "cron_reactivate", {"cron_id": manual.id})
        runner.run_attempt(attempt)
        self.assertEqual(attempt.state, "failed")
        self.assertIn("live diagnosis refutes", attempt.outcome)
        self.assertFalse(manual.active)
        self.assertFalse(manual.lastcall, "a refuted fix never runs the job")

    def job_code(self, code):
        self.cron.ir_actions_server_id.code = code
        return faults.make_attempt(self.env, "cron_reactivate", {"cron_id": self.cron.id})

    def test_job_commit_stays_inside_the_fix_savepoint(self):
        # Issue #14 defect 5: a job that commits (the mail queue does after each mail) must not end
        # the fix's transaction; in production the commit made the fix permanent and the rollback impossible.
        attempt = self.job_code(
            "env['ir.config_parameter'].sudo().set_param('self_healing.chaos_job_ran', 'yes')\nenv.cr.commit()\n"
        )
        commits = []
        with patch.object(self.env.cr, "commit", lambda: commits.append(True)):
            result = runner.run_attempt(attempt)
        self.assertEqual(commits, [], "the job's commit reached the cursor")
        self.assertTrue(result.ok, attempt.outcome)
        self.assertIn("asked to commit 1 time(s)", attempt.outcome)
        self.assertEqual(self.env["ir.config_parameter"].get_param("self_healing.chaos_job_ran"), "yes")
        self.assertTrue(self.cron.active)

    def test_job_rollback_fails_the_fix_cleanly(self):
        attempt = self.job_code(
            "env['ir.config_parameter'].sudo().set_param('self_healing.chaos_job_ran', 'yes')\nenv.cr.rollback()\n"
        )
        rollbacks = []
        with patch.object(self.env.cr, "rollback", lambda: rollbacks.append(True)):
            runner.run_attempt(attempt)
        self.assertEqual(rollbacks, [], "the job's rollback reached the cursor")
        self.assertEqual(attempt.state, "failed")
        self.assertIn("tried to roll back the transaction", attempt.outcome)
        self.assertFalse(self.cron.active)
        self.assertFalse(self.env["ir.config_parameter"].get_param("self_healing.chaos_job_ran"))
