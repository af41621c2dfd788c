"""The stress command's figures: its schedule and the interval it judges the latency goal by."""

import random
import sys
from math import comb
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bin"))

from selfhealing_cli import cmd_stress  # noqa: E402


def test_requests_are_spread_over_the_round():
    assert cmd_stress.schedule(2.0, 4) == [0.0, 0.5, 1.0, 1.5]
    assert cmd_stress.schedule(2.0, 4, offset=0.5) == [0.25, 0.75, 1.25, 1.75]
    assert cmd_stress.schedule(2.0, 0) == []


def test_twelve_rounds_give_the_third_values_from_either_end():
    # P(3 <= B <= 9) for B ~ binomial(12, 1/2) is 0.961; from the fourth it would be 0.854.
    low, high, coverage = cmd_stress.median_interval([1.0 + i / 100 for i in range(12)][::-1])
    assert (low, high, coverage) == (1.02, 1.09, round(1 - 2 * sum(comb(12, i) for i in range(3)) / 4096, 4))


def test_too_few_rounds_cannot_reach_the_confidence():
    low, high, coverage = cmd_stress.median_interval([0.9, 1.1, 1.0, 1.05])
    assert (low, high) == (0.9, 1.1)
    assert coverage == 0.875


def test_the_interval_holds_the_median_as_often_as_it_says():
    # Ratios drawn around a true median of 1.0: the interval misses it at most 5 % of the time.
    rng = random.Random(7)
    misses = 0
    trials = 2000
    for _ in range(trials):
        ratios = [rng.lognormvariate(0.0, 0.05) for _ in range(16)]
        low, high, coverage = cmd_stress.median_interval(ratios)
        assert coverage >= 0.95
        misses += not low <= 1.0 <= high
    assert misses / trials <= 0.05


def test_the_goal_is_judged_by_the_whole_interval():
    steady = {"with": [{"p50_ms": 10.1}] * 16, "without": [{"p50_ms": 10.0}] * 16}
    assert cmd_stress._ratios(steady)["goal_shown"] is True
    slower = {"with": [{"p50_ms": 10.5}] * 16, "without": [{"p50_ms": 10.0}] * 16}
    assert cmd_stress._ratios(slower)["goal_shown"] is False
    few = {"with": [{"p50_ms": 10.0}] * 4, "without": [{"p50_ms": 10.0}] * 4}
    assert cmd_stress._ratios(few)["goal_shown"] is None


def test_no_values_is_an_error():
    with pytest.raises(ValueError):
        cmd_stress.median_interval([])
