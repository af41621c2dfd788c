import psycopg2.errors

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..autopatches import runner
from . import autopatch_faults as faults
from .common import SelfHealingCase


@tagged("post_install", "-at_install")
class TestSequenceNumberResync(SelfHealingCase):
    def params(self, sequence):
        return {"sequence_id": sequence.id, "model": "ir.config_parameter", "field": "key"}

    def assert_next_number_collides(self, sequence):
        with (
            self.assertRaisesRegex(psycopg2.errors.UniqueViolation, "ir_config_parameter_key_uniq"),
            mute_logger("odoo.sql_db"),
            self.env.cr.savepoint(),
        ):
            self.env["ir.config_parameter"].create({"key": sequence.next_by_id(), "value": "new"})
            self.env.flush_all()

    def approved_attempt(self, sequence):
        attempt = faults.make_attempt(self.env, "sequence_number_resync", self.params(sequence), mode="manual")
        attempt.with_user(self.sh_approver)._approve("numbers checked")
        return attempt

    def test_standard_sequence(self):
        sequence = faults.lag_numbering(self.env, used=5, next_number=3)
        self.assert_next_number_collides(sequence)
        self.assertEqual(sequence.number_next_actual, 4)
        written = faults.rows_written(self.env)
        plan = runner.preview(self.env, "sequence_number_resync", self.params(sequence))
        self.assertEqual(faults.rows_written(self.env), written)
        self.assertIn("'SHT/0006'", plan)
        self.assertEqual(sequence.number_next_actual, 4)

        automatic = faults.make_attempt(self.env, "sequence_number_resync", self.params(sequence))
        runner.run_attempt(automatic)
        self.assertEqual(automatic.state, "failed", "critical: never without approval")

        attempt = self.approved_attempt(sequence)
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        sequence.invalidate_recordset(["number_next_actual"])
        self.assertEqual(sequence.number_next_actual, 6)

        attempt.with_user(self.sh_manager).action_rollback()
        sequence.invalidate_recordset(["number_next_actual"])
        self.assertEqual(sequence.number_next_actual, 4)
        self.assert_next_number_collides(sequence)

    def test_numbers_drawn_after_the_fix(self):
        sequence = faults.lag_numbering(self.env, used=5, next_number=3)
        self.assertTrue(runner.run_attempt(self.approved_attempt(sequence)).ok)
        self.env["ir.config_parameter"].create({"key": sequence.next_by_id(), "value": "new"})
        self.assertTrue(self.env["ir.config_parameter"].search([("key", "=", "SHT/0006")]))

    def test_no_gap_sequence(self):
        sequence = faults.lag_numbering(self.env, used=5, next_number=2)
        sequence.implementation = "no_gap"
        sequence.number_next = 2
        attempt = self.approved_attempt(sequence)
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.assertEqual(sequence.number_next, 6)
        attempt.with_user(self.sh_manager).action_rollback()
        self.assertEqual(sequence.number_next, 2)
