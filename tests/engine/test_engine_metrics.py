from datetime import datetime, timedelta

from engine.learn import metrics

NOW = datetime(2026, 11, 25, 12, 0)


def incident(id_, state, days_ago, healed_after_min=None, confidence=0.0):
    first_seen = NOW - timedelta(days=days_ago)
    return {
        "id": id_,
        "state": state,
        "first_seen": first_seen,
        "last_seen": first_seen,
        "healed_at": first_seen + timedelta(minutes=healed_after_min) if healed_after_min is not None else None,
        "confidence": confidence,
    }


def attempt(incident_id, mode, state, days_ago, guardrail="GR-SEQ-001"):
    return {
        "incident_id": incident_id,
        "mode": mode,
        "state": state,
        "guardrail": guardrail,
        "created": NOW - timedelta(days=days_ago),
        "dry_run": False,
    }


def test_window_figures_match_the_design_definitions():
    incidents = [
        incident(1, "healed", 1, healed_after_min=2, confidence=0.95),
        incident(2, "healed", 2, healed_after_min=4, confidence=0.9),
        incident(3, "awaiting_approval", 3, confidence=0.7),
        incident(4, "failed", 4, confidence=0.85),
        incident(5, "new", 20),  # outside the 7-day window
    ]
    attempts = [
        attempt(1, "auto", "validated", 1),
        attempt(2, "auto", "validated", 2),
        attempt(3, "manual", "proposed", 3),
        attempt(4, "auto", "failed", 4, guardrail="GR-VIEW-001"),
    ]
    summary = metrics.summarize(incidents, attempts, knowledge_created=[NOW, NOW - timedelta(days=40)], now=NOW)
    current = summary["current"]
    assert current["issues_detected"] == 4
    assert current["auto_fixed"] == 2 and current["auto_fix_rate"] == 0.5
    assert current["human_review"] == 1
    assert (current["fixes_applied"], current["fixes_succeeded"]) == (3, 2)
    assert current["fix_success_rate"] == round(2 / 3, 4)
    assert current["mean_minutes_to_heal"] == 3.0
    assert summary["top_fixed"][0] == {"name": "GR-SEQ-001", "times": 2, "succeeded": 2, "success_rate": 1.0}
    assert summary["top_fixed"][1] == {"name": "GR-VIEW-001", "times": 1, "succeeded": 0, "success_rate": 0.0}
    assert (summary["knowledge_size"], summary["knowledge_added_30d"]) == (2, 1)
    assert summary["previous"]["issues_detected"] == 0


def test_empty_database_gives_zeros_not_errors():
    summary = metrics.summarize([], [], [], now=NOW)
    assert summary["current"]["fix_success_rate"] == 0.0
    assert summary["current"]["mean_minutes_to_heal"] is None
    assert summary["top_fixed"] == []


def test_dry_runs_do_not_count_as_fixes():
    dry = dict(attempt(1, "auto", "validated", 1), dry_run=True)
    figures = metrics.window_figures([incident(1, "new", 1)], [dry], NOW - timedelta(days=7), NOW)
    assert figures["fixes_applied"] == 0


def test_confidence_bins_follow_their_bounds():
    # 0.3 * 10 and 0.7 * 10 round away from their bin in floating point; the bounds decide.
    assert [metrics.confidence_bin(value) for value in (0.0, 0.05, 0.3, 0.6, 0.7, 0.99, 1.0)] == [0, 0, 3, 6, 7, 9, 9]
    rows = [incident(1, "new", 1, confidence=0.3), incident(2, "new", 1, confidence=1.0), incident(3, "new", 1)]
    distribution = metrics.confidence_distribution(rows, NOW - timedelta(days=7))
    assert len(distribution) == 10, "every bin is listed"
    assert {row["low"]: row["count"] for row in distribution if row["count"]} == {0.3: 1, 0.9: 1}


def test_daily_series_counts_each_day_apart():
    incidents = [
        incident(1, "healed", 0, healed_after_min=1, confidence=0.9),
        incident(2, "awaiting_approval", 2),
        incident(3, "new", 10),  # before the 7 days
    ]
    attempts = [attempt(1, "auto", "validated", 0), attempt(2, "manual", "proposed", 2)]
    points = metrics.daily_series(incidents, attempts, NOW, 7)
    assert [point["day"] for point in points][-1] == NOW.date().isoformat()
    assert len(points) == 7
    today, two_days_ago = points[-1], points[-3]
    assert (today["detected"], today["healed"], today["auto_applied"], today["auto_success_rate"]) == (1, 1, 1, 1.0)
    assert (two_days_ago["human_review"], two_days_ago["human_review_rate"]) == (1, 1.0)
    assert points[0]["auto_success_rate"] is None and points[0]["human_review_rate"] is None, "no data, no rate"
    assert sum(point["detected"] for point in points) == 2


def test_days_are_the_users_days():
    # 2026-11-25 12:00 UTC is already the 26th, 01:00, in Auckland (UTC+13 in summer).
    late = {**incident(1, "new", 0), "first_seen": datetime(2026, 11, 25, 11, 30)}
    early = {**incident(2, "new", 0), "first_seen": datetime(2026, 11, 24, 11, 30)}
    utc = metrics.daily_series([late, early], [], NOW, 3)
    auckland = metrics.daily_series([late, early], [], NOW, 3, "Pacific/Auckland")
    assert [(point["day"], point["detected"]) for point in utc] == [
        ("2026-11-23", 0),
        ("2026-11-24", 1),
        ("2026-11-25", 1),
    ]
    assert [(point["day"], point["detected"]) for point in auckland] == [
        ("2026-11-24", 0),
        ("2026-11-25", 1),
        ("2026-11-26", 1),
    ]
    # Each window runs from one local midnight to the next, given in UTC as the database stores it.
    assert [(point["start"], point["end"]) for point in auckland][-1] == (
        datetime(2026, 11, 25, 11, 0),
        datetime(2026, 11, 26, 11, 0),
    )


def test_a_day_the_clocks_change_is_23_or_25_hours_long():
    windows = metrics.day_windows(datetime(2026, 10, 26, 12, 0), 3, "Europe/Paris")
    lengths = {day.isoformat(): (end - start).total_seconds() / 3600 for day, start, end in windows}
    assert lengths == {"2026-10-24": 24, "2026-10-25": 25, "2026-10-26": 24}
    windows = metrics.day_windows(datetime(2026, 3, 30, 12, 0), 2, "Europe/Paris")
    assert [(end - start).total_seconds() / 3600 for _day, start, end in windows] == [23, 24]
    # Each window starts at its day's midnight in Paris, whichever side of the change it is on.
    paris = metrics.zone("Europe/Paris")
    for day, start, _end in windows:
        local = start.replace(tzinfo=metrics.timezone.utc).astimezone(paris)
        assert (local.date(), local.hour, local.minute) == (day, 0, 0)


def test_an_unknown_zone_counts_utc_days():
    for name in (None, "", "Mars/Olympus_Mons", "../../etc/passwd", "Europe"):
        assert metrics.zone(name) is metrics.timezone.utc, name
    assert metrics.day_windows(NOW, 2, "Mars/Olympus_Mons") == metrics.day_windows(NOW, 2)


def test_knowledge_split_by_provenance():
    rows = [(NOW, True), (NOW - timedelta(days=40), True), (NOW, False), (None, False)]
    assert metrics.knowledge_split(rows, NOW) == {"shipped": 2, "learned": 2, "shipped_30d": 1, "learned_30d": 1}
