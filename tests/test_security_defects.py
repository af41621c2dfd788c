"""The defects of issue 14 owned by security, each proven closed the way an attacker would try it.

Every write here goes the way production gets it: as a user through the ORM (what RPC runs),
or as plain SQL against the backup table, never by calling the guarded code with a bypass.
"""

import base64
import hashlib
import json
import os
import tempfile

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import mute_logger

from ..autopatches import runner
from ..models.policy import BREAKER_RESET_PARAM
from . import autopatch_faults as faults
from .common import SelfHealingCase

TABLE = "res_partner_category"
CRON_LINE = "Cron job 'Nightly sync' (%s) has been deactivated after failing 5 times"


def set_params(env, **values):
    for key, value in values.items():
        env["ir.config_parameter"].sudo().set_param(f"self_healing.{key}", value)


def table_exists(env, name):
    env.cr.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    return env.cr.fetchone()[0]


class SecurityCase(SelfHealingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.internal = new_test_user(cls.env, login="sh_internal_only", groups="base.group_user")
        cls.portal = new_test_user(cls.env, login="sh_portal", groups="base.group_portal")

    def validated_resync(self):
        """A real sequence_resync that ran and kept its backup, as the healing loop leaves it."""
        self.env["res.partner.category"].create([{"name": f"Sec {index}"} for index in range(3)])
        self.addCleanup(faults.heal_id_sequence, self.env, TABLE)
        faults.drift_id_sequence(self.env, TABLE, lag=2)
        attempt = faults.make_attempt(self.env, "sequence_resync", {"table": TABLE})
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, attempt.outcome)
        self.assertTrue(attempt.backup_ids)
        return attempt

    def forged_attempt(self, payload):
        """A validated attempt whose only backup says ``payload``, sealed as if a patch had written it."""
        attempt = faults.make_attempt(self.env, "sequence_resync", {"table": TABLE}, state="validated")
        self.env["self_healing.backup"].create(
            {"attempt_id": attempt.id, "kind": "data", "operation": payload["op"], "target": "x", "payload": payload}
        )
        return attempt


@tagged("post_install", "-at_install")
class TestDefect1BackupsOnlyFromPatches(SecurityCase):
    def test_manager_cannot_forge_backups_or_validated_attempts(self):
        attempt = self.validated_resync()
        Backup = self.env["self_healing.backup"].with_user(self.sh_manager)
        forged = {"op": "sql", "tables": [TABLE], "undo": ["CREATE TABLE sh_forged (id int)", []]}
        with self.assertRaises(AccessError):
            Backup.create({"attempt_id": attempt.id, "target": "x", "operation": "sql", "payload": forged})
        backup = attempt.backup_ids[:1].with_user(self.sh_manager)
        with self.assertRaises(AccessError):
            backup.write({"payload": forged})
        with self.assertRaises(AccessError):
            backup.write({"state": "kept"})
        with self.assertRaises(AccessError):
            backup.unlink()
        with self.assertRaises(AccessError):
            backup.copy()
        with self.assertRaises(AccessError):
            attempt.with_user(self.sh_manager).copy({"state": "validated"})
        with self.assertRaises(AccessError):
            self.Attempt.with_user(self.sh_manager).create(
                {"incident_id": attempt.incident_id.id, "autopatch_code": "cron_reactivate", "state": "validated"}
            )
        self.assertFalse(table_exists(self.env, "sh_forged"))

    def test_rollback_refuses_a_backup_changed_by_sql(self):
        attempt = self.validated_resync()
        # What a database user (or an injection elsewhere) could do to the row: no ORM involved.
        self.env.cr.execute(
            """UPDATE self_healing_backup
                  SET payload = jsonb_set(payload, '{undo}', '["CREATE TABLE sh_pwned (id int)", []]')
                WHERE attempt_id = %s AND operation = 'sql'""",
            [attempt.id],
        )
        self.assertEqual(self.env.cr.rowcount, 1)
        self.env.invalidate_all()
        with self.assertRaisesRegex(UserError, "changed after the fix made it"):
            attempt.with_user(self.sh_manager).action_rollback()
        self.assertFalse(table_exists(self.env, "sh_pwned"), "the forged undo statement ran")
        self.assertEqual(attempt.state, "validated")

    def test_restore_rechecks_the_declared_scope(self):
        """Sealed backups reaching outside the patch's scope (a patch bug) are refused at restore."""
        # setval is not transactional: the victim is a sequence this test's transaction creates (and drops).
        self.env.cr.execute("CREATE SEQUENCE sh_victim_seq START 500; SELECT nextval('sh_victim_seq')")
        admin = self.env.ref("base.user_admin")
        folder = tempfile.mkdtemp()
        path = os.path.join(folder, "victim.txt")
        with open(path, "wb") as handle:
            handle.write(b"original")
        self.addCleanup(os.remove, path)
        forged = {
            "table outside the scope": {
                "op": "sql",
                "tables": ["res_users"],
                "undo": ["SELECT setval(%s::regclass, %s, true)", ["sh_victim_seq", 1]],
            },
            "statement that is no undo": {
                "op": "sql",
                "tables": [TABLE],
                "undo": ["UPDATE res_users SET active = false WHERE id = %s", [admin.id]],
            },
            "sequence of another table": {
                "op": "sql",
                "tables": [TABLE],
                "undo": ["SELECT setval(%s::regclass, %s, true)", ["sh_victim_seq", 1]],
            },
            "model outside the scope": {
                "op": "write",
                "model": "res.users",
                "table": "res_users",
                "fields": ["active"],
                "before": {str(admin.id): {"active": False}},
                "after": {str(admin.id): {"active": True}},
            },
            "file outside the scope": {
                "op": "file",
                "path": path,
                "existed": True,
                "mode": 0o644,
                "content_b64": base64.b64encode(b"pwned").decode(),
                "after_sha256": hashlib.sha256(b"original").hexdigest(),
            },
        }
        for label, payload in forged.items():
            with self.subTest(label):
                attempt = self.forged_attempt(payload)
                with self.assertRaisesRegex(UserError, "may not|outside|not one the patch context journals"):
                    attempt.with_user(self.sh_manager).action_rollback()
                self.assertEqual(attempt.state, "validated")
        self.env.cr.execute("SELECT pg_sequence_last_value('sh_victim_seq'::regclass)")
        self.assertEqual(self.env.cr.fetchone()[0], 500)
        self.assertTrue(admin.active)
        with open(path, "rb") as handle:
            self.assertEqual(handle.read(), b"original")

    def test_a_sealed_backup_in_scope_still_rolls_back(self):
        attempt = self.validated_resync()
        attempt.with_user(self.sh_manager).action_rollback()
        self.assertEqual(attempt.state, "rolled_back")
        self.assertEqual(set(attempt.backup_ids.mapped("state")), {"restored"})


@tagged("post_install", "-at_install")
class TestDefect2ReportsNeverGiveParameters(SecurityCase):
    def setUp(self):
        super().setUp()
        set_params(self.env, autopilot="auto", threshold_auto="0.0", threshold_notify="0.0", threshold_propose="0.0")
        # Switched off by Odoo after repeated failures, its cause since healed: exactly what
        # cron_reactivate repairs, so only the origin of the parameters stands between a
        # user's sentence and the job running again.
        self.cron = faults.make_failing_cron(self.env, name="Nightly sync")
        with mute_logger("odoo.addons.base.models.ir_cron"):
            faults.fail_cron_until_deactivated(self.env, self.cron)
        faults.heal_cron_cause(self.env)
        self.assertFalse(self.cron.active)

    def report(self, text):
        wizard = self.env["self_healing.report.problem"].with_user(self.internal).create({"description": text})
        wizard.action_submit()
        incident = self.Incident.search([("source", "=", "user_report")], order="id desc", limit=1)
        self.assertTrue(incident)
        return incident

    def test_report_text_never_reactivates_a_cron(self):
        incident = self.report(CRON_LINE % self.cron.id)
        outcome = incident._heal()
        self.assertFalse(self.cron.active, "a user's sentence re-enabled a scheduled action")
        self.assertEqual(outcome, "alert")
        self.assertEqual(incident.guardrail_id.code, "GR-CRN-001", "the report is still matched and shown")
        self.assertFalse(incident.fix_attempt_ids)
        self.assertIn("described by a person", " ".join(incident.message_ids.mapped("body")))

    def test_a_reported_incident_takes_parameters_from_server_signals_and_waits(self):
        # The reporter names another job, switched off on purpose by an administrator.
        decoy = self.cron.copy({"name": "Decoy", "active": False})
        incident = self.report(CRON_LINE % decoy.id)
        # The server then logs the real deactivation into the same incident.
        self.env["self_healing.occurrence"].sudo().create(
            {
                "incident_id": incident.id,
                "signal_source": "log",
                "level": "WARNING",
                "logger": "odoo.addons.base.models.ir_cron",
                "message": CRON_LINE % self.cron.id,
            }
        )
        self.assertEqual(incident._heal(), "awaiting_approval", incident.decision)
        attempt = incident.fix_attempt_ids
        self.assertEqual(attempt.autopatch_code, "cron_reactivate")
        self.assertEqual(attempt.params.get("cron_id"), str(self.cron.id))
        self.assertIn("person described", attempt.decision_reasons)
        self.assertFalse(self.cron.active or decoy.active)

    def test_nobody_forges_server_evidence(self):
        """What the server observed (source, sample, occurrences) is what the parameters rest on."""
        incident = self.report(CRON_LINE % self.cron.id)
        for values in (
            {"source": "log"},
            {"sample_traceback": CRON_LINE % self.cron.id},
            {"state": "awaiting_approval"},
            {"occurrence_count": 7},
        ):
            with self.subTest(values=values), self.assertRaises(AccessError):
                incident.with_user(self.sh_approver).write(values)
        with self.assertRaises(AccessError):
            self.Incident.with_user(self.sh_manager).create(
                {"name": "forged", "fingerprint": "forged", "source": "log", "sample_traceback": CRON_LINE % 1}
            )
        with self.assertRaises(AccessError):
            self.env["self_healing.occurrence"].with_user(self.sh_manager).create(
                {"incident_id": incident.id, "signal_source": "log", "message": CRON_LINE % self.cron.id}
            )
        incident.with_user(self.sh_approver).write({"severity": "high"})
        self.assertEqual((incident.source, incident.severity), ("user_report", "high"))
        self.assertEqual(incident._heal(), "alert")
        self.assertFalse(self.cron.active)


@tagged("post_install", "-at_install")
class TestDefect7FixFieldsAreServerSide(SecurityCase):
    def test_approver_cannot_rewrite_a_fix(self):
        attempt = faults.make_attempt(self.env, "sequence_resync", {"table": TABLE}, mode="manual")
        for values in (
            {"params": {"table": "res_users"}},
            {"autopatch_code": "cron_reactivate"},
            {"state": "approved"},
            {"approver_id": self.sh_approver.id},
            {"outcome": "Validated: all good"},
            {"mode": "auto"},
        ):
            for user in (self.sh_approver, self.sh_manager):
                with self.subTest(values=values, user=user.login), self.assertRaises(AccessError):
                    attempt.with_user(user).write(values)
        self.assertEqual((attempt.state, attempt.params, attempt.mode), ("proposed", {"table": TABLE}, "manual"))

    def test_marking_a_failed_fix_validated_does_not_reset_the_breaker(self):
        Policy = self.env["self_healing.policy"]
        failed = self.Attempt
        for _index in range(3):
            failed |= faults.make_attempt(
                self.env, "sequence_resync", {"table": TABLE}, state="failed", applied_at=fields.Datetime.now()
            )
        failures = Policy._consecutive_failures()
        self.assertGreaterEqual(failures, 3)
        with self.assertRaises(AccessError):
            failed[-1:].with_user(self.sh_approver).write({"state": "validated"})
        with self.assertRaises(AccessError):
            failed.with_user(self.sh_manager).unlink()
        self.assertEqual(Policy._consecutive_failures(), failures)

    def test_the_review_form_approves_what_it_showed(self):
        """The web client's flow: Review opens the form, Approve saves it and calls the action."""
        attempt = faults.make_attempt(self.env, "sequence_resync", {"table": TABLE}, mode="manual")
        action = attempt.with_user(self.sh_approver).action_open_approval()
        form = Form(self.env[action["res_model"]].with_user(self.sh_approver).with_context(**action["context"]))
        form.note = "plan read"
        # Another approver previews the fix again while this one reads it.
        attempt.with_user(self.sh_manager).action_preview()
        attempt.write({"plan_preview": "re-planned"})
        wizard = form.save()
        with self.assertRaisesRegex(UserError, "changed since you opened it"):
            wizard.action_approve()
        form = Form(self.env[action["res_model"]].with_user(self.sh_approver).with_context(**action["context"]))
        form.save().action_approve()
        self.assertEqual((attempt.state, attempt.approval_note), ("approved", False))

    def test_approval_covers_the_plan_the_approver_read(self):
        attempt = faults.make_attempt(self.env, "sequence_resync", {"table": TABLE}, mode="manual")
        Wizard = self.env["self_healing.fix.approval"].with_user(self.sh_approver)
        shown = Wizard.with_context(default_attempt_ids=attempt.ids).default_get(["attempt_ids", "plan_digest"])
        self.assertTrue(shown.get("plan_digest"))
        # Meanwhile the server plans the fix again (or another approver's change lands).
        attempt.write({"plan_preview": "a different plan"})
        wizard = Wizard.create({"attempt_ids": [(6, 0, attempt.ids)], "plan_digest": shown["plan_digest"]})
        with self.assertRaisesRegex(UserError, "changed since you opened it"):
            wizard.action_approve()
        self.assertEqual(attempt.state, "proposed")
        fresh = Wizard.with_context(default_attempt_ids=attempt.ids).default_get(["attempt_ids", "plan_digest"])
        Wizard.create({"attempt_ids": [(6, 0, attempt.ids)], "plan_digest": fresh["plan_digest"]}).action_approve()
        self.assertEqual((attempt.state, attempt.approver_id), ("approved", self.sh_approver))
        # A second approver approving the same fix again is refused: it is no longer proposed.
        second = new_test_user(
            self.env, login="sh_approver_2", groups="base.group_user," + "self_healing.group_self_healing_approver"
        )
        with self.assertRaises(UserError):
            self.env["self_healing.fix.approval"].with_user(second).create(
                {"attempt_ids": [(6, 0, attempt.ids)]}
            ).action_approve()
        self.assertEqual(attempt.approver_id, self.sh_approver)


@tagged("post_install", "-at_install")
class TestDefect8GroupChecks(SecurityCase):
    def test_only_managers_reset_the_breaker(self):
        Parameters = self.env["ir.config_parameter"].sudo()
        Parameters.set_param(BREAKER_RESET_PARAM, "2000-01-01 00:00:00")
        for user in (self.portal, self.internal, self.sh_user, self.sh_approver):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.env["self_healing.policy"].with_user(user).action_reset_breaker()
        self.assertEqual(Parameters.get_param(BREAKER_RESET_PARAM), "2000-01-01 00:00:00")
        self.env["self_healing.policy"].with_user(self.sh_manager).action_reset_breaker()
        self.assertNotEqual(Parameters.get_param(BREAKER_RESET_PARAM), "2000-01-01 00:00:00")

    def test_only_managers_record_capture_counters(self):
        for user in (self.portal, self.internal, self.sh_user, self.sh_approver):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.env["self_healing.capture.stat"].with_user(user).action_record_current_process()
        self.env["self_healing.capture.stat"].with_user(self.sh_manager).action_record_current_process()


@tagged("post_install", "-at_install")
class TestDefect10Companies(SecurityCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.ref("base.main_company")
        cls.company_b = cls.env["res.company"].create({"name": "Self-Healing Co B"})
        cls.user_b = new_test_user(
            cls.env,
            login="sh_user_b",
            groups="base.group_user,self_healing.group_self_healing_user",
            company_id=cls.company_b.id,
            company_ids=[(6, 0, cls.company_b.ids)],
        )
        cls.sh_user.write({"company_ids": [(6, 0, cls.company_a.ids)], "company_id": cls.company_a.id})

    def test_a_user_signal_belongs_to_the_users_company(self):
        result = self.Incident._ingest_signals(
            [
                {
                    "source": "log",
                    "level": "ERROR",
                    "logger": "odoo.http",
                    "message": "KeyError: 'partner_b_secret'",
                    "traceback": "Traceback (most recent call last):\nKeyError: 'partner_b_secret'",
                    "dbname": self.env.cr.dbname,
                    "uid": self.user_b.id,
                }
            ]
        )
        incident = result.incidents
        self.assertEqual(incident.company_id, self.company_b)
        self.assertEqual(incident.occurrence_ids.company_id, self.company_b)
        attempt = faults.make_attempt(self.env, "sequence_resync", {"table": TABLE}, incident=incident)
        self.assertEqual(attempt.company_id, self.company_b)
        Occurrence = self.env["self_healing.occurrence"]
        self.assertFalse(self.Incident.with_user(self.sh_user).search([("id", "=", incident.id)]))
        self.assertFalse(Occurrence.with_user(self.sh_user).search([("incident_id", "=", incident.id)]))
        self.assertFalse(self.Attempt.with_user(self.sh_user).search([("id", "=", attempt.id)]))
        self.assertEqual(self.Incident.with_user(self.user_b).search([("id", "=", incident.id)]), incident)
        self.assertEqual(
            Occurrence.with_user(self.user_b).search([("incident_id", "=", incident.id)]).company_id, self.company_b
        )

    def test_server_signal_takes_the_ingesting_company_and_reports_the_reporters(self):
        result = self.Incident._ingest_signals(
            [{"source": "log", "level": "ERROR", "logger": "odoo.sql_db", "message": "ZeroDivisionError: server side"}]
        )
        self.assertEqual(result.incidents.company_id, self.env.company)
        reporter = new_test_user(
            self.env,
            login="sh_reporter_b",
            groups="base.group_user",
            company_id=self.company_b.id,
            company_ids=[(6, 0, self.company_b.ids)],
        )
        self.env["self_healing.report.problem"].with_user(reporter).create(
            {"description": "The B invoice screen is blank"}
        ).action_submit()
        incident = self.Incident.search([("source", "=", "user_report")], order="id desc", limit=1)
        self.assertEqual(incident.company_id, self.company_b)

    def test_backups_follow_their_attempts_company(self):
        incident = self.make_incident(name="B incident", company_id=self.company_b.id)
        attempt = self.forged_attempt_for(incident)
        self.assertEqual(attempt.backup_ids.company_id, self.company_b)
        self.assertFalse(
            self.env["self_healing.backup"].with_user(self.sh_manager).search([("attempt_id", "=", attempt.id)])
        )

    def forged_attempt_for(self, incident):
        attempt = faults.make_attempt(self.env, "sequence_resync", {"table": TABLE}, incident=incident)
        self.env["self_healing.backup"].create(
            {"attempt_id": attempt.id, "operation": "guard", "target": "x", "payload": {"op": "guard"}}
        )
        return attempt


@tagged("post_install", "-at_install")
class TestUninstallRemovesParameters(SecurityCase):
    def test_uninstall_hook_drops_every_self_healing_parameter(self):
        from .. import uninstall_hook

        Parameters = self.env["ir.config_parameter"].sudo()
        Parameters.set_param("self_healing.llm_api_key", "sk-live-secret")
        Parameters.set_param("self_healing.webhook_secret", "hook-secret")
        Parameters.set_param("self_healingx.unrelated", "kept")
        Parameters.set_param("web.base.url.other", "kept")
        uninstall_hook(self.env)
        self.env.cr.execute("SELECT key FROM ir_config_parameter WHERE key LIKE 'self%%healing%%'")
        self.assertEqual([key for (key,) in self.env.cr.fetchall()], ["self_healingx.unrelated"])
        self.assertFalse(Parameters.get_param("self_healing.llm_api_key"))
        self.assertEqual(Parameters.get_param("web.base.url.other"), "kept")


@tagged("post_install", "-at_install")
class TestDefect2NoLlmPickFromAReport(SecurityCase):
    """A person's words never reach a fix through an LLM either."""

    def setUp(self):
        super().setUp()
        from .test_healing_llm import load_fake_server

        self.server = load_fake_server()().start()
        self.addCleanup(self.server.stop)
        set_params(
            self.env,
            autopilot="auto",
            threshold_auto="0.0",
            threshold_notify="0.0",
            threshold_propose="0.0",
            llm_provider="anthropic",
            llm_api_key="test-key",
            llm_model="claude-test",
            llm_base_url=self.server.anthropic_base_url,
        )
        self.env["res.partner.category"].create([{"name": f"Llm {n}"} for n in range(3)])
        faults.drift_id_sequence(self.env, TABLE)
        self.addCleanup(faults.heal_id_sequence, self.env, TABLE)
        self.server.script(
            json.dumps(
                {
                    "error_class": "SEQ_PKEY_DRIFT",
                    "root_cause": "as the user says",
                    "autopatch": "sequence_resync",
                    "params": {"table": TABLE},
                    "confidence": 0.99,
                    "explanation": "the report names the table",
                }
            )
        )

    def test_report_gets_no_llm_fix(self):
        self.env["self_healing.report.problem"].with_user(self.internal).create(
            {"description": f"Saving a tag fails: the table {TABLE} refuses new rows, please resync it"}
        ).action_submit()
        incident = self.Incident.search([("source", "=", "user_report")], order="id desc", limit=1)
        self.assertEqual(incident._heal(), "alert")
        self.assertFalse(incident.fix_attempt_ids)
        self.assertFalse(self.server.requests, "the report's text was sent to the LLM for a fix")
