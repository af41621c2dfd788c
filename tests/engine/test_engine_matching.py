"""Combining the rules' answer with the nearest neighbours (engine/matching.py)."""

import pytest

from engine.library.error_classes import UNKNOWN
from engine.match import classifier, matching
from engine.match.classifier import Classification
from engine.match.matching import GUARDRAIL, KNOWLEDGE, MatchSettings, Neighbour, combine

PKEY = (
    'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "sale_order_pkey"\n'
    "DETAIL:  Key (id)=(1187) already exists."
)
GUARDRAIL_CLASSES = {"GR-SEQ-001": "SEQ_PKEY_DRIFT", "GR-SEQ-002": "SEQ_PKEY_DRIFT", "GR-COL-001": "UNDEFINED_COLUMN"}
ABSTAINED = Classification(UNKNOWN, None, 0.0, ("no guardrail matched",))


def entry(id, similarity, error_class=None, guardrail=None, inferred=None, solved=True):
    return Neighbour(
        KNOWLEDGE,
        id,
        similarity,
        f"entry {id}",
        guardrail=guardrail,
        error_class=error_class,
        inferred_class=inferred,
        solved=solved,
    )


def rule(id, similarity, code):
    return Neighbour(GUARDRAIL, id, similarity, code, guardrail=code, error_class=GUARDRAIL_CLASSES.get(code))


def test_the_rules_decide_and_keep_their_calibrated_confidence():
    answer = classifier.classify(PKEY)
    assert answer.guardrail == "GR-SEQ-001"
    neighbours = [
        entry(1, 0.95, error_class="UNDEFINED_COLUMN", solved=True),  # closer, but outranked below
        entry(2, 0.97, inferred="SEQ_PKEY_DRIFT"),
        entry(3, 0.6, error_class="SEQ_PKEY_DRIFT", guardrail="GR-SEQ-002"),
        entry(4, 0.45, error_class="SEQ_PKEY_DRIFT"),  # under the support threshold
        entry(5, 0.9, error_class="SEQ_PKEY_DRIFT", solved=False),  # no solution: no support
        entry(6, 0.75),  # no class at all, not close enough for an unlabelled case
        rule(7, 0.9, "GR-COL-001"),  # guardrail neighbours never outvote the rules
    ]
    result = combine(answer, neighbours, guardrail_classes=GUARDRAIL_CLASSES)
    assert (result.guardrail, result.error_class, result.signal) == ("GR-SEQ-001", "SEQ_PKEY_DRIFT", "rules")
    assert result.score == answer.confidence
    assert result.params["table"] == "sale_order"
    assert result.kb_support == 2  # entries 2 (inferred) and 3 (same class, other guardrail)
    assert [n.id for n in result.neighbours] == [2, 1, 7, 5, 6]
    assert [item["signal"] for item in result.evidence] == ["rules", "knowledge"]
    assert [n["id"] for n in result.evidence[-1]["supporting"]] == [2, 3]


def test_a_near_duplicate_naming_another_class_lowers_the_score():
    answer = classifier.classify(PKEY)
    conflicting = entry(1, 0.96, error_class="UNIQUE_VIOLATION_OTHER")
    result = combine(answer, [conflicting, entry(2, 0.8, error_class="SEQ_PKEY_DRIFT")])
    assert result.guardrail == "GR-SEQ-001"
    assert result.score == pytest.approx(answer.confidence * 0.9, abs=1e-4)
    assert result.evidence[1]["signal"] == "conflict" and result.evidence[1]["neighbour"]["id"] == 1
    # An agreeing case at least as close cancels the conflict.
    calm = combine(answer, [conflicting, entry(2, 0.97, inferred="SEQ_PKEY_DRIFT")])
    assert calm.score == answer.confidence


def test_when_rules_abstain_close_neighbours_suggest_with_a_capped_score():
    neighbours = [
        entry(1, 0.92, error_class="SEQ_PKEY_DRIFT", guardrail="GR-SEQ-002"),
        rule(2, 0.45, "GR-SEQ-001"),
        entry(3, 0.65, error_class="UNDEFINED_COLUMN", guardrail="GR-COL-001"),  # under link_similarity
        rule(4, 0.3, "GR-COL-001"),  # under guardrail_similarity
    ]
    result = combine(ABSTAINED, neighbours, guardrail_classes=GUARDRAIL_CLASSES)
    assert (result.guardrail, result.error_class, result.signal) == ("GR-SEQ-002", "SEQ_PKEY_DRIFT", "vector")
    assert result.score == pytest.approx(0.5 * 0.92 * 1.0, abs=1e-4)
    assert result.score <= MatchSettings().suggestion_cap
    assert result.params == {}
    vote = result.evidence[1]
    assert vote["signal"] == "vector" and [n["id"] for n in vote["neighbours"]] == [1, 2]


def test_no_suggestion_from_split_votes_unknown_or_inactive_guardrails():
    split = [rule(1, 0.5, "GR-SEQ-001"), rule(2, 0.48, "GR-COL-001")]
    assert combine(ABSTAINED, split, guardrail_classes=GUARDRAIL_CLASSES).guardrail is None
    # A guardrail not offered in guardrail_classes (draft, retired) suggests nothing.
    inactive = [entry(1, 0.99, error_class="SEQ_PKEY_DRIFT", guardrail="GR-LRN-001")]
    result = combine(ABSTAINED, inactive, guardrail_classes=GUARDRAIL_CLASSES)
    assert (result.guardrail, result.error_class, result.score, result.signal) == (None, UNKNOWN, 0.0, "none")
    # Labelled cases support nothing when there is no answer; unlabelled close ones still count.
    assert result.kb_support == 0
    assert combine(ABSTAINED, [entry(3, 0.85)]).kb_support == 1


def test_settings_are_checked_and_overridable():
    settings = MatchSettings.from_overrides({"suggestion_cap": "0.3", "neighbours_kept": "2", "unknown": "1", "x": ""})
    assert settings.suggestion_cap == 0.3 and settings.neighbours_kept == 2
    with pytest.raises(ValueError):
        MatchSettings.from_overrides({"support_similarity": "1.5"})
    neighbours = [rule(1, 0.9, "GR-SEQ-001"), rule(2, 0.8, "GR-SEQ-001"), rule(3, 0.7, "GR-SEQ-001")]
    result = combine(ABSTAINED, neighbours, settings, GUARDRAIL_CLASSES)
    assert result.score == pytest.approx(0.3 * 0.9, abs=1e-4)
    assert len(result.neighbours) == 2


def test_result_json_round_trips():
    result = combine(classifier.classify(PKEY), [entry(1, 0.7, error_class="SEQ_PKEY_DRIFT")])
    data = result.as_json()
    assert data["guardrail"] == "GR-SEQ-001" and data["kb_support"] == 1
    assert data["neighbours"] == [
        {
            "kind": "knowledge",
            "id": 1,
            "title": "entry 1",
            "similarity": 0.7,
            "error_class": "SEQ_PKEY_DRIFT",
            "solved": True,
        }
    ]
    assert matching.MatchResult(**{**data, "neighbours": (), "evidence": ()}).matched
