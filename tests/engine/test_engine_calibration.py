import pytest

from engine.learn import calibration


def test_perfectly_calibrated_scores_have_no_error():
    pairs = [(0.9, True)] * 9 + [(0.9, False)] + [(0.25, True)] + [(0.25, False)] * 3
    assert calibration.expected_calibration_error(pairs) == pytest.approx(0.0)
    rows = calibration.reliability_table(pairs)
    assert [(row.low, row.count) for row in rows] == [(0.2, 4), (0.9, 10)]
    assert rows[1].healed_rate == pytest.approx(0.9)


def test_overconfidence_shows_as_a_negative_gap():
    pairs = [(0.95, True)] * 5 + [(0.95, False)] * 5
    (row,) = calibration.reliability_table(pairs)
    assert row.gap == pytest.approx(-0.45)
    assert calibration.expected_calibration_error(pairs) == pytest.approx(0.45)


def test_edges_and_bad_input():
    assert calibration.expected_calibration_error([]) is None
    rows = calibration.reliability_table([(1.0, True), (0.0, False), ("x", True), (float("nan"), True), (7, True)])
    assert [(row.low, row.count) for row in rows] == [(0.0, 1), (0.9, 2)], "1.0 and clamped 7 land in the top bin"
    with pytest.raises(ValueError):
        calibration.reliability_table([], bins=0)
    assert "healed" in calibration.format_table(rows)
