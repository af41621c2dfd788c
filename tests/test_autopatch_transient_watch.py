from datetime import timedelta
from unittest.mock import patch

import psycopg2.errors

from odoo import fields, sql_db
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..autopatches import runner, transient_watch
from . import autopatch_faults as faults
from .common import SelfHealingCase


@tagged("post_install", "-at_install")
class TestTransientWatch(SelfHealingCase):
    def test_watch_then_resolve_when_quiet(self):
        with mute_logger("odoo.sql_db"):
            error = faults.provoke_serialization_failure(self.registry)
        self.assertIsInstance(error, psycopg2.errors.SerializationFailure)
        incident = faults.make_transient_incident(self.env, error=error)
        incident._set_state("matched")
        written = faults.rows_written(self.env)
        self.assertIn("No business data is written", runner.preview(self.env, "transient_watch", {}, incident=incident))
        self.assertEqual(faults.rows_written(self.env), written)

        attempt = faults.make_attempt(self.env, "transient_watch", {"window_seconds": 1800}, incident=incident)
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, attempt.outcome)
        self.assertTrue(incident.transient)
        self.assertEqual(attempt.backup_ids.payload["model"], "self_healing.incident", "nothing else was written")

        now = fields.Datetime.now()
        watched = self.Attempt._resolve_transient_incidents(now=now + timedelta(minutes=10))
        self.assertIn(incident, watched["watching"])
        self.assertEqual(incident.state, "matched")
        # It recurs: last_seen moves forward and the quiet window starts again.
        incident.sudo().write({"last_seen": now + timedelta(minutes=20)})
        self.assertFalse(transient_watch.resolve_quiet_incidents(self.env, now + timedelta(minutes=40))["healed"])
        resolved = transient_watch.resolve_quiet_incidents(self.env, now + timedelta(minutes=51))
        self.assertEqual(resolved["healed"], incident)
        self.assertEqual(incident.state, "healed")

    def test_rollback_and_refusals(self):
        incident = faults.make_transient_incident(self.env)
        attempt = faults.make_attempt(self.env, "transient_watch", {}, incident=incident)
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.assertFalse(runner.check(self.env, "transient_watch", {}, incident=incident)[0])
        attempt.with_user(self.sh_manager).action_rollback()
        self.assertFalse(incident.transient)
        other = self.make_incident(name="KeyError: 'x'", error_class="FIELD_KEYERROR")
        ok, reason = runner.check(self.env, "transient_watch", {}, incident=other)
        self.assertFalse(ok)
        self.assertIn("not a concurrency error", reason)

    def test_window_in_seconds_and_healing_cron_due_at_its_end(self):
        params = self.env["ir.config_parameter"].sudo()
        params.set_param(transient_watch.WINDOW_PARAM, "20")
        self.assertEqual(transient_watch.default_window(self.env), timedelta(seconds=20))
        params.set_param(transient_watch.WINDOW_PARAM, "3")
        self.assertEqual(
            transient_watch.default_window(self.env),
            timedelta(seconds=transient_watch.MIN_WINDOW_SECONDS),
            "a window shorter than the minimum would call a recurring fault quiet",
        )
        params.set_param(transient_watch.WINDOW_PARAM, "half an hour")
        self.assertEqual(
            transient_watch.default_window(self.env), timedelta(seconds=transient_watch.DEFAULT_WINDOW_SECONDS)
        )
        self.assertEqual(transient_watch.describe(timedelta(minutes=30)), "30 minutes")
        self.assertEqual(transient_watch.describe(timedelta(seconds=20)), "20 seconds")

        incident = faults.make_transient_incident(self.env)
        incident._set_state("matched")
        attempt = faults.make_attempt(self.env, "transient_watch", {"window_seconds": 45}, incident=incident)
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, attempt.outcome)
        cron = self.env.ref("self_healing.ir_cron_heal_incidents")
        triggers = self.env["ir.cron.trigger"].sudo()
        before = triggers.search([("cron_id", "=", cron.id)])
        self.assertEqual(incident._after_fix(attempt, result), "watching")
        due = incident.last_seen + timedelta(seconds=45)
        scheduled = triggers.search([("cron_id", "=", cron.id)]) - before
        self.assertEqual(len(scheduled), 1)
        self.assertEqual(
            scheduled.call_at,
            due + timedelta(seconds=1),
            "the healing cron runs when the window ends, not at its next 5-minute interval",
        )
        # Another healing pass finds that trigger and does not add a second one.
        self.env["self_healing.incident"]._watch_transient_incidents()
        self.assertEqual(triggers.search([("cron_id", "=", cron.id)]) - before, scheduled)
        self.assertEqual(
            transient_watch.resolve_quiet_incidents(self.env, due + timedelta(seconds=2))["healed"], incident
        )

    def test_diagnose_a_passing_conflict(self):
        incident = faults.make_transient_incident(self.env)
        diagnosis = runner.diagnose(self.env, "transient_watch", {}, incident=incident)
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        self.assertEqual(diagnosis.evidence["incident_id"], incident.id)
        self.assertEqual(diagnosis.evidence["stale_writers"], [])
        self.assertEqual(transient_watch.TransientWatch.replays, "", "a conflict cannot be replayed on demand")

    def test_look_alike_lock_held_by_a_stuck_session_is_not_watched(self):
        # A session that wrote and then sat idle in its transaction: its locks make the "concurrency"
        # error come back until someone ends it; watching for quiet would wait forever.
        incident = faults.make_transient_incident(self.env)
        stuck = sql_db.db_connect(self.env.cr.dbname).cursor()
        self.addCleanup(stuck.close)
        stuck.execute("UPDATE res_country SET code = code WHERE id = (SELECT min(id) FROM res_country)")
        with patch.object(transient_watch, "STALE_WRITER_AGE", timedelta(0)):
            diagnosis = runner.diagnose(self.env, "transient_watch", {}, incident=incident)
            attempt = faults.make_attempt(self.env, "transient_watch", {}, incident=incident)
            runner.run_attempt(attempt)
        self.assertFalse(diagnosis.holds)
        self.assertIn("idle in transaction", diagnosis.reason)
        self.assertIn(stuck._cnx.info.backend_pid, [row["pid"] for row in diagnosis.evidence["stale_writers"]])
        self.assertEqual(attempt.state, "failed")
        self.assertIn("live diagnosis refutes", attempt.outcome)
        self.assertFalse(incident.transient)
        stuck.rollback()
