"""Combining the rules' answer with the nearest neighbours (engine/matching.py)."""

import pytest

from engine.library.error_classes import UNKNOWN
from engine.match import classifier, matching
from engine.match.classifier import Classification
from engine.match.matching import GUARDRAIL, KNOWLEDGE, MatchSettings, Neighbour, combine
from engine.similar import vote

PKEY = (
    'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "sale_order_pkey"\n'
    "DETAIL:  Key (id)=(1187) already exists."
)
GUARDRAIL_CLASSES = {"GR-SEQ-001": "SEQ_PKEY_DRIFT", "GR-SEQ-002": "SEQ_PKEY_DRIFT", "GR-COL-001": "UNDEFINED_COLUMN"}
ABSTAINED = Classification(UNKNOWN, None, 0.0, ("no guardrail matched",))


def entry(id, similarity, error_class=None, guardrail=None, inferred=None, solved=True, confirmed=True):
    return Neighbour(
        KNOWLEDGE,
        id,
        similarity,
        f"entry {id}",
        guardrail=guardrail,
        error_class=error_class,
        inferred_class=inferred,
        solved=solved,
        confirmed=confirmed,
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


def test_when_rules_abstain_the_nearest_solved_cases_vote_with_a_calibrated_probability():
    neighbours = [
        entry(1, 0.92, error_class="SEQ_PKEY_DRIFT", guardrail="GR-SEQ-002"),
        rule(2, 0.45, "GR-SEQ-001"),
        entry(3, 0.65, error_class="UNDEFINED_COLUMN", guardrail="GR-COL-001"),
        rule(4, 0.3, "GR-COL-001"),
    ]
    result = combine(ABSTAINED, neighbours, guardrail_classes=GUARDRAIL_CLASSES)
    assert (result.guardrail, result.error_class, result.signal) == ("GR-SEQ-002", "SEQ_PKEY_DRIFT", "neighbours")
    the_vote = vote.vote([vote.Voter(1, "SEQ_PKEY_DRIFT", 0.92), vote.Voter(3, "UNDEFINED_COLUMN", 0.65)])
    assert result.probability == pytest.approx(the_vote.probability) and the_vote.probability > 0.9
    assert result.score == MatchSettings().suggestion_cap, "an answer from neighbours never reaches a fix"
    assert result.params == {}
    evidence = result.evidence[1]
    assert evidence["signal"] == "neighbours" and [v["id"] for v in evidence["voters"]] == [1]
    # Loose, split neighbours make a weak vote: the guardrail texts' suggestion is used instead.
    weak = [entry(1, 0.3, error_class="SEQ_PKEY_DRIFT"), entry(3, 0.29, error_class="UNDEFINED_COLUMN")]
    result = combine(ABSTAINED, [*weak, rule(2, 0.45, "GR-SEQ-001")], guardrail_classes=GUARDRAIL_CLASSES)
    assert (result.guardrail, result.signal) == ("GR-SEQ-001", "vector")
    assert result.score == pytest.approx(0.5 * 0.45, abs=1e-4)
    assert [item["signal"] for item in result.evidence][:3] == ["rules_abstained", "vote_too_weak", "vector"]


def test_no_suggestion_from_split_votes_unknown_or_inactive_guardrails():
    split = [rule(1, 0.5, "GR-SEQ-001"), rule(2, 0.48, "GR-COL-001")]
    assert combine(ABSTAINED, split, guardrail_classes=GUARDRAIL_CLASSES).guardrail is None
    # A guardrail not offered in guardrail_classes (draft, retired) is never named; the class still is.
    inactive = [entry(1, 0.99, error_class="SEQ_PKEY_DRIFT", guardrail="GR-LRN-001")]
    result = combine(ABSTAINED, inactive, guardrail_classes=GUARDRAIL_CLASSES)
    assert (result.guardrail, result.error_class, result.score, result.signal) == (
        None,
        "SEQ_PKEY_DRIFT",
        0.5,
        "neighbours",
    )
    assert result.kb_support == 1
    # Nothing labelled: no answer; unlabelled close solved cases still count.
    assert combine(ABSTAINED, [entry(3, 0.85)]).kb_support == 1
    assert combine(ABSTAINED, [entry(3, 0.85)]).error_class == UNKNOWN


def test_only_confirmed_cases_and_cases_solved_with_the_guardrail_count_as_support():
    answer = classifier.classify(PKEY)
    neighbours = [
        entry(1, 0.9, error_class="SEQ_PKEY_DRIFT"),
        entry(2, 0.85, error_class="SEQ_PKEY_DRIFT", confirmed=False),  # the source never confirmed the fix
        entry(3, 0.8, error_class="SEQ_PKEY_DRIFT", solved=False),
    ]
    result = combine(answer, neighbours, guardrail_cases={"GR-SEQ-001": (1, 7, 8), "GR-COL-001": (9,)})
    assert result.supporting == (1, 7, 8) and result.kb_support == 3


def test_a_sure_vote_for_another_class_lowers_the_rules_score():
    answer = classifier.classify(PKEY)
    others = [entry(i, 0.85, error_class="UNIQUE_VIOLATION_OTHER") for i in (1, 2, 3)]  # none a near-duplicate
    result = combine(answer, others)
    assert result.guardrail == "GR-SEQ-001"
    assert result.score == pytest.approx(answer.confidence * 0.9, abs=1e-4)
    assert result.evidence[1]["signal"] == "conflict" and result.evidence[1]["vote"]["error_class"] == (
        "UNIQUE_VIOLATION_OTHER"
    )


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
            "confirmed": True,
        }
    ]
    assert matching.MatchResult(**{**data, "neighbours": (), "evidence": ()}).matched
