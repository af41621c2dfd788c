from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.self_healing.tests.common import SelfHealingCase

from .. import names, scenarios
from .test_chaos_common import mark_for_chaos


@tagged("post_install", "-at_install")
class TestChaosWizard(SelfHealingCase):
    def test_unmarked_database_refuses(self):
        Chaos = self.env["self_healing.chaos"].with_user(self.sh_manager)
        self.assertFalse(self.env["ir.config_parameter"].get_param(scenarios.CHAOS_ALLOWED_PARAM))
        with self.assertRaisesRegex(UserError, "not marked for chaos"):
            Chaos.create({"scenario": "pkey_sequence_drift"})
        with self.assertRaisesRegex(UserError, "not marked for chaos"):
            Chaos.catalog()
        with self.assertRaisesRegex(UserError, "not marked for chaos"):
            Chaos._chaos_number_registrations()

    def test_a_mark_other_than_true_refuses(self):
        self.env["ir.config_parameter"].set_param(scenarios.CHAOS_ALLOWED_PARAM, "yes please")
        with self.assertRaisesRegex(UserError, "not marked for chaos"):
            self.env["self_healing.chaos"].with_user(self.sh_manager).create({"scenario": "asset_bundle"})

    def test_marked_database_injects_for_managers_only(self):
        mark_for_chaos(self.env)
        with self.assertRaises(UserError):  # AccessError is one too
            self.env["self_healing.chaos"].with_user(self.sh_approver).create({"scenario": "saved_filter"})
        wizard = self.env["self_healing.chaos"].with_user(self.sh_manager).create({"scenario": "saved_filter"})
        wizard.action_inject()
        saved = self.env["ir.filters"].browse(wizard.facts["filter_id"])
        self.assertIn("x_self_healing_ghost", saved.domain)
        self.assertEqual(wizard.provocation["method"], "web_search_read")
        self.assertEqual(wizard.provocation["args"][0], wizard.facts["domain"])

    def test_catalog_lists_every_scenario_with_two_critical_ones(self):
        mark_for_chaos(self.env)
        catalog = self.env["self_healing.chaos"].with_user(self.sh_manager).catalog()
        self.assertEqual([entry["name"] for entry in catalog], list(scenarios.SCENARIOS))
        # The command checks --only against this list before Odoo runs.
        self.assertEqual([entry["name"] for entry in catalog], list(names.SCENARIO_NAMES))
        self.assertEqual(
            sorted(entry["name"] for entry in catalog if entry["critical"]), ["numbering_sequence", "record_rule"]
        )
        self.assertEqual(len(catalog), 21)
        # Every fault with an auto-patch heals; the one alert is a fault no patch should touch.
        self.assertEqual([entry["name"] for entry in catalog if entry["known_gap"]], ["singleton_action"])

    def test_capture_level_follows_the_scenario_and_comes_back(self):
        mark_for_chaos(self.env)
        wizard = self.env["self_healing.chaos"].with_user(self.sh_manager).create({"scenario": "manifest_invalid"})
        wizard.action_prepare()
        get = self.env["ir.config_parameter"].sudo().get_param
        self.assertEqual(get(scenarios.CAPTURE_LEVEL_PARAM), "WARNING")
        wizard.action_cleanup()
        self.assertEqual(get(scenarios.CAPTURE_LEVEL_PARAM), "ERROR")

    def test_prepared_database_is_a_fresh_install_with_the_autopilot_on(self):
        mark_for_chaos(self.env)
        entries_before = self.env["self_healing.knowledge.entry"].search_count([])
        users_before = self.env["res.users"].search_count([])
        summary = self.env["self_healing.chaos"]._prepare_chaos_database(2525, "/nonexistent")
        self.assertEqual(summary["settings"], {"self_healing.autopilot": "auto"})
        self.assertEqual(self.env["ir.config_parameter"].get_param("self_healing.autopilot"), "auto")
        self.assertEqual(self.env["self_healing.knowledge.entry"].search_count([]), entries_before, "nothing imported")
        self.assertEqual(self.env["res.users"].search_count([]), users_before, "no simulated approver")

    def test_scenario_settings_last_for_its_run_only(self):
        mark_for_chaos(self.env)
        wizard = self.env["self_healing.chaos"].with_user(self.sh_manager).create({"scenario": "serialization_failure"})
        wizard.action_prepare()
        get = self.env["ir.config_parameter"].sudo().get_param
        self.assertEqual(get("self_healing.transient_window_seconds"), "20")
        wizard.action_cleanup()
        self.assertFalse(get("self_healing.transient_window_seconds"))
