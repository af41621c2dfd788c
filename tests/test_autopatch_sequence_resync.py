import psycopg2.errors

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..autopatches import runner
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
