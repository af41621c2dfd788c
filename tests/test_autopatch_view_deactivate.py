from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..autopatches import runner
from . import autopatch_faults as faults
from .common import SelfHealingCase

PARENT = "base.view_partner_title_form"


@tagged("post_install", "-at_install")
class TestViewDeactivate(SelfHealingCase):
    def assert_parent_broken(self, message):
        with self.assertRaisesRegex(ValidationError, message), self.env.cr.savepoint():
            self.env.ref(PARENT)._check_xml()

    def heal(self, view):
        attempt = faults.make_attempt(self.env, "view_deactivate", {"view_id": view.id})
        written = faults.rows_written(self.env)
        plan = runner.preview(self.env, "view_deactivate", {"view_id": view.id})
        self.assertEqual(faults.rows_written(self.env), written)
        self.assertIn(f"Deactivate view #{view.id}", plan)
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, attempt.outcome)
        self.assertFalse(view.active)
        self.env.ref(PARENT)._check_xml()
        arch = self.env["res.partner.title"].get_view(self.env.ref(PARENT).id, "form")["arch"]
        self.assertNotIn(faults.GHOST_FIELD, arch)
        return attempt

    def test_view_with_missing_field(self):
        view = faults.break_inheriting_view(self.env, PARENT, kind="field")
        self.assert_parent_broken(f'Field "{faults.GHOST_FIELD}" does not exist in model "res.partner.title"')
        attempt = self.heal(view)
        arch_before = view.arch_db
        attempt.with_user(self.sh_manager).action_rollback()
        self.assertTrue(view.active)
        self.assertEqual(view.arch_db, arch_before)
        self.assert_parent_broken("does not exist")

    def test_view_with_lost_xpath(self):
        view = faults.break_inheriting_view(self.env, PARENT, kind="xpath")
        self.assert_parent_broken("cannot be located in parent view")
        self.heal(view)

    def test_module_views_are_refused(self):
        module_view = self.env.ref("base.view_partner_form")
        child = self.env["ir.ui.view"].search([("inherit_id", "=", module_view.id), ("mode", "=", "extension")], limit=1)
        ok, reason = runner.check(self.env, "view_deactivate", {"view_id": child.id})
        self.assertFalse(ok)
        self.assertIn("belongs to module", reason)
        ok, reason = runner.check(self.env, "view_deactivate", {"view_id": module_view.id})
        self.assertFalse(ok)
        self.assertIn("primary view", reason)

    def test_by_name_and_healthy_views(self):
        view = faults.break_inheriting_view(self.env, PARENT, kind="field")
        self.assertTrue(runner.check(self.env, "view_deactivate", {"view_name": view.name})[0])
        self.env.cr.execute(
            "UPDATE ir_ui_view SET arch_db = jsonb_build_object('en_US', %s::text) WHERE id = %s",
            ['<xpath expr="/*" position="inside"><field name="display_name"/></xpath>', view.id])
        self.env.invalidate_all()
        ok, reason = runner.check(self.env, "view_deactivate", {"view_id": view.id})
        self.assertFalse(ok)
        self.assertIn("validates fine", reason)
