"""Human fixes become knowledge (and, for unknown faults, a draft guardrail to review)."""

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, tagged

from .knowledge_common import FAULTS, KnowledgeCase

CHECK_VIOLATION = (
    'psycopg2.errors.CheckViolation: new row for relation "stock_quant" violates check '
    'constraint "stock_quant_qty_check"\nDETAIL: Failing row contains (12, 4).'
)


@tagged("post_install", "-at_install")
class TestRecordFix(KnowledgeCase):
    def wizard(self, incident, user, **values):
        form = Form(
            self.env["self_healing.record.fix"]
            .with_user(user)
            .with_context(active_id=incident.id, default_incident_id=incident.id)
        )
        for name, value in values.items():
            setattr(form, name, value)
        return form.save()

    def test_a_fix_on_a_matched_incident_becomes_a_solved_case_that_supports_the_next_match(self):
        incident = self.make_incident(name="Partner pkey", sample_traceback=FAULTS["pkey"][0])
        self.Matcher.apply_match(incident)
        wizard = self.wizard(incident, self.sh_approver, solution="Ran setval on res_partner_id_seq.")
        self.assertEqual(
            (wizard.title, wizard.guardrail_id.code, wizard.error_class, wizard.propose_guardrail),
            ("Partner pkey", "GR-SEQ-001", "SEQ_PKEY_DRIFT", False),
        )
        self.assertEqual(wizard.problem, FAULTS["pkey"][0])
        action = wizard.action_record()
        entry = self.Entry.browse(action["res_id"])
        self.assertEqual(
            (entry.source, entry.incident_id, entry.guardrail_id.code, entry.error_class, entry.solution),
            ("human_fix", incident, "GR-SEQ-001", "SEQ_PKEY_DRIFT", "Ran setval on res_partner_id_seq."),
        )
        self.assertIn("Fix recorded", incident.message_ids[0].body)
        self.embed_all()
        recurrence = self.make_incident(name="Another pkey", sample_traceback=FAULTS["pkey"][1])
        outcome = self.Matcher.match(recurrence)
        self.assertEqual(outcome.kb_support, 1)
        self.assertIn(entry, [record for record, _similarity in outcome.neighbours])

    def test_an_unmatched_incident_proposes_a_draft_guardrail_for_a_manager(self):
        incident = self.make_incident(
            name="Stock quant check",
            sample_traceback=CHECK_VIOLATION,
            exception_type="psycopg2.errors.CheckViolation",
            module="stock",
            message_template='new row for relation "stock_quant" violates check constraint '
            '"stock_quant_qty_check"\nDETAIL: Failing row contains (<n>, <n>).',
        )
        self.Matcher.apply_match(incident)
        self.assertFalse(incident.guardrail_id)
        wizard = self.wizard(incident, self.sh_approver, solution="Corrected the negative quant\nRe-ran the move")
        self.assertTrue(wizard.propose_guardrail)
        entry = self.Entry.browse(wizard.action_record()["res_id"])
        candidate = entry.guardrail_id
        self.assertEqual(
            (candidate.code, candidate.origin, candidate.state, candidate.error_class),
            ("GR-LRN-001", "learned", "draft", "UNKNOWN"),
        )
        self.assertEqual(candidate.signals["exception_types"], ["CheckViolation"])
        self.assertEqual(candidate.fix_steps, "Corrected the negative quant\nRe-ran the move")
        self.assertIn("GR-LRN-001", incident.message_ids[0].body)
        # A draft matches nothing; the manager picks a class, then activates it.
        self.assertFalse(self.Matcher.match(incident).guardrail)
        with self.assertRaises(AccessError):
            candidate.with_user(self.sh_approver).write({"state": "active"})
        with self.assertRaises(ValidationError):
            candidate.with_user(self.sh_manager).action_activate()
            self.env.flush_all()
        candidate.with_user(self.sh_manager).write({"error_class": "VALIDATION_ERROR", "state": "active"})
        recurrence = self.make_incident(name="Again", sample_traceback=CHECK_VIOLATION.replace("(12, 4)", "(7, 1)"))
        outcome = self.Matcher.match(recurrence)
        self.assertEqual(
            (outcome.guardrail, outcome.error_class, outcome.signal), (candidate, "VALIDATION_ERROR", "rules")
        )
        # The next candidate takes the next code.
        second = self.make_incident(name="Other", sample_traceback="RuntimeError: something else entirely")
        self.wizard(second, self.sh_manager, solution="Restarted", propose_guardrail=True).action_record()
        self.assertTrue(self.Guardrail.search([("code", "=", "GR-LRN-002"), ("state", "=", "draft")]))

    def test_users_cannot_record_fixes(self):
        incident = self.make_incident(name="Any", sample_traceback=FAULTS["smtp"][0])
        with self.assertRaises(AccessError):
            self.env["self_healing.record.fix"].with_user(self.sh_user).create(
                {"incident_id": incident.id, "title": "t", "problem": "p", "solution": "s"}
            )
