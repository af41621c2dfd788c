"""The nearest solved cases' vote (engine/similar/vote.py) and its calibration on the shipped cases."""

import pytest

from engine.similar.vote import SHIPPED_CALIBRATION, Voter, calibrated, fit_calibration, vote


def test_a_near_duplicate_outweighs_several_loose_look_alikes():
    voters = [Voter(1, "SEQ_PKEY_DRIFT", 0.95, "GR-SEQ-001")] + [
        Voter(i, "UNIQUE_VIOLATION_OTHER", 0.6) for i in (2, 3, 4, 5)
    ]
    result = vote(voters)
    assert result.error_class == "SEQ_PKEY_DRIFT"
    assert result.share == pytest.approx(0.95**4 / (0.95**4 + 4 * 0.6**4))
    assert result.raw == pytest.approx(result.share * 0.95)
    assert result.guardrail == "GR-SEQ-001"
    assert [voter.id for voter in result.voters] == [1]


def test_only_the_k_closest_vote_and_excluded_ids_never_do():
    voters = [Voter(i, "A", 0.9 - i / 100) for i in range(5)] + [Voter(9, "B", 0.99)]
    result = vote(voters)  # B and the four closest A vote; the fifth A is sixth
    assert (result.error_class, [voter.id for voter in result.voters]) == ("A", [0, 1, 2, 3])
    assert vote(voters, exclude={0, 1, 2, 3}).error_class == "B"
    assert len(vote(voters, k=2, exclude={9}).voters) == 2
    assert vote([]) is None and vote([Voter(1, None, 0.9)]) is None


def test_a_vote_for_other_answers_nothing():
    assert vote([Voter(1, "OTHER", 0.9), Voter(2, "A", 0.3)]) is None
    # OTHER voters still weigh against the winner.
    assert vote([Voter(1, "A", 0.9), Voter(2, "OTHER", 0.85)]).share < 0.6


def test_calibration_is_a_non_decreasing_step_function_short_of_certainty():
    pairs = [(i / 100, i % 3 != 0) for i in range(100)] + [(0.9 + i / 1000, True) for i in range(40)]
    steps = fit_calibration(pairs, min_bin=10)
    probabilities = [probability for _upper, probability in steps]
    assert probabilities == sorted(probabilities)
    assert steps[-1][0] == 1.0 and 0.9 < probabilities[-1] < 1.0
    assert calibrated(0.0, steps) == probabilities[0]
    assert calibrated(0.95, steps) == probabilities[-1]
    assert fit_calibration([]) == ((1.0, 0.0),)
    shipped = [probability for _upper, probability in SHIPPED_CALIBRATION]
    assert shipped == sorted(shipped) and shipped[-1] < 1.0


def test_leave_one_out_on_the_shipped_cases_holds_on_the_held_out_half():
    from bench import bench_real_cases as bench
    from engine.library.knowledge_import import load_shipped

    cases, errors = load_shipped()
    assert not errors
    similarities = bench.similarity_matrix(cases)
    assert (similarities.diagonal() < 0).all(), "a case never votes for itself"
    held = []
    for index, case in enumerate(cases):
        if bench.half(case.row.key) != bench.HELD:
            continue
        neighbours = bench.neighbours_of(index, cases, similarities)
        assert index not in {n.id for n in neighbours}
        result = vote(Voter(n.id, n.error_class, n.similarity) for n in neighbours)
        if result is not None and result.probability >= 0.85:
            held.append(result.error_class == case.row.error_class)
    assert len(held) >= 40, "the sure votes cover a good part of the held-out half"
    assert sum(held) / len(held) >= 0.9, "sure votes are right as often as they claim"
