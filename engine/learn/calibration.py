"""How well a confidence predicts what happened: a reliability table and its expected calibration error.

``pairs`` are ``(confidence, healed)``: the confidence a fix was given before it ran, and
whether it healed (validated, and the fault stayed away for the settling window). A well
calibrated confidence of 0.9 heals nine times out of ten.
"""

from dataclasses import dataclass

DEFAULT_BINS = 10


@dataclass(frozen=True)
class ReliabilityRow:
    low: float
    high: float
    count: int
    mean_confidence: float
    healed_rate: float

    @property
    def gap(self):
        return self.healed_rate - self.mean_confidence

    def as_dict(self):
        return {
            "low": round(self.low, 3),
            "high": round(self.high, 3),
            "count": self.count,
            "mean_confidence": round(self.mean_confidence, 4),
            "healed_rate": round(self.healed_rate, 4),
            "gap": round(self.gap, 4),
        }


def _clean(pairs):
    cleaned = []
    for confidence, healed in pairs:
        try:
            value = float(confidence)
        except (TypeError, ValueError):
            continue
        if value != value:  # NaN carries no prediction
            continue
        cleaned.append((min(1.0, max(0.0, value)), bool(healed)))
    return cleaned


def reliability_table(pairs, bins=DEFAULT_BINS):
    """Equal-width bins over [0, 1]; empty bins are left out. The top bin includes 1.0."""
    if bins < 1:
        raise ValueError("bins must be 1 or more")
    grouped = [[] for _index in range(bins)]
    for confidence, healed in _clean(pairs):
        grouped[min(bins - 1, int(confidence * bins))].append((confidence, healed))
    rows = []
    for index, members in enumerate(grouped):
        if not members:
            continue
        rows.append(
            ReliabilityRow(
                low=index / bins,
                high=(index + 1) / bins,
                count=len(members),
                mean_confidence=sum(confidence for confidence, _healed in members) / len(members),
                healed_rate=sum(1 for _confidence, healed in members if healed) / len(members),
            )
        )
    return rows


def expected_calibration_error(pairs, bins=DEFAULT_BINS):
    """The count-weighted mean |healed rate - mean confidence| over the bins; None without data."""
    rows = reliability_table(pairs, bins)
    total = sum(row.count for row in rows)
    if not total:
        return None
    return sum(row.count * abs(row.gap) for row in rows) / total


def format_table(rows):
    lines = ["  confidence     fixes  mean conf.  healed   gap"]
    for row in rows:
        lines.append(
            f"  [{row.low:.1f}, {row.high:.1f}{']' if row.high >= 1.0 else ')'}  {row.count:7d}"
            f"  {row.mean_confidence:10.3f}  {row.healed_rate:6.3f}  {row.gap:+.3f}"
        )
    return "\n".join(lines)
