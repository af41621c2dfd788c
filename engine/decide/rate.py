"""Whether a fault is coming faster than it used to: spikes and rate conditions, as arithmetic."""

SPIKE_WINDOW_MINUTES = 60
SPIKE_BASELINE_MINUTES = 24 * 60
# A spike is at least this many occurrences in the window ...
SPIKE_MIN_OCCURRENCES = 10
# ... and this many times what the baseline period predicts for a window of that length.
SPIKE_FACTOR = 5


def expected(baseline_count, window_minutes=SPIKE_WINDOW_MINUTES, baseline_minutes=SPIKE_BASELINE_MINUTES):
    """How many occurrences the baseline rate predicts for one window."""
    return baseline_count * window_minutes / baseline_minutes


def is_spike(
    recent,
    baseline_count,
    *,
    window_minutes=SPIKE_WINDOW_MINUTES,
    baseline_minutes=SPIKE_BASELINE_MINUTES,
    min_count=SPIKE_MIN_OCCURRENCES,
    factor=SPIKE_FACTOR,
):
    """``recent`` occurrences in the last window against ``baseline_count`` in the period before it."""
    if recent < max(1, min_count):
        return False
    return recent >= factor * expected(baseline_count, window_minutes, baseline_minutes)


def rate_reached(count_in_window, threshold):
    """A snooze "until N occurrences per window" condition."""
    return threshold > 0 and count_in_window >= threshold
