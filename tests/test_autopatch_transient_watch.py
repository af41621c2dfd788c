from datetime import timedelta

import psycopg2.errors

from odoo import fields
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

        attempt = faults.make_attempt(self.env, "transient_watch", {"window_minutes": 30}, incident=incident)
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
