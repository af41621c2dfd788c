from odoo.tests import tagged

from .. import compat
from .common import GROUP_APPROVER, GROUP_MANAGER, SelfHealingCase


@tagged("post_install", "-at_install")
class TestInstall(SelfHealingCase):
    def test_app_menus(self):
        root = self.env.ref("self_healing.menu_self_healing_root")
        names = set(self.env["ir.ui.menu"].search([("parent_id", "=", root.id)]).mapped("name"))
        self.assertEqual(
            names, {"Dashboard", "Incidents", "Fix History", "Guardrails", "Knowledge", "Reporting", "Configuration"}
        )

    def test_views_of_every_model_load(self):
        for model in (
            "self_healing.incident",
            "self_healing.fix.attempt",
            "self_healing.guardrail",
            "self_healing.knowledge.entry",
            "self_healing.occurrence",
            "self_healing.backup",
        ):
            for view_type in ("list", "form", "search"):
                arch = self.env[model].get_view(view_type=view_type)["arch"]
                self.assertIn("<%s" % view_type, arch, f"{model} has no {view_type} view")
        kanban = self.Incident.get_view(view_type="kanban")["arch"]
        self.assertIn('default_group_by="state"', kanban)

    def test_admin_is_manager(self):
        self.assertTrue(self.env.ref("base.user_admin").has_group("self_healing.group_self_healing_manager"))

    def test_series_records_are_loaded_in_the_running_series_shape(self):
        category = self.env.ref("self_healing.module_category_self_healing")
        groups = (
            self.env.ref("self_healing.group_self_healing_user")
            | self.env.ref("self_healing.group_self_healing_approver")
            | self.env.ref(GROUP_MANAGER)
        )
        manager = self.env.ref(GROUP_MANAGER)
        if compat.ODOO_MAJOR >= 19:
            privilege = self.env.ref("self_healing.res_groups_privilege_self_healing")
            self.assertEqual(groups.privilege_id, privilege)
            self.assertEqual(privilege.category_id, category)
            self.assertIn(self.env.ref("base.user_admin"), manager.user_ids)
        else:
            self.assertEqual(groups.category_id, category)
            self.assertIn(self.env.ref("base.user_admin"), manager.users)
        # Managers hold the approver group through the implication, on both series.
        self.assertIn(self.env.ref("base.user_admin"), compat.group_members(self.env.ref(GROUP_APPROVER)))
        action = self.env.ref("self_healing.self_healing_knowledge_import_action")
        self.assertEqual(action["group_ids" if compat.ODOO_MAJOR >= 19 else "groups_id"], manager)
        settings = self.env.ref("self_healing.self_healing_settings_action")
        self.assertEqual(settings.target, "current" if compat.ODOO_MAJOR >= 19 else "inline")
