"""The matcher on real incidents: rules first, neighbours second, evidence stored."""

import os
from unittest.mock import patch

from odoo.tests import tagged

from ..engine.library.error_classes import UNKNOWN
from .knowledge_common import FAULTS, FakeOpenAIEmbeddings, KnowledgeCase

# Look-alike pairs: (text, guardrail code, class) each, from the faults' Odoo 18 wording.
LOOK_ALIKES = [
    (FAULTS["pkey"][1], "GR-SEQ-001", "SEQ_PKEY_DRIFT"),
    (FAULTS["unique"][1], "GR-UNQ-001", "UNIQUE_VIOLATION_OTHER"),
    (FAULTS["column"][1], "GR-COL-001", "UNDEFINED_COLUMN"),
    (FAULTS["table"][1], "GR-TBL-001", "UNDEFINED_TABLE"),
    (FAULTS["singleton"][1], "GR-SGL-001", "EXPECTED_SINGLETON"),
    (FAULTS["missing"][1], "GR-MIS-001", "MISSING_RECORD"),
    ('Field "x_customer_segment" does not exist in model "res.partner"', "GR-VIEW-001", "VIEW_FIELD_MISSING"),
    (
        "ValueError: Invalid field crm.lead.x_lead_score in leaf ('x_lead_score', '>=', 60)",
        "GR-DOM-001",
        "INVALID_FIELD_DOMAIN",
    ),
    (
        "odoo.exceptions.UserError: Please set a delivery address on the customer before confirming the order.",
        "GR-VAL-002",
        "VALIDATION_ERROR",
    ),
]
# Said the way a person writes it in a ticket: no exception, no Odoo message the rules know.
PARAPHRASE_KNOWN = (
    "Partner import stops after the restore of last night: the id counter of contacts lags "
    "behind the largest id, new contacts clash with old ones"
)
PARAPHRASE_INCIDENT = (
    "Partner import stops after the restore of yesterday: the id counter of contacts lags "
    "behind the largest id, new contacts clash with existing ones"
)


@tagged("post_install", "-at_install")
class TestMatcher(KnowledgeCase):
    def incident(self, text, **values):
        return self.make_incident(name=text.splitlines()[0][:80], sample_traceback=text, **values)

    def test_look_alikes_get_their_own_guardrail_and_the_incident_moves_to_matched(self):
        self.embed_all()
        for text, code, error_class in LOOK_ALIKES:
            incident = self.incident(text)
            outcome = self.Matcher.apply_match(incident)[incident.id]
            self.assertEqual(
                (outcome.guardrail.code, outcome.error_class, outcome.signal), (code, error_class, "rules"), text
            )
            self.assertEqual(
                (incident.guardrail_id.code, incident.error_class, incident.state), (code, error_class, "matched"), text
            )
            self.assertGreaterEqual(incident.match_score, 0.8, text)
            self.assertEqual(incident.match_evidence["evidence"][0]["signal"], "rules")
        pkey = self.incident(FAULTS["pkey"][0])
        self.assertEqual(self.Matcher.match(pkey).params["table"], "res_partner")
        as_user = self.Matcher.with_user(self.sh_user).match(pkey.with_user(self.sh_user))
        self.assertEqual(
            (as_user.guardrail.code, as_user.signal),
            ("GR-SEQ-001", "rules"),
            "a Self-Healing user may run the matcher (read access is enough)",
        )
        self.assertEqual(pkey.state, "new", "match() alone writes nothing")

    def test_similar_solved_cases_count_as_support_and_are_kept_as_evidence(self):
        solved = [
            self.make_entry("m-pkey-1", FAULTS["pkey"][0], solution="setval the sequence to max(id)"),
            self.make_entry("m-pkey-2", FAULTS["pkey"][1].replace("90211", "7"), error_class="SEQ_PKEY_DRIFT"),
            self.make_entry("m-pkey-3", FAULTS["pkey"][0].replace("res_partner", "account_move")),
        ]
        unsolved = self.make_entry("m-pkey-4", FAULTS["pkey"][0].replace("1187", "3"), solution=False)
        other_class = self.make_entry("m-unique", FAULTS["unique"][0], error_class="UNIQUE_VIOLATION_OTHER")
        self.embed_all()
        incident = self.incident(FAULTS["pkey"][1])
        outcome = self.Matcher.apply_match(incident)[incident.id]
        self.assertEqual(outcome.guardrail.code, "GR-SEQ-001")
        self.assertEqual(outcome.kb_support, 3, "three solved pkey cases; the unsolved and the unique one do not count")
        neighbours = [record for record, _similarity in outcome.neighbours]
        self.assertEqual(set(neighbours[:4]), set(solved) | {unsolved})
        self.assertIn(other_class, neighbours)
        evidence = incident.match_evidence
        self.assertEqual(evidence["kb_support"], 3)
        self.assertEqual(evidence["provider"], "offline/feature-hash-v1/384")
        knowledge = next(item for item in evidence["evidence"] if item["signal"] == "knowledge")
        self.assertEqual({item["id"] for item in knowledge["supporting"]}, {entry.id for entry in solved})
        self.assertTrue(all(0 < item["similarity"] <= 1 for item in evidence["neighbours"]))

    def test_when_the_rules_abstain_the_nearest_solved_case_votes_its_guardrail_with_a_low_score(self):
        seq = self.Guardrail.search([("code", "=", "GR-SEQ-001")])
        self.make_entry("m-paraphrase", PARAPHRASE_KNOWN, guardrail_id=seq.id)
        self.embed_all()
        self.assertFalse(self.Guardrail._classifier().classify(PARAPHRASE_INCIDENT).answered)
        incident = self.incident(PARAPHRASE_INCIDENT)
        outcome = self.Matcher.apply_match(incident)[incident.id]
        self.assertEqual(
            (outcome.guardrail, outcome.error_class, outcome.signal), (seq, "SEQ_PKEY_DRIFT", "neighbours")
        )
        self.assertGreaterEqual(outcome.probability, 0.85, "a close, unanimous vote is a likely answer")
        self.assertLessEqual(outcome.match_score, 0.5, "a similarity-only answer never reaches a fix")
        self.assertEqual(outcome.params, {})
        self.assertEqual((incident.state, incident.guardrail_id), ("matched", seq))
        # A retired guardrail is never suggested: the class still is.
        seq.action_retire()
        again = self.Matcher.match(incident)
        self.assertEqual((again.guardrail.id, again.error_class, again.signal), (False, "SEQ_PKEY_DRIFT", "neighbours"))
        # Without the vote, the linked case suggests its guardrail by similarity alone.
        seq.action_activate()
        self.set_param("match_vote_min_probability", "1")
        without_vote = self.Matcher.match(incident)
        self.assertEqual((without_vote.guardrail, without_vote.signal), (seq, "vector"))
        self.assertGreater(without_vote.match_score, 0.3)

    def test_an_unknown_fault_stays_new_and_unknown(self):
        self.embed_all()
        text = "RuntimeError: the flux capacitor of warehouse 3 overheated"
        incident = self.incident(text, exception_type="RuntimeError")
        outcome = self.Matcher.apply_match(incident)[incident.id]
        self.assertEqual((outcome.guardrail.id, outcome.signal), (False, "none"))
        self.assertEqual((incident.state, incident.error_class, incident.match_score), ("new", UNKNOWN, 0.0))
        self.assertEqual(incident.match_evidence["evidence"][0]["signal"], "rules_abstained")

    def test_without_a_traceback_the_type_and_template_are_matched(self):
        incident = self.make_incident(
            name="Missing column",
            exception_type="psycopg2.errors.UndefinedColumn",
            message_template="column res_partner.x_tier does not exist",
        )
        self.assertEqual(self.Matcher.match(incident).guardrail.code, "GR-COL-001")

    def test_rules_still_match_when_the_embedding_service_fails(self):
        clean_env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
        with FakeOpenAIEmbeddings() as server, patch.dict(os.environ, clean_env, clear=True):
            self.set_param("embedding_base_url", server.base_url)
            self.set_param("openai_embedding_key", "revoked-key")
            self.set_param("embedding_provider", "openai")
            incident = self.incident(FAULTS["table"][0])
            outcome = self.Matcher.apply_match(incident)[incident.id]
        self.assertEqual((outcome.guardrail.code, outcome.kb_support), ("GR-TBL-001", 0))
        self.assertEqual(incident.match_evidence["evidence"][0]["signal"], "vector_unavailable")
        self.assertIn("Incorrect API key", incident.match_evidence["evidence"][0]["detail"])

    def test_thresholds_can_be_tuned_by_system_parameters(self):
        seq = self.Guardrail.search([("code", "=", "GR-SEQ-001")])
        self.make_entry("m-paraphrase", PARAPHRASE_KNOWN, guardrail_id=seq.id)
        self.embed_all()
        incident = self.incident(PARAPHRASE_INCIDENT)
        self.set_param("match_link_similarity", "0.999")
        self.set_param("match_vote_min_probability", "1")
        self.assertFalse(self.Matcher.match(incident).guardrail)
        self.set_param("match_link_similarity", "0.7")
        self.set_param("match_suggestion_cap", "0.2")
        self.assertLessEqual(self.Matcher.match(incident).match_score, 0.2)
