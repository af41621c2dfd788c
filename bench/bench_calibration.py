"""Calibration of the confidence: the heal-probability estimate against the seed's weighted sum.

Replays simulated outcome histories (fixed seed) of 40 kinds of fix over 120 days, one
incident per kind and day, and scores every incident with both formulas *before* its
outcome is known, from the history so far. Prints, for each formula, the expected
calibration error (ECE), a reliability table, how many fixes land in the automatic bands
(>= 0.8) and how many of those failed, and how often a verified fix is trusted on its
first sight.

The histories follow stated assumptions, not data (the dashboard shows the real table of a
database): a fix kind has a replay or not, is reversible or not, and a true success rate
when its fault is really there (replayed kinds 0.88-0.99, others 0.55-0.9). Each incident's
text match is right with the probability its score says (calibrated), and a look-alike's
fix never heals. The live diagnosis holds for 95 % of real faults and 5 % of look-alikes.
A fix with a wide blast radius (more than 100 rows, one incident in ten) fails a bit more
often (x 0.9). No solved cases are imported, as on a fresh install.
"""

import random
from datetime import datetime, timedelta, timezone

from engine.decide.confidence import ConfidenceInputs, baseline_confidence, compute_confidence
from engine.learn import calibration

SEED = 20261203
KINDS = 40
DAYS = 120
AUTOMATIC = 0.8
DIAGNOSIS_HOLDS_IF_REAL = 0.95
DIAGNOSIS_HOLDS_IF_LOOK_ALIKE = 0.05


def _kinds(rng):
    kinds = []
    for _index in range(KINDS):
        replay = rng.random() < 0.7
        kinds.append(
            {
                "replay": replay,
                "reversible": rng.random() < 0.9,
                "rate": rng.uniform(0.88, 0.99) if replay else rng.uniform(0.55, 0.9),
            }
        )
    return kinds


def _incident(rng, kind):
    match = rng.choice((0.55, 0.7, 0.8, 0.9, 0.96, 0.98))
    real = rng.random() < match
    holds = rng.random() < (DIAGNOSIS_HOLDS_IF_REAL if real else DIAGNOSIS_HOLDS_IF_LOOK_ALIKE)
    rows = rng.randint(101, 2000) if rng.random() < 0.1 else rng.randint(1, 5)
    rate = kind["rate"] * (0.9 if rows > 100 else 1.0)
    healed = real and holds and rng.random() < rate
    return match, holds, rows, healed


def run(ctx):
    rng = random.Random(SEED)
    kinds = _kinds(rng)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    histories = [[] for _kind in kinds]
    pairs = {"estimate": [], "baseline": []}
    first_sight = {"estimate": [], "baseline": []}
    for day in range(DAYS):
        now = start + timedelta(days=day)
        for index, kind in enumerate(kinds):
            match, holds, rows, healed = _incident(rng, kind)
            inputs = ConfidenceInputs(
                match_score=match,
                outcomes=list(histories[index]),
                now=now,
                diagnosis_holds=holds,
                replay=kind["replay"],
                reversible=kind["reversible"],
                rows=rows,
            )
            scores = {"estimate": compute_confidence(inputs).total, "baseline": baseline_confidence(inputs).total}
            for name, score in scores.items():
                pairs[name].append((score, healed))
                if day == 0 and holds and kind["replay"] and kind["reversible"]:
                    first_sight[name].append(score)
            # A refuted diagnosis means the fix never runs: no outcome joins the track record.
            if holds:
                histories[index].append((healed, now))

    results = {}
    print(
        f"Calibration replay: {KINDS} fix kinds x {DAYS} days = {len(pairs['estimate'])} scored incidents,"
        f" seed {SEED}, no solved cases imported."
    )
    for name, label in (("baseline", "seed baseline (0.4/0.3/0.2/0.1)"), ("estimate", "heal-probability estimate")):
        scored = pairs[name]
        ece = calibration.expected_calibration_error(scored)
        automatic = [healed for score, healed in scored if score >= AUTOMATIC]
        wrong = sum(1 for healed in automatic if not healed)
        trusted = sum(1 for score in first_sight[name] if score >= 0.9)
        print(f"\n{label}: ECE {ece:.3f}")
        print(calibration.format_table(calibration.reliability_table(scored)))
        print(
            f"  automatic (>= {AUTOMATIC}): {len(automatic)} fixes, {wrong} of them failed"
            f" ({wrong / len(automatic):.1%} of those)"
            if automatic
            else f"  automatic (>= {AUTOMATIC}): none"
        )
        print(
            f"  verified, replayed, reversible fixes seen for the first time: {trusted}/{len(first_sight[name])}"
            " reach the auto-fix band (>= 0.9)"
        )
        results[f"calib_{name}_ece"] = round(ece, 4)
        results[f"calib_{name}_automatic"] = len(automatic)
        results[f"calib_{name}_automatic_failed"] = wrong
        results[f"calib_{name}_first_sight_auto"] = trusted
    ratio = results["calib_baseline_ece"] / results["calib_estimate_ece"] if results["calib_estimate_ece"] else None
    if ratio:
        print(f"\nECE of the baseline / ECE of the estimate: {ratio:.1f}x")
        results["calib_ece_ratio_baseline_over_estimate"] = round(ratio, 2)
    return results
