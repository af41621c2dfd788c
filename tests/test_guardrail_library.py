from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..engine.library import guardrails as library_engine
from .common import SelfHealingCase


@tagged("post_install", "-at_install")
class TestGuardrailLibrary(SelfHealingCase):
    def test_install_loaded_the_whole_shipped_library(self):
        library = library_engine.load_library()
        records = self.Guardrail.search([("origin", "=", "library")])
        self.assertEqual(set(records.mapped("code")), set(library.by_code))
        self.assertGreaterEqual(len(records), 60)
        classes = set(records.mapped("error_class"))
        self.assertEqual(classes, set(library.classes) - {"OTHER"}, "every class but OTHER is covered")
        seq = self.Guardrail.search([("code", "=", "GR-SEQ-001")])
        self.assertEqual((seq.state, seq.autopatch_code, seq.user_modified), ("active", "sequence_resync", False))

    def test_records_round_trip_to_the_shipped_definition(self):
        library = library_engine.load_library()
        for record in self.Guardrail.search([("origin", "=", "library")]):
            rebuilt = library_engine.check_entry(record._to_library_entry())
            shipped = library.by_code[record.code]
            self.assertEqual(rebuilt.signals, shipped.signals, record.code)
            self.assertEqual(rebuilt.fix_steps, shipped.fix_steps, record.code)
            self.assertEqual(rebuilt.autopatch_params, shipped.autopatch_params, record.code)

    def test_update_keeps_local_edits_and_updates_the_rest(self):
        edited = self.Guardrail.search([("code", "=", "GR-SEQ-001")])
        untouched = self.Guardrail.search([("code", "=", "GR-COL-001")])
        edited.root_cause = "Our own wording of the cause."
        self.assertTrue(edited.user_modified)
        # Pretend both shipped definitions changed since the last sync.
        (edited | untouched).with_context(self_healing_library_sync=True).write({"library_hash": "old"})
        untouched.with_context(self_healing_library_sync=True).write({"root_cause": "stale text"})
        result = self.Guardrail._sync_library()
        self.assertEqual(edited.root_cause, "Our own wording of the cause.")
        self.assertTrue(edited.library_update_available)
        self.assertNotEqual(untouched.root_cause, "stale text")
        self.assertGreaterEqual(result["updated"], 1)
        edited.action_apply_library_update()
        self.assertFalse(edited.user_modified)
        self.assertNotEqual(edited.root_cause, "Our own wording of the cause.")

    def test_an_invalid_guardrail_cannot_be_active(self):
        guardrail = self.Guardrail.search([("code", "=", "GR-SEQ-001")])
        with self.assertRaises(ValidationError):
            guardrail.signals_text = '{"all_patterns": "not a list"}'
            self.env.flush_all()

    def test_classifier_follows_the_records(self):
        text = (
            "psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "
            '"res_partner_pkey"\nDETAIL:  Key (id)=(7) already exists.'
        )
        answer = self.Guardrail._classifier().classify(text)
        self.assertEqual(
            (answer.error_class, answer.guardrail, answer.params.get("table")),
            ("SEQ_PKEY_DRIFT", "GR-SEQ-001", "res_partner"),
        )
        self.Guardrail.search([("error_class", "=", "SEQ_PKEY_DRIFT")]).action_retire()
        self.assertNotEqual(self.Guardrail._classifier().classify(text).guardrail, "GR-SEQ-001")
