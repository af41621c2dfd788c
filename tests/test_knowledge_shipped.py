"""The shipped real solved cases: loaded at install, kept when edited, found and counted by the matcher."""

from odoo.tests import tagged

from ..engine.library import knowledge_import
from .knowledge_common import KnowledgeCase

# A shipped case whose reporter pasted a full Odoo 12 log, solved with GR-UNQ-001 (the picking name sequence).
PICKING_CASE = "github:odoo/odoo#31689"


@tagged("post_install", "-at_install")
class TestKnowledgeShipped(KnowledgeCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.shipped_entries.write({"active": True})
        cls.cases, cls.errors = knowledge_import.load_shipped()
        cls.by_key = {case.row.key: case for case in cls.cases}

    def shipped(self, key):
        return self.Entry.search([("key", "=", key)])

    def test_install_loaded_every_shipped_case_with_its_provenance_and_queued_its_vector(self):
        self.assertFalse(self.errors, "every shipped case passes the import checks")
        self.assertEqual(set(self.shipped_entries.mapped("key")), set(self.by_key))
        entry = self.shipped(PICKING_CASE)
        case = self.by_key[PICKING_CASE]
        self.assertEqual(
            (entry.shipped_file, entry.url, entry.source, entry.error_class, entry.guardrail_id.code),
            (case.file, "https://github.com/odoo/odoo/issues/31689", "github", "UNIQUE_VIOLATION_OTHER", "GR-UNQ-001"),
        )
        self.assertEqual((entry.confirmed_by, entry.confirmed, entry.user_modified), ("maintainer", True, False))
        self.assertEqual(entry.odoo_versions, "12.0")
        self.assertIn("stock_picking_name_uniq", entry.problem)
        # The install embeds nothing itself: the job was woken for the vectors.
        cron = self.env.ref("self_healing.ir_cron_knowledge_embed")
        self.assertTrue(self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]))
        form = self.Entry.get_view(view_type="form")["arch"]
        for name in ("shipped_file", "user_modified", "confirmed_by", "action_apply_shipped_update"):
            self.assertIn(name, form)

    def test_an_update_keeps_local_edits_flags_them_and_refreshes_the_rest(self):
        edited = self.shipped(PICKING_CASE)
        edited.with_user(self.sh_manager).solution = "Our own procedure: raise the POS picking sequence."
        self.assertTrue(edited.user_modified, "a manager's edit is a local edit")
        untouched = self.shipped_entries.filtered(lambda entry: entry.key != PICKING_CASE)[:1]
        original = self.by_key[untouched.key].row.problem
        # A newer addon version shipping other texts: the stored fingerprints no longer match.
        self.env.cr.execute(
            "UPDATE self_healing_knowledge_entry SET shipped_hash = 'older', problem = 'stale text' WHERE id IN %s",
            (tuple((edited | untouched).ids),),
        )
        self.Entry.invalidate_model()
        counts = self.Entry._sync_shipped_cases()
        self.assertEqual((counts["created"], counts["updated"], counts["kept"]), (0, 1, 1))
        self.assertEqual(untouched.problem, original)
        self.assertEqual(untouched.embedding_state, "todo", "a new text gets a new vector")
        self.assertEqual(edited.solution, "Our own procedure: raise the POS picking sequence.")
        self.assertTrue(edited.shipped_update_available)
        edited.action_apply_shipped_update()
        self.assertEqual(edited.solution, self.by_key[PICKING_CASE].row.solution)
        self.assertFalse(edited.user_modified or edited.shipped_update_available)
        # A case deleted here comes back at the next update; an archived one stays archived.
        archived = self.shipped_entries[-1]
        archived.active = False
        key = self.shipped_entries[-2].key
        self.shipped_entries[-2].unlink()
        self.assertEqual(self.Entry._sync_shipped_cases()["created"], 1)
        self.assertTrue(self.shipped(key))
        self.assertFalse(archived.active)

    def test_an_incident_from_a_shipped_error_text_shows_its_similar_solved_cases(self):
        self.embed_all()
        case = self.by_key[PICKING_CASE]
        incident = self.make_incident(name="POS picking", sample_traceback=case.row.problem)
        outcome = self.Matcher.apply_match(incident)[incident.id]
        self.assertEqual((outcome.guardrail.code, outcome.signal), ("GR-UNQ-001", "rules"))
        entry = self.shipped(PICKING_CASE)
        self.assertIn(entry, incident.similar_case_ids)
        linked = self.Entry.search(
            [("guardrail_id.code", "=", "GR-UNQ-001"), ("confirmed", "=", True), ("solution", "!=", False)]
        )
        self.assertGreaterEqual(outcome.kb_support, len(linked), "every confirmed case solved with the fix counts")
        self.assertEqual(incident.similar_case_count, outcome.kb_support)
        self.assertIn(f"{outcome.kb_support} similar case(s) solved with this fix", incident.similar_case_summary)
        self.assertTrue(set(incident.similar_case_ids.mapped("url")) - {False}, "the cases keep their links")
        page = self.Incident.get_view(view_type="form")["arch"]
        self.assertIn("similar_case_ids", page)

    def test_unconfirmed_cases_do_not_count_as_support(self):
        self.shipped_entries.write({"active": False})
        text = self.by_key[PICKING_CASE].row.problem
        self.make_entry("unconfirmed", text, confirmed_by=False, error_class="UNIQUE_VIOLATION_OTHER")
        confirmed = self.make_entry("confirmed", text + "\n", error_class="UNIQUE_VIOLATION_OTHER")
        self.embed_all()
        incident = self.make_incident(name="POS picking", sample_traceback=text)
        outcome = self.Matcher.match(incident)
        self.assertEqual((outcome.kb_support, outcome.supporting), (1, [confirmed.id]))

    def test_when_the_rules_abstain_the_shipped_cases_vote(self):
        self.embed_all()
        # A shipped report in the reporter's words: no exception line, no quoted constraint.
        text = self.by_key["github:OCA/sale-workflow#898"].row.problem
        self.assertFalse(self.Guardrail._classifier().classify(text).answered)
        incident = self.make_incident(name="ir_model_data pkey", sample_traceback=text)
        outcome = self.Matcher.apply_match(incident)[incident.id]
        self.assertEqual(
            (outcome.signal, outcome.error_class, outcome.guardrail.code),
            ("neighbours", "SEQ_PKEY_DRIFT", "GR-SEQ-001"),
        )
        self.assertGreaterEqual(outcome.probability, 0.85, "the vote's calibrated probability")
        self.assertEqual(outcome.match_score, 0.5, "an answer from neighbours never reaches a fix")
        vote = next(item for item in outcome.evidence if item["signal"] == "neighbours")
        self.assertEqual(vote["voters"][0]["id"], self.shipped("github:OCA/sale-workflow#898").id)
        self.assertEqual(incident.state, "matched")
