from odoo.tests import tagged

from ..autopatches import base, runner
from . import autopatch_faults as faults
from .common import SelfHealingCase

MODEL = "res.partner.category"
PARAMS = {"model": MODEL, "field": faults.GHOST_FIELD}


@tagged("post_install", "-at_install")
class TestRuleDeactivate(SelfHealingCase):
    def setUp(self):
        super().setUp()
        self.rule = faults.break_record_rule(self.env, MODEL, "base.group_user")

    def assert_users_get_errors(self):
        with self.assertRaisesRegex(ValueError, f"Invalid field {MODEL}.{faults.GHOST_FIELD} in leaf"):
            self.env[MODEL].with_user(self.sh_user).search([])

    def test_critical_rule_fix_needs_approval_and_rolls_back(self):
        self.assert_users_get_errors()
        automatic = faults.make_attempt(self.env, "rule_deactivate", PARAMS)
        runner.run_attempt(automatic)
        self.assertEqual(automatic.state, "failed")
        self.assertTrue(self.rule.active)

        attempt = faults.make_attempt(self.env, "rule_deactivate", PARAMS, mode="manual")
        attempt.with_user(self.sh_approver)._approve("the rule is obsolete")
        written = faults.rows_written(self.env)
        self.assertIn("Warning", runner.preview(self.env, "rule_deactivate", PARAMS))
        self.assertEqual(faults.rows_written(self.env), written)
        attempt.with_user(self.sh_manager).action_apply()
        self.assertEqual(attempt.state, "validated", attempt.outcome)
        self.assertFalse(self.rule.active)
        self.env[MODEL].with_user(self.sh_user).search([])

        attempt.with_user(self.sh_manager).action_rollback()
        self.assertTrue(self.rule.active)
        self.assertIn(faults.GHOST_FIELD, self.rule.domain_force)
        self.assert_users_get_errors()

    def approved(self, params):
        attempt = faults.make_attempt(self.env, "rule_deactivate", params, mode="manual")
        attempt.with_user(self.sh_approver)._approve("checked")
        return attempt

    def test_diagnose_names_the_rule_and_the_replay_reproduces_the_search(self):
        diagnosis = runner.diagnose(self.env, "rule_deactivate", PARAMS)
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        self.assertIs(diagnosis.evidence["field_on_model"], False)
        self.assertEqual([entry["id"] for entry in diagnosis.evidence["rules"]], [self.rule.id])
        self.assertEqual(diagnosis.evidence["rules"][0]["modes"], ["read", "write", "create", "unlink"])
        self.assertEqual(diagnosis.rows, 1)
        patch = base.get("rule_deactivate")()
        ok, detail = patch.replay(self.env, PARAMS)
        self.assertFalse(ok)
        self.assertIn(f"Invalid field {MODEL}.{faults.GHOST_FIELD}", detail)

        attempt = self.approved(PARAMS)
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.assertEqual(attempt.diagnosis["evidence"]["rules"][0]["id"], self.rule.id)
        self.assertIn(f"searches on {MODEL} work for", attempt.outcome)
        self.assertTrue(patch.replay(self.env, PARAMS, [self.rule.id])[0])

    def test_look_alike_rule_whose_field_exists_is_not_touched(self):
        # The error named a field the model has (the search failed elsewhere): the rule is fine.
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE ir_rule SET domain_force = %s WHERE id = %s", ["[('name', '!=', False)]", self.rule.id]
        )
        self.env.invalidate_all()
        params = {"model": MODEL, "field": "name"}
        diagnosis = runner.diagnose(self.env, "rule_deactivate", params)
        self.assertFalse(diagnosis.holds, diagnosis.reason)
        self.assertIs(diagnosis.evidence["field_on_model"], True)
        self.assertEqual(diagnosis.evidence["rules"], [])
        attempt = self.approved(params)
        runner.run_attempt(attempt)
        self.assertEqual(attempt.state, "failed")
        self.assertIn("live diagnosis refutes", attempt.outcome)
        self.assertTrue(self.rule.active)
