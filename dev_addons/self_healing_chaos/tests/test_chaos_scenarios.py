"""Each chaos scenario's fault, injected and provoked in a real database, becomes the right incident.

The chaos command (bin/self-healing chaos) runs the same scenarios against a
live server and measures detection, healing and learning; here each one is
checked for what it must produce: an incident of its class, matched to a
guardrail whose auto-patch is the scenario's.
"""

from datetime import timedelta
from unittest import mock

import psycopg2.errors

from odoo import fields
from odoo.tests import TransactionCase, tagged

from odoo.addons.self_healing import compat
from odoo.addons.self_healing.autopatches import runner
from odoo.addons.self_healing.tests.test_detection_common import CommittedState

from .. import faults, scenarios
from .test_chaos_common import ChaosScenarioCase, captured_signals


@tagged("post_install", "-at_install")
class TestChaosScenarios(ChaosScenarioCase):
    def test_pkey_sequence_drift(self):
        self.addCleanup(faults.heal_id_sequence, self.env, "res_partner_category")
        incident = self.assert_scenario_detected("pkey_sequence_drift")
        self.assertEqual(incident.match_evidence["params"]["table"], "res_partner_category")

    def test_pkey_import_by_plain_sql_met_over_xmlrpc(self):
        self.addCleanup(faults.heal_id_sequence, self.env, scenarios.IMPORT_TABLE)
        incident = self.assert_scenario_detected("pkey_import_xmlrpc")
        self.assertEqual(incident.match_evidence["params"]["table"], scenarios.IMPORT_TABLE)
        ok, reason = runner.check(self.env, "sequence_resync", {"table": scenarios.IMPORT_TABLE})
        self.assertTrue(ok, reason)

    def test_view_anchor_missing_worded_differently(self):
        incident = self.assert_scenario_detected("view_anchor_missing")
        self.assertIn("cannot be located in parent view", incident.sample_traceback)
        # The error names only the anchor; the request the server saw names the model.
        params = incident.match_evidence["params"]
        self.assertEqual(params["spec"], f"<xpath expr=\"//field[@name='{faults.GHOST_FIELD}']\">")
        broken = self.env["ir.ui.view"].search([("name", "=", "self_healing chaos customisation")])
        diagnosis = runner.diagnose(self.env, "view_deactivate", {"spec": params["spec"]}, incident=incident)
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        self.assertEqual(diagnosis.evidence["model"], "res.partner.industry")
        self.assertEqual([view["id"] for view in diagnosis.evidence["views"]], broken.ids)

    def assert_anchor_diagnosed(self, name, view_name, model):
        incident = self.assert_scenario_detected(name)
        self.assertIn("cannot be located in parent view", incident.sample_traceback)
        params = incident.match_evidence["params"]
        broken = self.env["ir.ui.view"].search([("name", "=", view_name)])
        diagnosis = runner.diagnose(self.env, "view_deactivate", {"spec": params["spec"]}, incident=incident)
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        self.assertEqual(diagnosis.evidence["model"], model)
        self.assertEqual([view["id"] for view in diagnosis.evidence["views"]], broken.ids)
        return params

    def test_view_anchor_met_over_xmlrpc(self):
        params = self.assert_anchor_diagnosed(
            "view_anchor_xmlrpc", "self_healing chaos state customisation 1", model=False
        )
        self.assertEqual(params["spec"], f"<xpath expr=\"//field[@name='{faults.GHOST_FIELD}']\">")

    def test_view_anchor_moved_quoted_whole(self):
        params = self.assert_anchor_diagnosed("view_anchor_moved", "self_healing chaos moved field 1", "res.bank")
        self.assertEqual(params["spec"], f'<field name="{faults.GHOST_FIELD}" position="move"/>')

    def test_view_anchor_orphaned_in_a_custom_addon(self):
        params = self.assert_anchor_diagnosed(
            "view_anchor_orphaned", "self_healing chaos note in the extra box", scenarios.SLOT_MODEL
        )
        self.assertEqual(params["spec"], "<xpath expr=\"//div[hasclass('o_chaos_extra_1')]\">")

    def test_a_second_broken_view_heals_from_its_own_occurrence(self):
        # Odoo's message differs only in the quoted anchor: both faults group into one incident, whose
        # sample is the first one's. The fix takes its anchor and model from the newest occurrence.
        self.run_scenario("view_anchor_missing")
        self.run_scenario("view_anchor_orphaned")
        incident = self.env["self_healing.incident"].search([("error_class", "=", "XPATH_NOT_FOUND")])
        self.assertEqual(len(incident), 1)
        self.assertEqual(incident.occurrence_count, 2)
        self.assertIn(faults.GHOST_FIELD, incident.sample_traceback)
        match = self.env["self_healing.matcher"].match(incident)
        code, params, _source = incident._choose_fix(match)
        self.assertEqual(params["spec"], "<xpath expr=\"//div[hasclass('o_chaos_extra_1')]\">")
        diagnosis = runner.diagnose(self.env, code, {"spec": params["spec"]}, incident=incident)
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        orphan = self.env["ir.ui.view"].search([("name", "=", "self_healing chaos note in the extra box")])
        self.assertEqual([view["id"] for view in diagnosis.evidence["views"]], orphan.ids)

    def settled_first_fix(self, name):
        """Scenario ``name`` healed automatically, its fault and fix moved minutes into the past."""
        self.env["ir.config_parameter"].sudo().set_param("self_healing.autopilot", "auto")
        (incident,) = self.run_scenario(name).filtered(lambda i: i.error_class == "XPATH_NOT_FOUND")
        self.assertEqual(incident._heal(), "healed")
        first = incident.fix_attempt_ids
        self.assertEqual((first.outcome_label, first.guardrail_id.autonomy), ("settling", "auto"))
        # Datetimes keep seconds: the first fault, its fix and the next fault are set apart explicitly.
        incident.occurrence_ids.occurred_at = fields.Datetime.now() - timedelta(minutes=10)
        first.healed_at = fields.Datetime.now() - timedelta(minutes=5)
        return incident, first

    def view_named(self, name):
        return self.env["ir.ui.view"].with_context(active_test=False).search([("name", "=", name)])

    def test_the_same_fault_on_another_view_is_no_recurrence(self):
        incident, first = self.settled_first_fix("view_anchor_missing")
        self.run_scenario("view_anchor_orphaned")
        self.assertEqual(incident.occurrence_count, 2, "grouped into the healed incident")
        self.assertEqual(
            (first.outcome_label, first.recurred, first.guardrail_id.autonomy), ("settling", False, "auto")
        )
        self.assertEqual(incident._heal(), "healed")
        second = incident.fix_attempt_ids - first
        orphan = self.view_named("self_healing chaos note in the extra box")
        self.assertEqual(second.diagnosis["evidence"]["views"][0]["id"], orphan.id)
        self.assertFalse(orphan.active)

    def test_the_same_words_about_another_view_are_no_recurrence(self):
        # Both customisations anchor on the same lost field: Odoo's error is word for word the same,
        # and the XML-RPC request names no model. Only the live diagnosis tells the views apart.
        incident, first = self.settled_first_fix("view_anchor_missing")
        scenario = scenarios.get("view_anchor_xmlrpc")
        facts = scenario.inject(self.env(su=True), self.run_context)
        self.env.flush_all()
        with captured_signals(self.env.cr.dbname, "ERROR") as signals:
            for _again in range(3):
                self.provoke(scenario.provocation(facts))
        with mock.patch.object(runner, "diagnose", wraps=runner.diagnose) as diagnose:
            self.env["self_healing.incident"].sudo()._ingest_signals(signals)
        self.assertEqual(incident.occurrence_count, 4, "grouped into the healed incident")
        # Three occurrences saying the same words: the live database is asked once.
        self.assertEqual(diagnose.call_count, 1)
        said = incident._occurrence_fix_params(incident.occurrence_ids.sorted("id")[-1], first.guardrail_id)
        self.assertEqual(said["spec"], first.params["spec"])
        self.assertEqual(
            (first.outcome_label, first.recurred, first.guardrail_id.autonomy), ("settling", False, "auto")
        )
        self.assertEqual(incident._heal(), "healed")
        second = incident.fix_attempt_ids - first
        state_view = self.view_named("self_healing chaos state customisation 1")
        self.assertEqual([view["id"] for view in second.diagnosis["evidence"]["views"]], state_view.ids)
        self.assertFalse(state_view.active)
        # A third lost anchor, in other words: the incident reopens and every earlier occurrence is
        # judged again. The second fix explains the XML-RPC ones (the database no longer shows them).
        xmlrpc_occurrences = incident.occurrence_ids.filtered(lambda o: o.request_path == "/xmlrpc/2/object")
        self.assertEqual(len(xmlrpc_occurrences), 3)
        xmlrpc_occurrences.occurred_at = fields.Datetime.now() - timedelta(minutes=2)
        second.healed_at = fields.Datetime.now() - timedelta(minutes=1)
        self.run_scenario("view_anchor_orphaned")
        self.assertEqual(
            [(attempt.outcome_label, attempt.recurred) for attempt in first | second],
            [("settling", False), ("settling", False)],
        )
        self.assertEqual(first.guardrail_id.autonomy, "auto")
        self.assertEqual(incident._heal(), "healed")

    def test_the_occurrence_of_the_second_the_fix_healed_in_is_its_own(self):
        incident, first = self.settled_first_fix("view_anchor_missing")
        # healed_at keeps whole seconds, an occurrence its microseconds (the capture writes them by SQL):
        # the occurrence the fix was made for may carry a later fraction of the second it healed in.
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE self_healing_occurrence SET occurred_at = %s WHERE incident_id = %s",
            [first.healed_at + timedelta(microseconds=500000), incident.id],
        )
        self.env.invalidate_all()
        self.assertFalse(self.env["self_healing.fix.attempt"]._check_recurrence(incident))
        self.assertEqual((first.outcome_label, first.recurred), ("settling", False))

    def test_the_view_fixed_failing_again_is_a_recurrence(self):
        incident, first = self.settled_first_fix("view_anchor_missing")
        fixed = self.env["ir.ui.view"].browse(first.diagnosis["evidence"]["views"][0]["id"])
        # Switched on again behind the addon's back (plain SQL, as a restore or a script would).
        self.env.flush_all()
        self.env.cr.execute("UPDATE ir_ui_view SET active = TRUE WHERE id = %s", [fixed.id])
        self.env.invalidate_all()
        self.env.registry.clear_cache("templates")
        with captured_signals(self.env.cr.dbname, "ERROR") as signals:
            self.provoke(scenarios.provoke_view_anchor({"model": fixed.model}))
        self.env["self_healing.incident"].sudo()._ingest_signals(signals)
        self.assertEqual(incident.occurrence_count, 2)
        self.assertEqual((first.outcome_label, first.recurred), ("failed", True))

    def test_pkey_import_met_by_a_cron(self):
        table = self.env[scenarios.SLOT_MODEL]._table
        self.addCleanup(faults.heal_id_sequence, self.env, table)
        # The statement and the job's failure both log it: one incident each, the same table.
        incidents = self.assert_scenario_detected("pkey_import_cron")
        self.assertEqual(set(incidents.mapped(lambda i: i.match_evidence["params"]["table"])), {table})
        ok, reason = runner.check(self.env, "sequence_resync", {"table": table})
        self.assertTrue(ok, reason)

    def test_missing_column_met_by_a_cron_in_other_words(self):
        incidents = self.assert_scenario_detected("missing_column_cron")
        table = self.env[scenarios.SLOT_MODEL]._table
        self.assertIn('column "capacity" of relation', incidents[0].sample_traceback)
        self.assertEqual(
            set(
                incidents.mapped(lambda i: (i.match_evidence["params"]["table"], i.match_evidence["params"]["column"]))
            ),
            {(table, "capacity")},
        )
        ok, reason = runner.check(self.env, "module_upgrade", {"table": table, "column": "capacity"})
        self.assertTrue(ok, reason)

    def test_missing_column_met_over_xmlrpc(self):
        incidents = self.assert_scenario_detected("missing_column_xmlrpc")
        self.assertEqual(set(incidents.mapped(lambda i: i.match_evidence["params"]["column"])), {"bic"})

    def test_asset_bundle(self):
        attachment = faults.bundle_attachment(self.env, scenarios.BUNDLE)
        with open(attachment._full_path(attachment.store_fname), "rb") as handle:
            content = handle.read()

        def restore():
            with open(attachment._full_path(attachment.store_fname), "wb") as handle:
                handle.write(content)

        self.addCleanup(restore)
        incident = self.assert_scenario_detected("asset_bundle")
        self.assertIn("FileNotFoundError", incident.sample_traceback)

    def test_view_missing_field_only_warns(self):
        incident = self.assert_scenario_detected("view_missing_field")
        self.assertIn(
            'Field "x_self_healing_ghost" does not exist in model "res.partner.industry"', incident.sample_traceback
        )
        # Odoo's message names neither the view's id nor its name, only the field and its model:
        # enough for the patch to find the one customised view of that model failing on that field.
        params = incident.match_evidence["params"]
        self.assertFalse({"view_id", "view_name"} & set(params))
        self.assertEqual((params["model"], params["field"]), ("res.partner.industry", faults.GHOST_FIELD))
        broken = self.env["ir.ui.view"].search([("name", "=", "self_healing chaos customisation")])
        ok, reason = runner.check(self.env, "view_deactivate", {"model": params["model"], "field": params["field"]})
        self.assertTrue(ok, reason)
        self.assertEqual(
            reason, f'view #{broken.id}: Field "{faults.GHOST_FIELD}" does not exist in model "res.partner.industry"'
        )

    def test_saved_filter(self):
        incident = self.assert_scenario_detected("saved_filter")
        self.assertEqual(incident.match_evidence["params"]["field"], faults.GHOST_FIELD)

    def test_missing_column(self):
        incidents = self.assert_scenario_detected("missing_column")
        self.assertEqual(set(incidents.mapped(lambda i: i.match_evidence["params"]["column"])), {"full_name"})

    def test_cron_deactivated(self):
        incident = self.assert_scenario_detected("cron_deactivated")
        cron = (
            self.env["ir.cron"]
            .with_context(active_test=False)
            .search([("cron_name", "=", scenarios.CRON_PREFIX + "check the outgoing mail server")])
        )
        self.assertFalse(cron.active, "Odoo switched the job off after its fifth failure in a week")
        self.assertEqual(int(incident.match_evidence["params"]["cron_id"]), cron.id)
        self.assertEqual(self.smtp.refused, 1, "the outage lasted one connection")

    def test_mail_stuck(self):
        incident = self.assert_scenario_detected("mail_stuck")
        mail = self.env["mail.mail"].search([("subject", "=like", "Your order confirmation (chaos round 1)")])
        self.assertEqual(mail.state, "exception")
        self.assertIn("try again later", mail.failure_reason)
        self.assertIn("try again later", incident.name)
        # The detector's wording is a template of the rate-limit guardrail: enough to heal automatically later.
        self.assertEqual(incident.guardrail_id.code, "GR-MAIL-007")
        self.assertGreaterEqual(incident.match_score, 0.95)
        ok, reason = runner.check(self.env, "mail_retry", {}, incident=incident)
        self.assertTrue(ok, reason)
        self.assertIn("retry 1 of 5", reason)

    def test_module_stuck_is_only_a_warning(self):
        # Odoo only warns, and skips every cron of the database: the live capture keeps that warning at the
        # default ERROR level, and the scheduler stand-in groups and matches it (on committed data, as the
        # scheduler reads module states on a connection of its own).
        import logging

        from odoo.addons.self_healing.detection import installer
        from odoo.addons.self_healing.detection import settings as detection_settings
        from odoo.addons.self_healing.detection.sources import SCHEDULER_BLOCKED_FORMAT
        from odoo.addons.self_healing.detection.standin import scheduler_standin
        from odoo.addons.self_healing.tests.test_detection_common import (
            SERVER_LEVELS,
            committed_env,
            flush_capture,
            logger_levels,
        )

        scenario = scenarios.get("module_stuck")
        self.assertIsNone(scenario.capture_level)
        dbname = self.env.cr.dbname
        installer.install()
        with committed_env(dbname) as env:
            self.assertEqual(detection_settings.read(env.cr).capture_level, logging.ERROR)
            facts = scenario.inject(env, self.run_context)
        self.addCleanup(self.committed_cleanup, scenario, facts)
        self.addCleanup(scheduler_standin.wait_idle, dbname, 120)
        with logger_levels(SERVER_LEVELS):
            self.run_scheduler(facts["cron_id"])
        flush_capture()
        self.assertTrue(scheduler_standin.wait_idle(dbname, 120))
        with committed_env(dbname) as env:
            occurrence = env["self_healing.occurrence"].search(
                [("message", "=", SCHEDULER_BLOCKED_FORMAT % dbname)], order="id desc", limit=1
            )
            self.assertEqual(occurrence.level, "WARNING")
            incident = occurrence.incident_id
            self.assertEqual(incident.error_class, scenario.error_class)
            self.assertEqual(incident.guardrail_id.autopatch_code, scenario.autopatch)
            self.assertIn("because of modules to install/upgrade/remove", incident.name)

    def test_manifest_invalid(self):
        incidents = self.assert_scenario_detected("manifest_invalid")
        self.assertEqual(
            set(incidents.mapped(lambda incident: incident.match_evidence["params"]["module"])),
            {"self_healing_chaos_addon_1"},
        )
        # 18.0 only warns about the license (its version error is logged at DEBUG); 19.0 also warns
        # that the version is of another series: one incident each, both healed by manifest_fix.
        expected = {"GR-MAN-001", "GR-MAN-002"} if compat.ODOO_MAJOR >= 19 else {"GR-MAN-001"}
        self.assertEqual(set(incidents.guardrail_id.mapped("code")), expected)

    def test_record_rule_is_critical(self):
        incident = self.assert_scenario_detected("record_rule")
        self.assertTrue(incident.guardrail_id.critical)
        self.assertEqual(incident.match_evidence["params"]["model"], scenarios.RULE_MODEL)

    def test_numbering_sequence_is_critical(self):
        incident = self.assert_scenario_detected("numbering_sequence")
        self.assertTrue(incident.guardrail_id.critical)
        params = incident.match_evidence["params"]
        self.assertEqual(
            (params["model"], params["field"], params["sequence_code"]),
            ("ir.config_parameter", "key", scenarios.NUMBERING_CODE),
        )

    def test_singleton_action_is_an_alert_with_the_steps(self):
        incident = self.assert_scenario_detected("singleton_action")
        self.assertTrue(incident.guardrail_id.code.startswith("GR-SGL-"), incident.guardrail_id.code)
        self.assertFalse(incident.guardrail_id.autopatch_code, "no patch rewrites an administrator's code")
        self.assertEqual(incident._heal(), "alert")
        self.assertEqual(incident.state, "escalated")
        self.assertFalse(incident.fix_attempt_ids)
        self.assertTrue(any("Suggested steps" in (body or "") for body in incident.message_ids.mapped("body")))


@tagged("post_install", "-at_install")
class TestChaosSerialization(TransactionCase):
    """Two real transactions on one row: this needs connections of their own, outside the test cursor."""

    def test_serialization_failure(self):
        state = CommittedState(self.env.cr.dbname)
        self.addCleanup(state.restore)
        with captured_signals(self.env.cr.dbname, "ERROR") as signals:
            error = faults.provoke_serialization_failure(self.registry)
        self.assertIsInstance(error, psycopg2.errors.SerializationFailure)
        incidents = self.env["self_healing.incident"].sudo()._ingest_signals(signals).incidents
        self.env["self_healing.matcher"].sudo().apply_match(incidents)
        scenario = scenarios.get("serialization_failure")
        found = incidents.filtered(lambda incident: incident.error_class == scenario.error_class)
        self.assertTrue(found, [(incident.error_class, incident.name) for incident in incidents])
        self.assertEqual(found.guardrail_id.autopatch_code, scenario.autopatch)
