import re

from odoo.tests import tagged

from ..autopatches import runner
from ..autopatches.filter_deactivate import SHOW_NOTHING
from . import autopatch_faults as faults
from .common import SelfHealingCase, domain_field_error

PARAMS = {"model": "res.partner", "field": faults.GHOST_FIELD}


@tagged("post_install", "-at_install")
class TestFilterDeactivate(SelfHealingCase):
    def test_filter_and_action_with_missing_field(self):
        saved = faults.break_saved_filter(self.env, "res.partner", user=self.sh_user)
        action = faults.break_action_domain(self.env, "res.partner")
        action_domain = action.domain
        Partner = self.env["res.partner"]
        with self.assertRaisesRegex(ValueError, re.escape(domain_field_error("res.partner", faults.GHOST_FIELD))):
            Partner.search(saved._get_eval_domain())

        written = faults.rows_written(self.env)
        plan = runner.preview(self.env, "filter_deactivate", PARAMS)
        self.assertEqual(faults.rows_written(self.env), written)
        self.assertIn(f"filter #{saved.id}", plan)
        self.assertIn(f"Window action #{action.id}", plan)

        attempt = faults.make_attempt(self.env, "filter_deactivate", PARAMS)
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, attempt.outcome)
        self.assertFalse(saved.active)
        listed = self.env["ir.filters"].with_user(self.sh_user).get_filters("res.partner")
        self.assertNotIn(saved.id, [entry["id"] for entry in listed])
        self.assertEqual(action.domain, SHOW_NOTHING)
        self.assertIn(faults.GHOST_FIELD, str(action.help))
        self.assertEqual(Partner.search_count([(0, "=", 1)]), 0)

        attempt.with_user(self.sh_manager).action_rollback()
        self.assertTrue(saved.active)
        self.assertEqual(action.domain, action_domain)
        self.assertFalse(action.help)
        with self.assertRaisesRegex(ValueError, "Invalid field"):
            Partner.search(saved._get_eval_domain())

    def test_valid_filters_are_not_touched(self):
        fine = self.env["ir.filters"].create(
            {"name": "fine", "model_id": "res.partner", "domain": "[('name', '=', 'x')]"}
        )
        ok, reason = runner.check(self.env, "filter_deactivate", PARAMS)
        self.assertFalse(ok)
        self.assertIn("no active filter", reason)
        self.assertTrue(fine.active)
