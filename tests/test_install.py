from odoo.tests import tagged

from .common import SelfHealingCase


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
