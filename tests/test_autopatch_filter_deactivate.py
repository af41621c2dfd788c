from odoo.tests import tagged

from ..autopatches import base, runner
from ..autopatches.filter_deactivate import SHOW_NOTHING
from . import autopatch_faults as faults
from .common import SelfHealingCase

PARAMS = {"model": "res.partner", "field": faults.GHOST_FIELD}


@tagged("post_install", "-at_install")
class TestFilterDeactivate(SelfHealingCase):
    def test_filter_and_action_with_missing_field(self):
        saved = faults.break_saved_filter(self.env, "res.partner", user=self.sh_user)
        action = faults.break_action_domain(self.env, "res.partner")
        action_domain = action.domain
        Partner = self.env["res.partner"]
        with self.assertRaisesRegex(ValueError, f"Invalid field res.partner.{faults.GHOST_FIELD} in leaf"):
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

    def test_diagnose_default_shared_filter_and_replay_the_list_search(self):
        saved = faults.break_saved_filter(self.env, "res.partner")
        saved.is_default = True
        diagnosis = runner.diagnose(self.env, "filter_deactivate", PARAMS)
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        self.assertIs(diagnosis.evidence["field_on_model"], False)
        self.assertEqual([entry["id"] for entry in diagnosis.evidence["filters"]], [saved.id])
        self.assertTrue(diagnosis.evidence["filters"][0]["is_default"])
        self.assertIn(faults.GHOST_FIELD, diagnosis.evidence["filters"][0]["broken"][0])
        self.assertEqual(diagnosis.rows, 1)

        patch = base.get("filter_deactivate")()
        ok, detail = patch.replay(self.env, PARAMS)
        self.assertFalse(ok)
        self.assertIn(f"Invalid field res.partner.{faults.GHOST_FIELD}", detail)

        attempt = faults.make_attempt(self.env, "filter_deactivate", PARAMS)
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.assertEqual(attempt.diagnosis["evidence"]["filters"][0]["id"], saved.id)
        self.assertIn("with the favourites and actions offered work", attempt.outcome)
        self.assertTrue(patch.replay(self.env, PARAMS, [saved.id], [])[0])

    def test_look_alike_filters_are_refuted(self):
        # One quotes the ghost name as a value, one uses a field the model has: both search fine.
        quoting = self.env["ir.filters"].create(
            {"name": "quoting", "model_id": "res.partner", "domain": f"[('name', '=', '{faults.GHOST_FIELD}')]"}
        )
        existing = self.env["ir.filters"].create(
            {"name": "existing", "model_id": "res.partner", "domain": "[('ref', '!=', False)]", "is_default": True}
        )
        for params in (PARAMS, {"model": "res.partner", "field": "ref"}):
            diagnosis = runner.diagnose(self.env, "filter_deactivate", params)
            self.assertFalse(diagnosis.holds, diagnosis.reason)
            self.assertEqual(diagnosis.evidence["filters"], [])
        self.assertIs(diagnosis.evidence["field_on_model"], True)
        attempt = faults.make_attempt(self.env, "filter_deactivate", {"model": "res.partner", "field": "ref"})
        runner.run_attempt(attempt)
        self.assertEqual(attempt.state, "failed")
        self.assertIn("live diagnosis refutes", attempt.outcome)
        self.assertTrue(quoting.active and existing.active)

    def test_favourite_left_behind_by_a_deleted_custom_field(self):
        # As it happens in production: a custom field added in the UI, a favourite saved on it by the
        # web client (create_or_replace, its RPC), then the field deleted; Odoo checks views, not filters.
        field = self.env["ir.model.fields"].create(
            {
                "name": "x_sh_priority",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "field_description": "Priority",
                "ttype": "char",
            }
        )
        self.env["ir.filters"].with_user(self.sh_user).create_or_replace(
            {
                "name": "My priority partners",
                "model_id": "res.partner",
                "domain": "[('x_sh_priority', '=', 'high')]",
                "context": "{}",
                "is_default": True,
                "user_id": self.sh_user.id,
            }
        )
        saved = self.env["ir.filters"].search([("name", "=", "My priority partners")])
        field.unlink()
        self.assertNotIn("x_sh_priority", self.env["res.partner"]._fields)
        params = {"model": "res.partner", "field": "x_sh_priority"}
        patch = base.get("filter_deactivate")()
        ok, detail = patch.replay(self.env, params)
        self.assertFalse(ok)
        self.assertIn("Invalid field res.partner.x_sh_priority", detail)
        diagnosis = runner.diagnose(self.env, "filter_deactivate", params)
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        self.assertEqual(diagnosis.evidence["filters"][0]["user_id"], self.sh_user.id)
        attempt = faults.make_attempt(self.env, "filter_deactivate", params)
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.assertFalse(saved.active)
        self.assertTrue(patch.replay(self.env, params, [saved.id], [])[0])
