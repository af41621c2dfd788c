"""The whole loop on real faults: ingest -> match -> decide -> fix or ask -> validate -> learn."""

import threading
import traceback
from datetime import timedelta

import psycopg2

from odoo import api, fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from . import autopatch_faults as faults
from .common import SelfHealingCase

TABLE = "res_partner_category"


def set_params(env, **values):
    for key, value in values.items():
        env["ir.config_parameter"].sudo().set_param(f"self_healing.{key}", value)


TABLES = [
    "res_partner",
    "sale_order",
    "stock_picking",
    "account_move",
    "product_template",
    "mail_message",
    "res_users",
    "ir_attachment",
    "crm_lead",
    "project_task",
    "hr_employee",
    "stock_move",
]


class PipelineCase(SelfHealingCase):
    def seed_solved_cases(self, error_class, problem_template, names, solution):
        """Solved cases as an installation has them after importing its forum/KB export."""
        Entry = self.env["self_healing.knowledge.entry"]
        problems = [problem_template.replace("{name}", name) for name in names]
        Entry.create(
            [
                {
                    "name": "Solved: " + problem.splitlines()[-1][:80],
                    "problem": problem,
                    "solution": solution,
                    "error_class": error_class,
                    "source": "forum",
                    "confirmed_by": "accepted_answer",
                }
                for problem in problems
            ]
        )
        Entry._cron_embed(batch_size=500)

    def seed_pkey_cases(self):
        self.seed_solved_cases(
            "SEQ_PKEY_DRIFT",
            'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "{name}_pkey"\n'
            "DETAIL:  Key (id)=(1204) already exists.",
            TABLES + [f"x_custom_{n}" for n in range(13)],
            "The id sequence was behind max(id) after an import; setval moved it past max(id).",
        )

    def provoke_pkey_drift(self):
        """Drift the sequence, then create a record the way a user would: the real error text."""
        self.env["res.partner.category"].create([{"name": f"existing {n}"} for n in range(3)])
        faults.drift_id_sequence(self.env, TABLE)
        self.addCleanup(faults.heal_id_sequence, self.env, TABLE)
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                self.env["res.partner.category"].create({"name": "collides"})
                self.env.flush_all()
        except psycopg2.IntegrityError:
            return traceback.format_exc()
        self.fail("the drifted sequence did not collide")

    def ingest(self, text, logger="odoo.sql_db"):
        signal = {
            "source": "log",
            "level": "ERROR",
            "logger": logger,
            "message": text.splitlines()[-2],
            "traceback": text,
            "dbname": self.env.cr.dbname,
        }
        result = self.Incident._ingest_signals([signal])
        incident = result.incidents if hasattr(result, "incidents") else result[0]
        self.assertEqual(len(incident), 1)
        return incident

    def give_history(self, code, successes):
        """Past validated fixes of a guardrail, as a database that has run for a while has."""
        guardrail = self.Guardrail.search([("code", "=", code)])
        for days in range(successes):
            attempt = faults.make_attempt(
                self.env, guardrail.autopatch_code, {"table": TABLE}, guardrail_id=guardrail.id
            )
            attempt.write({"state": "validated", "applied_at": fields.Datetime.now() - timedelta(days=days)})
        return guardrail


@tagged("post_install", "-at_install")
class TestHealingPipeline(PipelineCase):
    def test_without_solved_cases_a_new_fix_is_only_suggested_to_a_human(self):
        set_params(self.env, autopilot="auto")
        incident = self.ingest(self.provoke_pkey_drift())
        self.assertEqual(incident._heal(), "alert")
        self.assertEqual(incident.state, "escalated")
        self.assertIn("Suggested steps (GR-SEQ-001)", " ".join(incident.message_ids.mapped("body")))

    def test_cold_start_proposes_then_approval_heals_and_teaches(self):
        set_params(self.env, autopilot="auto")
        self.seed_pkey_cases()
        incident = self.ingest(self.provoke_pkey_drift())
        self.assertTrue(incident.to_process, "ingestion hands the incident to the healing loop")
        self.assertEqual(incident._heal(), "awaiting_approval", incident.decision)
        self.assertEqual(incident.guardrail_id.code, "GR-SEQ-001")
        attempt = incident.fix_attempt_ids
        self.assertEqual(
            (attempt.state, attempt.autopatch_code, attempt.params["table"]), ("proposed", "sequence_resync", TABLE)
        )
        self.assertLess(attempt.confidence_before, 0.8, "a fix with no track record is not trusted alone")
        self.assertIn("success_rate", str(attempt.confidence_terms))
        self.assertEqual(attempt.review_state, "pending")
        self.assertTrue(attempt.activity_ids, "approvers got a to-do")
        wizard = (
            self.env["self_healing.fix.approval"]
            .with_user(self.sh_approver)
            .create({"attempt_ids": [(6, 0, attempt.ids)], "note": "plan checked"})
        )
        wizard.action_approve()
        self.assertEqual(attempt.state, "validated")
        self.assertEqual(incident.state, "healed")
        self.assertEqual(incident.guardrail_id.success_count, 1)
        self.env["res.partner.category"].create({"name": "works again"})
        self.env.flush_all()

    def test_trusted_fix_heals_automatically(self):
        self.seed_pkey_cases()
        set_params(self.env, autopilot="auto")
        self.give_history("GR-SEQ-001", 40)
        incident = self.ingest(self.provoke_pkey_drift())
        self.assertEqual(incident._heal(), "healed", incident.decision)
        attempt = incident.fix_attempt_ids.filtered(lambda a: a.incident_id == incident)
        self.assertEqual((attempt.mode, attempt.state), ("auto", "validated"))
        self.assertGreaterEqual(attempt.confidence_before, 0.8)
        self.assertTrue(attempt.backup_ids, "the pre-image was kept")

    def test_suggest_mode_never_fixes_alone(self):
        self.seed_pkey_cases()
        set_params(self.env, autopilot="suggest")
        self.give_history("GR-SEQ-001", 40)
        incident = self.ingest(self.provoke_pkey_drift())
        self.assertEqual(incident._heal(), "awaiting_approval")

    def test_autopilot_off_only_alerts(self):
        set_params(self.env, autopilot="off")
        incident = self.ingest(self.provoke_pkey_drift())
        self.assertEqual(incident._heal(), "alert")
        self.assertEqual(incident.state, "escalated")
        self.assertFalse(incident.fix_attempt_ids)

    def test_dry_run_writes_nothing(self):
        self.seed_pkey_cases()
        set_params(self.env, autopilot="auto", dry_run="True")
        self.give_history("GR-SEQ-001", 40)
        incident = self.ingest(self.provoke_pkey_drift())
        self.assertEqual(incident._heal(), "dry_run")
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["res.partner.category"].create({"name": "still collides"})
            self.env.flush_all()

    def test_critical_record_rule_waits_for_approval_whatever_the_confidence(self):
        set_params(self.env, autopilot="auto")
        rule = faults.break_record_rule(self.env)
        try:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                self.env["res.partner.category"].with_user(self.sh_user).search([])
        except ValueError:
            text = traceback.format_exc()
        self.seed_solved_cases(
            "INVALID_FIELD_DOMAIN",
            text.replace("res.partner.category", "{name}").replace("x_self_healing_ghost", "x_old_field"),
            [t.replace("_", ".") for t in TABLES] + [f"x.custom.{n}" for n in range(13)],
            "A record rule kept a field of an uninstalled module; the rule was deactivated after review.",
        )
        guardrail = self.Guardrail.search([("code", "=", "GR-DOM-002")])
        for days in range(40):
            attempt = faults.make_attempt(
                self.env,
                "rule_deactivate",
                {"model": "res.partner", "field": "x"},
                guardrail_id=guardrail.id,
                mode="approved",
            )
            attempt.write({"state": "validated", "applied_at": fields.Datetime.now() - timedelta(days=days)})
        incident = self.ingest(text, logger="odoo.http")
        self.assertEqual(incident._heal(), "awaiting_approval", incident.message_ids.mapped("body"))
        attempt = incident.fix_attempt_ids
        self.assertGreaterEqual(attempt.confidence_before, 0.8, "confident enough for an automatic band")
        self.assertIn("critical", attempt.decision_reasons)
        self.assertTrue(rule.active)

    def test_unknown_fault_is_escalated(self):
        incident = self.ingest(
            'Traceback (most recent call last):\n  File "/opt/custom/addons/x/y.py", '
            "line 3, in f\n    1/0\nZeroDivisionError: division by zero",
            logger="odoo.http",
        )
        self.assertEqual(incident._heal(), "alert")
        self.assertEqual(incident.state, "escalated")

    def test_breaker_opens_after_consecutive_failures(self):
        self.seed_pkey_cases()
        set_params(self.env, autopilot="auto", breaker_failures="2")
        for _index in range(2):
            attempt = faults.make_attempt(self.env, "sequence_resync", {"table": TABLE})
            attempt.write({"state": "failed", "applied_at": fields.Datetime.now()})
        self.give_history("GR-SEQ-001", 0)
        self.assertEqual(self.env["self_healing.policy"]._consecutive_failures(), 2)
        incident = self.ingest(self.provoke_pkey_drift())
        incident._heal()
        self.assertIn(
            "breaker",
            (incident.fix_attempt_ids.decision_reasons or "").lower()
            + " ".join(incident.message_ids.mapped("body")).lower(),
        )
        self.env["self_healing.policy"].action_reset_breaker()
        self.assertEqual(self.env["self_healing.policy"]._consecutive_failures(), 0)


@tagged("post_install", "-at_install")
class TestHealingConcurrency(PipelineCase):
    """Two cron workers on one incident: exactly one handles it."""

    def test_two_workers_one_fix(self):
        registry = self.registry
        with registry.cursor() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            env["ir.config_parameter"].set_param("self_healing.autopilot", "suggest")
            # No solved cases in this committed database: let any matched fix be proposed.
            env["ir.config_parameter"].set_param("self_healing.threshold_propose", "0.0")
            # setval is not transactional: the drift is visible to both workers at once.
            faults.drift_id_sequence(env, "res_partner")
            incident = env["self_healing.incident"].create(
                {
                    "name": "concurrency",
                    "fingerprint": "concurrency-test",
                    "to_process": True,
                    "message_template": 'duplicate key value violates unique constraint "res_partner_pkey"',
                    "exception_type": "psycopg2.errors.UniqueViolation",
                    "sample_traceback": "psycopg2.errors.UniqueViolation: duplicate key value violates unique "
                    'constraint "res_partner_pkey"\nDETAIL:  Key (id)=(3) already exists.',
                }
            )
            incident_id = incident.id
        self.addCleanup(self._drop, incident_id)
        barrier = threading.Barrier(2)
        outcomes = []

        def worker():
            with registry.cursor() as cr:
                env = api.Environment(cr, api.SUPERUSER_ID, {})
                barrier.wait()
                outcomes.append(env["self_healing.incident"].browse(incident_id)._heal())
                barrier.wait(timeout=30)

        threads = [threading.Thread(target=worker) for _index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual(sorted(outcomes), ["awaiting_approval", "busy"])
        with registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM self_healing_fix_attempt WHERE incident_id = %s", [incident_id])
            self.assertEqual(cr.fetchone()[0], 1)

    def _drop(self, incident_id):
        with self.registry.cursor() as cr:
            faults.heal_id_sequence(api.Environment(cr, api.SUPERUSER_ID, {}), "res_partner")
            cr.execute("DELETE FROM self_healing_incident WHERE id = %s", [incident_id])
            cr.execute(
                "DELETE FROM ir_config_parameter WHERE key IN "
                "('self_healing.autopilot', 'self_healing.threshold_propose')"
            )


@tagged("post_install", "-at_install")
class TestTransientFaults(PipelineCase):
    TEXT = (
        "psycopg2.errors.SerializationFailure: could not serialize access due to concurrent update\n"
        'CONTEXT:  while updating tuple (12,4) in relation "stock_quant"'
    )

    def watched(self):
        set_params(self.env, autopilot="auto", threshold_auto="0.0", threshold_notify="0.0", threshold_propose="0.0")
        incident = self.ingest(self.TEXT)
        self.assertEqual(incident._heal(), "watching", incident.decision)
        self.assertTrue(incident.transient)
        self.assertNotIn(incident.state, ("healed", "fixing"), "no data was written: it stays open, watched")
        return incident

    def test_quiet_transient_fault_resolves_itself(self):
        incident = self.watched()
        self.env.cr.execute(
            "UPDATE self_healing_incident SET first_seen = now() - interval '3 hours', "
            "last_seen = now() - interval '2 hours' WHERE id = %s",
            [incident.id],
        )
        incident.invalidate_recordset()
        self.Incident._watch_transient_incidents()
        self.assertEqual(incident.state, "healed")

    def test_transient_fault_that_keeps_coming_is_escalated(self):
        incident = self.watched()
        self.env["self_healing.occurrence"].create([{"incident_id": incident.id} for _n in range(12)])
        self.Incident._watch_transient_incidents()
        self.assertEqual(incident.state, "escalated")
