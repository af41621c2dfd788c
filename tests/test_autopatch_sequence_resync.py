import psycopg2.errors

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..autopatches import base, runner
from . import autopatch_faults as faults
from .common import SelfHealingCase

TABLE = "res_partner_category"


@tagged("post_install", "-at_install")
class TestSequenceResync(SelfHealingCase):
    def setUp(self):
        super().setUp()
        self.env["res.partner.category"].create([{"name": f"Drift {index}"} for index in range(3)])
        self.addCleanup(faults.heal_id_sequence, self.env, TABLE)
        self.sequence = faults.drift_id_sequence(self.env, TABLE, lag=2)

    def assert_insert_collides(self):
        with (
            self.assertRaisesRegex(psycopg2.errors.UniqueViolation, f"{TABLE}_pkey"),
            mute_logger("odoo.sql_db"),
            self.env.cr.savepoint(),
        ):
            self.env["res.partner.category"].create({"name": "collides"})
            self.env.flush_all()

    def last_value(self):
        self.env.cr.execute("SELECT pg_sequence_last_value(%s::regclass)", [self.sequence])
        return self.env.cr.fetchone()[0]

    def test_resync_then_rollback_restores_the_sequence(self):
        self.assert_insert_collides()
        before = self.last_value()
        self.assertTrue(runner.check(self.env, "sequence_resync", {"table": TABLE})[0])
        written = faults.rows_written(self.env)
        plan = runner.preview(self.env, "sequence_resync", {"table": TABLE})
        self.assertEqual(faults.rows_written(self.env), written)
        self.assertEqual(self.last_value(), before, "planning must not move the sequence")
        self.assertIn("setval", plan)

        attempt = faults.make_attempt(self.env, "sequence_resync", {"table": TABLE})
        result = runner.run_attempt(attempt)
        self.assertTrue(result.ok, attempt.outcome)
        self.env.cr.execute(f"SELECT max(id) FROM {TABLE}")
        max_id = self.env.cr.fetchone()[0]
        self.assertEqual(self.last_value(), max_id)
        self.assertFalse(runner.check(self.env, "sequence_resync", {"table": TABLE})[0])

        attempt.with_user(self.sh_manager).action_rollback()
        self.assertEqual(attempt.state, "rolled_back")
        self.assertEqual(self.last_value(), before)
        self.assert_insert_collides()

    def test_inserts_work_after_the_fix_and_block_a_rollback(self):
        attempt = faults.make_attempt(self.env, "sequence_resync", {"table": TABLE})
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.env["res.partner.category"].create({"name": "fits now"})
        self.env.flush_all()
        with self.assertRaisesRegex(UserError, "moved on"):
            attempt.with_user(self.sh_manager).action_rollback()

    def test_no_drift_no_fix(self):
        faults.heal_id_sequence(self.env, TABLE)
        ok, reason = runner.check(self.env, "sequence_resync", {"table": TABLE})
        self.assertFalse(ok)
        self.assertIn("already hands out", reason)
        self.assertFalse(runner.check(self.env, "sequence_resync", {"table": "no_such_table"})[0])

    def test_diagnose_proves_the_drift_and_the_replay_reproduces_it(self):
        diagnosis = runner.diagnose(self.env, "sequence_resync", {"table": TABLE})
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        self.env.cr.execute(f"SELECT max(id) FROM {TABLE}")
        max_id = self.env.cr.fetchone()[0]
        self.assertEqual(diagnosis.evidence["max_id"], max_id)
        self.assertLessEqual(diagnosis.evidence["next_id"], max_id)
        self.assertEqual(diagnosis.evidence["ids_ahead"], 2, "two ids lie ahead of a sequence lagging by two")
        self.assertEqual(diagnosis.rows, 1)

        before = self.last_value()
        patch = base.get("sequence_resync")()
        ok, detail = patch.replay(self.env, {"table": TABLE})
        self.assertFalse(ok)
        self.assertIn("still collides", detail)
        self.assertEqual(self.last_value(), before, "the replay gives its draw back")

        attempt = faults.make_attempt(self.env, "sequence_resync", {"table": TABLE})
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.assertTrue(attempt.diagnosis["holds"])
        self.assertEqual(attempt.diagnosis["evidence"]["max_id"], max_id)
        self.assertIn("gets the free id", attempt.outcome)
        self.assertEqual(self.last_value(), max_id, "the replay after the fix gave its draw back too")
        self.assertTrue(patch.replay(self.env, {"table": TABLE})[0])

    def test_look_alike_sequence_already_ahead_is_not_touched(self):
        # A duplicate key on the table for another reason (a unique index, an explicit id): the
        # sequence itself is fine, far ahead of max(id).
        faults.heal_id_sequence(self.env, TABLE)
        self.env.cr.execute(f"SELECT max(id) FROM {TABLE}")
        max_id = self.env.cr.fetchone()[0]
        self.env.cr.execute("SELECT setval(%s::regclass, %s, true)", [self.sequence, max_id + 50])
        diagnosis = runner.diagnose(self.env, "sequence_resync", {"table": TABLE})
        self.assertFalse(diagnosis.holds)
        self.assertEqual(diagnosis.evidence["next_id"], max_id + 51)
        attempt = faults.make_attempt(self.env, "sequence_resync", {"table": TABLE})
        runner.run_attempt(attempt)
        self.assertEqual(attempt.state, "failed")
        self.assertIn("live diagnosis refutes", attempt.outcome)
        self.assertFalse(attempt.diagnosis["holds"])
        self.assertFalse(attempt.backup_ids)
        self.assertEqual(self.last_value(), max_id + 50, "a look-alike keeps its sequence")
