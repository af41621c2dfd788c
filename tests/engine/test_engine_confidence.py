import itertools
import math
from datetime import datetime, timedelta, timezone

import pytest

from engine.decide.confidence import (
    DEFAULT_WEIGHTS,
    ConfidenceInputs,
    ConfidenceWeights,
    GuardrailStats,
    LearningSettings,
    baseline_confidence,
    learning_update,
    wilson_bounds,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


def score(match=1.0, support=1000, outcomes=(), version=True, module=True, **extra):
    inputs = ConfidenceInputs(
        match_score=match,
        kb_support_count=support,
        outcomes=list(outcomes),
        now=NOW,
        version_match=version,
        module_match=module,
        **extra,
    )
    return baseline_confidence(inputs)


def successes(count, days_ago=0):
    return [(True, NOW - timedelta(days=days_ago))] * count


def failures(count, days_ago=0):
    return [(False, NOW - timedelta(days=days_ago))] * count


def test_wilson_bounds_known_values():
    lower, upper = wilson_bounds(1, 1, z=1.96)
    assert lower == pytest.approx(0.2065, abs=1e-4)
    assert upper == pytest.approx(1.0)
    lower, upper = wilson_bounds(100, 100, z=1.96)
    assert lower == pytest.approx(100 / (100 + 1.96**2))
    lower, upper = wilson_bounds(50, 100, z=1.96)
    assert lower == pytest.approx(0.4038, abs=1e-4)
    assert upper == pytest.approx(0.5962, abs=1e-4)
    assert wilson_bounds(0, 0) == (0.0, 1.0)


def test_one_success_never_reaches_0_9_whatever_the_other_terms():
    matches = (0.0, 0.5, 0.9, 1.0)
    supports = (0, 1, 10, 100, 10**6)
    contexts = (True, False, None, 0.3)
    ages = (0, 1, 400, -5)  # -5: a clock skewed into the future
    priors = (None, 0.0, 0.5, 1.0)
    highest = 0.0
    for match, support, version, module, age, prior in itertools.product(
        matches, supports, contexts, contexts, ages, priors
    ):
        total = score(match, support, successes(1, age), version, module, prior_success_rate=prior).total
        highest = max(highest, total)
        assert total < 0.9
    # The best case is still well short of auto-fix.
    assert highest == pytest.approx(score(outcomes=successes(1), prior_success_rate=1.0).total)
    assert highest < 0.85


def test_many_successes_do_reach_0_9_and_beat_few():
    one = score(outcomes=successes(1))
    ten = score(outcomes=successes(10))
    hundred = score(outcomes=successes(100))
    assert one.total < ten.total < hundred.total
    assert hundred.total > 0.95
    assert hundred.term("success_rate").value > 0.9 > one.term("success_rate").value


def test_recent_failures_outweigh_old_successes():
    old_good_recent_bad = score(outcomes=successes(10, days_ago=365) + failures(10))
    old_bad_recent_good = score(outcomes=failures(10, days_ago=365) + successes(10))
    assert old_bad_recent_good.term("success_rate").value > 0.6 > 0.2 > old_good_recent_bad.term("success_rate").value
    # Same counts without decay would give both the same rate; decay is what separates them.
    assert old_bad_recent_good.total > old_good_recent_bad.total + 0.2


def test_untried_fix_starts_from_the_prior():
    untried = score(outcomes=())
    expected, _ = wilson_bounds(
        DEFAULT_WEIGHTS.prior_success_rate * DEFAULT_WEIGHTS.prior_strength,
        DEFAULT_WEIGHTS.prior_strength,
    )
    assert untried.term("success_rate").value == pytest.approx(expected)
    assert 0.0 < expected < 0.5
    assert untried.term("recency").value == DEFAULT_WEIGHTS.untried_recency
    # A curated guardrail may carry a better prior than a candidate one.
    assert score(prior_success_rate=1.0).total > untried.total > score(prior_success_rate=0.0).total
    # One success moves the fix up from where it started, one failure down.
    assert score(outcomes=successes(1)).total > untried.total > score(outcomes=failures(1)).total


def test_weak_match_caps_the_total():
    perfect_history = successes(1000)
    weak = score(match=0.5, outcomes=perfect_history)
    assert weak.total <= 0.5
    assert weak.weighted_sum > 0.95
    assert weak.total == pytest.approx(0.5 * weak.weighted_sum)
    assert score(match=0.0, outcomes=perfect_history).total == 0.0


def test_support_saturates():
    values = [score(support=n).term("support").value for n in (0, 1, 10, 30, 1000)]
    assert values[0] == 0.0
    assert values == sorted(values)
    assert values[2] == pytest.approx(1 - math.exp(-1))
    assert values[4] == pytest.approx(1.0)


def test_recency_follows_the_last_success():
    fresh = score(outcomes=successes(5))
    month_old = score(outcomes=successes(5, days_ago=30))
    never_worked = score(outcomes=failures(5))
    assert fresh.term("recency").value == pytest.approx(1.0)
    assert month_old.term("recency").value == pytest.approx(0.5)
    assert never_worked.term("recency").value == 0.0


def test_context_term():
    assert score(version=True, module=True).term("context").value == 1.0
    assert score(version=False, module=False).term("context").value == 0.0
    assert score(version=None, module=True).term("context").value == 0.75
    assert score(version=0.4, module=0.6).term("context").value == pytest.approx(0.5)


def test_breakdown_is_explained_and_serialisable():
    breakdown = score(match=0.9, support=12, outcomes=successes(3) + failures(1, days_ago=10))
    data = breakdown.as_dict()
    assert set(data["terms"]) == {"support", "success_rate", "recency", "context"}
    assert sum(term["weight"] for term in data["terms"].values()) == pytest.approx(1.0)
    assert data["total"] == pytest.approx(0.9 * sum(term["contribution"] for term in data["terms"].values()), abs=1e-5)
    text = breakdown.explain()
    assert text.startswith(f"Confidence {breakdown.total:.3f} = match 0.900")
    assert "3/4 succeeded" in text
    assert "12 similar solved case(s)" in text
    assert len(text.splitlines()) == 5


def test_naive_datetimes_are_utc():
    naive_now = NOW.replace(tzinfo=None)
    inputs = ConfidenceInputs(
        match_score=1.0,
        kb_support_count=5,
        outcomes=[(True, naive_now - timedelta(days=30))],
        now=naive_now,
    )
    assert baseline_confidence(inputs).total == pytest.approx(
        score(support=5, outcomes=successes(1, days_ago=30), version=None, module=None).total
    )


def test_bad_weights_are_refused():
    with pytest.raises(ValueError):
        ConfidenceWeights(support=0.5)  # no longer sums to 1
    with pytest.raises(ValueError):
        ConfidenceWeights(wilson_z=0)
    custom = ConfidenceWeights(support=0.25, success_rate=0.45, recency=0.2, context=0.1)
    inputs = ConfidenceInputs(match_score=1.0, kb_support_count=0, now=NOW)
    assert baseline_confidence(inputs, custom).term("success_rate").weight == 0.45


def test_learning_success_and_failure():
    stats, flags = learning_update(GuardrailStats(), True, when=NOW)
    assert (stats.successes, stats.failures, stats.consecutive_failures) == (1, 0, 0)
    assert stats.last_outcome_at == NOW
    assert flags == ()
    stats, flags = learning_update(stats, False)
    assert (stats.successes, stats.failures, stats.consecutive_failures) == (1, 1, 1)
    assert flags == ("review",)
    stats, flags = learning_update(stats, True)
    assert stats.consecutive_failures == 0
    assert flags == ()


def test_learning_retires_a_fix_that_keeps_failing():
    stats = GuardrailStats()
    seen = []
    for _attempt in range(5):
        stats, flags = learning_update(stats, False)
        seen.append(flags)
    assert seen[:4] == [("review",)] * 4  # too few attempts to judge
    assert seen[4] == ("review", "retire")
    assert stats.bounds()[1] < 0.5


def test_learning_keeps_a_good_fix_after_a_bad_streak():
    stats = GuardrailStats(successes=20)
    for _attempt in range(4):
        stats, flags = learning_update(stats, False)
    assert flags == ("review",)
    assert stats.consecutive_failures == 4


def test_learning_settings_and_dict_stats():
    strict = LearningSettings(min_attempts_to_retire=3, retire_below=0.6)
    stats, flags = learning_update({"successes": 0, "failures": 2, "consecutive_failures": 2}, False, settings=strict)
    assert stats.attempts == 3
    assert "retire" in flags
    lenient = LearningSettings(review_after_consecutive_failures=3)
    stats, flags = learning_update({"failures": 1, "consecutive_failures": 1}, False, settings=lenient)
    assert flags == ()
    stats, flags = learning_update(stats, False, settings=lenient)
    assert flags == ("review",)
