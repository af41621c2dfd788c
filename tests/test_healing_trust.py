"""Day-one trust on a fresh install: risk decides the first step, outcomes move the ladder.

Nothing is imported and nothing is tuned: the autopilot is on Auto, the guardrail library is
the shipped one. The faults are real (a drifted id sequence, the collision's traceback).
"""

import contextlib
from datetime import timedelta

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..autopatches import base as autopatch_base
from . import autopatch_faults as faults
from .test_healing_pipeline import TABLE, PipelineCase, set_params
from .trust_patches import ReplayedSequenceResync, UnreplayedSequenceResync, WideSequenceResync, guardrail_patch


@tagged("post_install", "-at_install")
class TestDayOneTrust(PipelineCase):
    def setUp(self):
        super().setUp()
        set_params(self.env, autopilot="auto")

    def collides(self):
        with contextlib.suppress(Exception), self.env.cr.savepoint():
            self.env["res.partner.category"].create({"name": "after the fix"})
            self.env.flush_all()
            return False
        return True

    def test_verified_fix_heals_on_first_sight_without_history_or_solved_cases(self):
        self.assertFalse(self.env["self_healing.knowledge.entry"].search_count([]), "nothing imported")
        with guardrail_patch(self.env, ReplayedSequenceResync) as guardrail:
            self.assertEqual(guardrail.autonomy, "auto", "a non-critical guardrail starts on auto")
            incident = self.ingest(self.provoke_pkey_drift())
            self.assertEqual(incident._heal(), "healed", incident.decision)
        attempt = incident.fix_attempt_ids
        self.assertEqual(len(attempt), 1, "healed on the first attempt")
        self.assertEqual((attempt.mode, attempt.state, attempt.outcome_label), ("auto", "validated", "settling"))
        self.assertGreaterEqual(attempt.confidence_before, 0.9, attempt.confidence_terms)
        terms = attempt.confidence_terms
        self.assertEqual(terms["method"], "estimate")
        self.assertTrue(terms["diagnosis"]["holds"])
        self.assertEqual(terms["terms"]["track_record"]["contribution"], 0.0, "no history was needed")
        self.assertIn("replayed insert", attempt.outcome)
        self.assertFalse(self.collides(), "the user's create works again")

    def test_unverified_fix_never_runs_alone(self):
        with guardrail_patch(self.env, UnreplayedSequenceResync):
            incident = self.ingest(self.provoke_pkey_drift())
            self.assertEqual(incident._heal(), "awaiting_approval")
        attempt = incident.fix_attempt_ids
        self.assertEqual(attempt.state, "proposed")
        self.assertIn("unverified", attempt.decision_reasons)
        self.assertTrue(self.collides(), "nothing was written")

    def test_look_alike_refuted_by_the_live_diagnosis_is_not_touched(self):
        text = self.provoke_pkey_drift()
        # Someone repaired the sequence before the healing loop looked: the text still matches.
        faults.heal_id_sequence(self.env, TABLE)
        with guardrail_patch(self.env, ReplayedSequenceResync):
            incident = self.ingest(text)
            self.assertEqual(incident._heal(), "alert")
        self.assertGreaterEqual(incident.match_score, 0.9, "the text match alone was confident")
        self.assertFalse(incident.fix_attempt_ids, "a refuted diagnosis gets no fix")
        self.assertIn("not there", " ".join(incident.message_ids.mapped("body")))

    def test_wide_blast_radius_waits_for_a_human(self):
        with guardrail_patch(self.env, WideSequenceResync):
            incident = self.ingest(self.provoke_pkey_drift())
            self.assertEqual(incident._heal(), "awaiting_approval")
        self.assertIn("Blast radius 300 row(s)", incident.fix_attempt_ids.decision_reasons)

    def test_observe_step_only_plans(self):
        with guardrail_patch(self.env, ReplayedSequenceResync) as guardrail:
            guardrail.autonomy = "observe"
            self.assertTrue(guardrail.autonomy_pinned, "choosing a step pins it")
            incident = self.ingest(self.provoke_pkey_drift())
            self.assertEqual(incident._heal(), "dry_run")
        self.assertTrue(incident.fix_attempt_ids.dry_run)
        self.assertTrue(self.collides(), "a dry run writes nothing")

    def test_approve_step_proposes_and_successes_move_it_up(self):
        set_params(self.env, autonomy_promote_after="2", settling_window_seconds="0")
        with guardrail_patch(self.env, ReplayedSequenceResync) as guardrail:
            guardrail.write({"autonomy": "approve", "autonomy_pinned": False})
            for _round in range(2):
                incident = self.ingest(self.provoke_pkey_drift())
                self.assertEqual(incident._heal(), "awaiting_approval")
                self.assertIn("'approve' step", incident.fix_attempt_ids[:1].decision_reasons)
                attempt = incident.fix_attempt_ids.filtered(lambda record: record.state == "proposed")
                self.env["self_healing.fix.approval"].with_user(self.sh_approver).create(
                    {"attempt_ids": [(6, 0, attempt.ids)], "note": "plan checked"}
                ).action_approve()
                self.assertEqual(attempt.state, "validated")
                settled = self.Attempt._settle_outcomes(now=fields.Datetime.now() + timedelta(seconds=1))
                self.assertIn(attempt, settled)
                self.assertEqual(attempt.outcome_label, "healed")
            self.assertEqual(guardrail.autonomy, "auto")
            self.assertIn("2 successes in a row", guardrail.message_ids[:1].body)
            self.assertEqual((guardrail.score_runs, guardrail.score_healed), (2, 2))

    def test_critical_guardrail_stays_on_approve(self):
        rule_guardrail = self.Guardrail.search([("code", "=", "GR-DOM-002")])
        self.assertTrue(rule_guardrail.critical)
        self.assertEqual(rule_guardrail.autonomy, "approve")
        rule_guardrail.write({"autonomy": "auto"})
        self.assertEqual(rule_guardrail.autonomy, "approve", "even an administrator cannot put it on auto")

    def test_recurrence_labels_the_fix_failed_and_moves_the_guardrail_down(self):
        with guardrail_patch(self.env, ReplayedSequenceResync) as guardrail:
            text = self.provoke_pkey_drift()
            incident = self.ingest(text)
            self.assertEqual(incident._heal(), "healed")
            attempt = incident.fix_attempt_ids
            # Datetimes keep seconds: the fault before the fix and the fix are set apart explicitly.
            incident.occurrence_ids.occurred_at = fields.Datetime.now() - timedelta(minutes=10)
            attempt.healed_at = fields.Datetime.now() - timedelta(minutes=5)
            self.ingest(text)
        self.assertEqual((attempt.outcome_label, attempt.recurred), ("failed", True))
        self.assertEqual(guardrail.autonomy, "approve")
        self.assertIn("fault came back (1 new occurrence(s)", guardrail.message_ids[:1].body)
        self.assertEqual((guardrail.score_recurred, guardrail.score_healed), (1, 0))
        self.assertTrue(guardrail.score_last_failure)
        self.assertFalse(guardrail._outcomes()[-1][0], "the track record counts it as a failure")

    def rolled_back(self, pin=False):
        with guardrail_patch(self.env, ReplayedSequenceResync) as guardrail:
            if pin:
                guardrail.write({"autonomy": "auto"})  # an administrator pins it on auto
            incident = self.ingest(self.provoke_pkey_drift())
            self.assertEqual(incident._heal(), "healed")
            incident.fix_attempt_ids.with_user(self.sh_manager).action_rollback()
        self.assertEqual(incident.fix_attempt_ids.outcome_label, "failed")
        return guardrail

    def test_rollback_moves_the_guardrail_one_step_down(self):
        guardrail = self.rolled_back()
        self.assertEqual(guardrail.autonomy, "approve")
        self.assertIn("rolled back", guardrail.message_ids[:1].body)
        self.assertEqual(guardrail.score_rolled_back, 1)

    def test_pinned_guardrail_does_not_move(self):
        guardrail = self.rolled_back(pin=True)
        self.assertEqual(guardrail.autonomy, "auto")
        self.assertIn("stays pinned", guardrail.message_ids[:1].body)

    def test_learning_settings_are_checked_and_used(self):
        Settings = self.env["res.config.settings"]
        with self.assertRaisesRegex(ValidationError, "cannot be negative"):
            Settings.create({"self_healing_settling_window_seconds": -1})
        with self.assertRaisesRegex(ValidationError, "At least one success"):
            Settings.create({"self_healing_autonomy_promote_after": 0})
        Settings.create(
            {"self_healing_settling_window_seconds": 60, "self_healing_autonomy_promote_after": 2}
        ).execute()
        self.assertEqual(self.Attempt._settling_window(), timedelta(seconds=60))
        self.assertEqual(self.Guardrail._promote_after(), 2)

    def test_shipped_patches_heal_their_faults_on_first_sight(self):
        """The real auto-patch, as shipped: no subclass, no history, nothing imported by hand."""
        self.assertTrue(autopatch_base.get("sequence_resync").replays, "its validation replays the insert")
        incident = self.ingest(self.provoke_pkey_drift())
        self.assertEqual(incident._heal(), "healed", incident.decision)
        attempt = incident.fix_attempt_ids
        self.assertEqual((len(attempt), attempt.mode, attempt.autopatch_code), (1, "auto", "sequence_resync"))
        self.assertTrue(attempt.diagnosis["holds"], "the live diagnosis is kept on the attempt")
        self.assertFalse(self.collides())
