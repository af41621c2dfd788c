import psycopg2.errors

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..autopatches import base, runner
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

    def next_actual(self, sequence):
        sequence.invalidate_recordset(["number_next_actual"])
        return sequence.number_next_actual

    def test_diagnose_finds_the_collision_and_the_replay_reproduces_it(self):
        sequence = faults.lag_numbering(self.env, used=5, next_number=3)
        diagnosis = runner.diagnose(self.env, "sequence_number_resync", self.params(sequence))
        self.assertTrue(diagnosis.holds, diagnosis.reason)
        self.assertEqual(diagnosis.evidence["next_number"], "SHT/0003")
        self.assertTrue(diagnosis.evidence["next_number_taken"])
        self.assertEqual(diagnosis.evidence["highest_used"], 5)
        self.assertEqual(diagnosis.rows, 1)

        patch = base.get("sequence_number_resync")()
        ok, detail = patch.replay(self.env, self.params(sequence))
        self.assertFalse(ok)
        self.assertIn("'SHT/0003' is already used", detail)
        self.assertEqual(self.next_actual(sequence), 3, "the replay gives its draw back")

        attempt = self.approved_attempt(sequence)
        self.assertTrue(runner.run_attempt(attempt).ok, attempt.outcome)
        self.assertEqual(attempt.diagnosis["evidence"]["next_number"], "SHT/0003")
        self.assertIn("free number 'SHT/0006'", attempt.outcome)
        self.assertEqual(self.next_actual(sequence), 6, "validation's draw was given back")
        self.assertTrue(patch.replay(self.env, self.params(sequence))[0])

    def test_look_alike_numbering_already_ahead_is_not_touched(self):
        # The duplicate came from a number typed by hand: the sequence is past every used number.
        sequence = faults.lag_numbering(self.env, used=5, next_number=9)
        diagnosis = runner.diagnose(self.env, "sequence_number_resync", self.params(sequence))
        self.assertFalse(diagnosis.holds)
        self.assertFalse(diagnosis.evidence["next_number_taken"])
        attempt = self.approved_attempt(sequence)
        runner.run_attempt(attempt)
        self.assertEqual(attempt.state, "failed")
        self.assertIn("live diagnosis refutes", attempt.outcome)
        self.assertEqual(self.next_actual(sequence), 9)
