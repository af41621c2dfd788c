import re

from odoo.tests import tagged

from ..autopatches import runner
from . import autopatch_faults as faults
from .common import SelfHealingCase, domain_field_error

MODEL = "res.partner.category"
PARAMS = {"model": MODEL, "field": faults.GHOST_FIELD}


@tagged("post_install", "-at_install")
class TestRuleDeactivate(SelfHealingCase):
    def setUp(self):
        super().setUp()
        self.rule = faults.break_record_rule(self.env, MODEL, "base.group_user")

    def assert_users_get_errors(self):
        with self.assertRaisesRegex(ValueError, re.escape(domain_field_error(MODEL, faults.GHOST_FIELD))):
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
