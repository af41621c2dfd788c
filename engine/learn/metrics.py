"""The dashboard's figures, computed from plain rows.

The original design's dashboard reports, over a window of days: issues
detected, how many were auto-fixed and how many needed a human, the fix
success rate, the mean time from detection to healed, the top auto-fixed
faults, and how the knowledge base and confidence grow. Rows come in as
dicts so this stays testable without a database.
"""

from collections import defaultdict
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .calibration import DEFAULT_BINS

APPLIED_OUTCOMES = {"validated": True, "failed": False, "rolled_back": False}
HUMAN_STATES = {"awaiting_approval", "escalated"}


def _ratio(part, whole):
    return round(part / whole, 4) if whole else 0.0


def _in_window(moment, start, end):
    """``end=None`` leaves the window open: the current one ends now, and
    timestamps are stored to the second, so "now" itself must count."""
    return moment is not None and start <= moment and (end is None or moment < end)


def window_figures(incidents, attempts, start, end):
    """Figures for incidents seen and attempts made in ``[start, end)``."""
    seen = [row for row in incidents if _in_window(row["last_seen"], start, end)]
    seen_ids = {row["id"] for row in seen}
    window_attempts = [row for row in attempts if _in_window(row["created"], start, end)]
    auto_fixed_ids = {
        row["incident_id"] for row in window_attempts if row["mode"] == "auto" and row["state"] == "validated"
    }
    human_ids = {row["id"] for row in seen if row["state"] in HUMAN_STATES}
    human_ids |= {
        row["incident_id"]
        for row in window_attempts
        if row["mode"] in ("approved", "manual") or row["state"] in ("proposed", "rejected")
    }
    human_ids -= auto_fixed_ids
    outcomes = [
        APPLIED_OUTCOMES[row["state"]]
        for row in window_attempts
        if row["state"] in APPLIED_OUTCOMES and not row.get("dry_run")
    ]
    repair_minutes = [
        (row["healed_at"] - row["first_seen"]).total_seconds() / 60.0
        for row in seen
        if row["state"] == "healed" and row.get("healed_at") and row["healed_at"] >= row["first_seen"]
    ]
    confidences = [row["confidence"] for row in seen if row.get("confidence")]
    return {
        "issues_detected": len(seen),
        "auto_fixed": len(auto_fixed_ids & seen_ids),
        "auto_fix_rate": _ratio(len(auto_fixed_ids & seen_ids), len(seen)),
        "human_review": len(human_ids & seen_ids),
        "human_review_rate": _ratio(len(human_ids & seen_ids), len(seen)),
        "fixes_applied": len(outcomes),
        "fixes_succeeded": sum(outcomes),
        "fix_success_rate": _ratio(sum(outcomes), len(outcomes)),
        "mean_minutes_to_heal": round(sum(repair_minutes) / len(repair_minutes), 2) if repair_minutes else None,
        "healed_count": len(repair_minutes),
        "avg_confidence": round(sum(confidences) / len(confidences), 4) if confidences else None,
        "confidence_count": len(confidences),
    }


def top_fixed(attempts, start, end, limit=5):
    """Guardrails whose automatic or approved fixes ran most in the window, with their success rate."""
    counts = defaultdict(lambda: [0, 0])
    for row in attempts:
        if not _in_window(row["created"], start, end) or row["state"] not in APPLIED_OUTCOMES or row.get("dry_run"):
            continue
        key = row.get("guardrail") or row.get("autopatch") or "?"
        counts[key][0] += 1
        counts[key][1] += APPLIED_OUTCOMES[row["state"]]
    ranked = sorted(counts.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
    return [
        {"name": name, "times": times, "succeeded": ok, "success_rate": _ratio(ok, times)}
        for name, (times, ok) in ranked
    ]


def zone(tz):
    """The time zone named ``tz`` (an IANA name, as Odoo stores a user's), UTC when unnamed or unknown."""
    if not tz:
        return timezone.utc
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return timezone.utc


def day_windows(now, days, tz=None):
    """``(day, start, end)`` of each of the last ``days`` days in time zone ``tz``, oldest first, today last.

    ``now``, ``start`` and ``end`` are naive UTC, as Odoo stores datetimes; ``day`` is the
    local date. A day runs from one local midnight to the next (23 or 25 hours when the
    clocks change), so a figure falls on the day its user lived it.
    """
    local = zone(tz)
    aware = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now
    today = aware.astimezone(local).date()
    dates = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    bounds = [
        datetime.combine(date, time(), tzinfo=local).astimezone(timezone.utc).replace(tzinfo=None)
        for date in [*dates, today + timedelta(days=1)]
    ]
    return list(zip(dates, bounds[:-1], bounds[1:]))


def daily_series(incidents, attempts, now, days, tz=None):
    """One point a day of time zone ``tz``: incidents first seen and healed, automatic fixes' success, human share.

    A day's human intervention rate is the window figure of that single day, so
    the chart and the cards share one definition.
    """
    points = []
    for date, start, end in day_windows(now, days, tz):
        auto = [
            APPLIED_OUTCOMES[row["state"]]
            for row in attempts
            if row["mode"] == "auto"
            and row["state"] in APPLIED_OUTCOMES
            and not row.get("dry_run")
            and _in_window(row["created"], start, end)
        ]
        day = window_figures(incidents, attempts, start, end)
        points.append(
            {
                "day": date.isoformat(),
                "start": start,
                "end": end,
                "detected": sum(1 for row in incidents if _in_window(row["first_seen"], start, end)),
                "healed": sum(
                    1
                    for row in incidents
                    if row["state"] == "healed" and _in_window(row.get("healed_at") or None, start, end)
                ),
                "auto_applied": len(auto),
                "auto_succeeded": sum(auto),
                # No automatic fix that day is no rate at all, not a rate of zero.
                "auto_success_rate": _ratio(sum(auto), len(auto)) if auto else None,
                "seen": day["issues_detected"],
                "human_review": day["human_review"],
                "human_review_rate": day["human_review_rate"] if day["issues_detected"] else None,
            }
        )
    return points


def confidence_bin(confidence, bins=DEFAULT_BINS):
    """Index of the bin ``[i / bins, (i + 1) / bins)`` holding ``confidence``; the top bin includes 1.0.

    Decided by comparing with the bounds themselves (not only ``int(c * bins)``, which
    rounds 0.3 * 10 the other way now and then), as a database filter on them would.
    """
    index = max(0, min(bins - 1, int(confidence * bins)))
    if index and confidence < index / bins:
        index -= 1
    elif index < bins - 1 and confidence >= (index + 1) / bins:
        index += 1
    return index


def confidence_distribution(incidents, start, end=None, bins=DEFAULT_BINS):
    """How many incidents seen in the window got each confidence; every bin is listed, empty or not."""
    counts = [0] * bins
    for row in incidents:
        if row.get("confidence") and _in_window(row["last_seen"], start, end):
            counts[confidence_bin(row["confidence"], bins)] += 1
    return [
        {"low": round(index / bins, 3), "high": round((index + 1) / bins, 3), "count": count}
        for index, count in enumerate(counts)
    ]


def knowledge_split(created_shipped, now):
    """Knowledge base size apart by provenance: ``created_shipped`` holds ``(create_date, shipped)``."""
    month_ago = now - timedelta(days=30)
    split = {"shipped": 0, "learned": 0, "shipped_30d": 0, "learned_30d": 0}
    for created, shipped in created_shipped:
        key = "shipped" if shipped else "learned"
        split[key] += 1
        if created and created >= month_ago:
            split[key + "_30d"] += 1
    return split


def summarize(incidents, attempts, knowledge_created, now, days=7):
    """Current window, the previous one for trends, the top fixes and the knowledge base growth."""
    start = now - timedelta(days=days)
    previous_start = start - timedelta(days=days)
    month_ago = now - timedelta(days=30)
    current = window_figures(incidents, attempts, start, None)
    previous = window_figures(incidents, attempts, previous_start, start)
    return {
        "days": days,
        "current": current,
        "previous": previous,
        "top_fixed": top_fixed(attempts, start, None),
        "knowledge_size": len(knowledge_created),
        "knowledge_added_30d": sum(1 for created in knowledge_created if created and created >= month_ago),
    }
