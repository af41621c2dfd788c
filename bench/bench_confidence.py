"""How the confidence score learns from a fix's track record.

Replays 1,000 synthetic attempts (one every 6 hours) of fixes whose true
success rates are known (0.5, 0.8, 0.95, 0.99), with a fixed seed, and scores
the fix after every attempt with a fixed strong match and KB support. It shows
how close the success-rate term (a Wilson lower bound over decayed outcomes)
gets to the true rate, where the total lands, and after how many attempts the
total first reaches the 0.9 auto-fix threshold, if ever. Pure Python: no
database.
"""

import random
import time
from datetime import datetime, timedelta, timezone

from engine.decide.confidence import ConfidenceInputs, baseline_confidence

TRUE_RATES = (0.5, 0.8, 0.95, 0.99)
CHECKPOINTS = (10, 50, 100, 1000)
ATTEMPTS = 1000
SPACING = timedelta(hours=6)
SEED = 20250601
AUTO_FIX = 0.9
STRONG_MATCH = 0.97
KB_SUPPORT = 30


def run(ctx):
    # The whole replay takes about a second, so ctx.quick changes nothing.
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    results = {}
    print(
        f"Confidence simulation: {ATTEMPTS} attempts per fix, one every 6 h, seed {SEED},"
        f" match {STRONG_MATCH}, {KB_SUPPORT} similar solved cases, same version and module."
    )

    one = baseline_confidence(_inputs([(True, start)], start))
    results["conf_one_success_total"] = round(one.total, 4)
    results["conf_one_success_rate_term"] = round(one.term("success_rate").value, 4)
    best = baseline_confidence(ConfidenceInputs(1.0, 10**6, [(True, start)], start, True, True, prior_success_rate=1.0))
    results["conf_one_success_best_case_total"] = round(best.total, 4)
    print(
        f"After exactly 1 success: total {one.total:.3f} (success-rate term"
        f" {one.term('success_rate').value:.3f}, where a raw ratio would say 1.000);"
        f" even with a perfect match, unlimited support and the most generous prior: {best.total:.3f}."
    )

    elapsed = 0.0
    for index, rate in enumerate(TRUE_RATES):
        name = _rate_name(rate)
        rng = random.Random(SEED + index)
        outcomes = []
        crossed = None
        above_in_second_half = 0
        started = time.perf_counter()
        for attempt in range(1, ATTEMPTS + 1):
            when = start + SPACING * attempt
            outcomes.append((rng.random() < rate, when))
            breakdown = baseline_confidence(_inputs(outcomes, when))
            if crossed is None and breakdown.total >= AUTO_FIX:
                crossed = attempt
            if attempt > ATTEMPTS // 2 and breakdown.total >= AUTO_FIX:
                above_in_second_half += 1
            if attempt in CHECKPOINTS:
                term = breakdown.term("success_rate").value
                observed = sum(1 for success, _when in outcomes if success) / attempt
                print(
                    f"  true rate {rate:.2f}, after {attempt:4d} attempts: observed {observed:.3f},"
                    f" success-rate term {term:.3f} (gap {rate - term:+.3f}), total {breakdown.total:.3f}"
                )
                results[f"conf_sim_rate_term_{name}_after_{attempt}"] = round(term, 4)
                results[f"conf_sim_total_{name}_after_{attempt}"] = round(breakdown.total, 4)
        elapsed += time.perf_counter() - started
        results[f"conf_sim_final_{name}"] = round(breakdown.total, 4)
        results[f"conf_sim_attempts_to_0_9_{name}"] = crossed if crossed is not None else "never"
        share = above_in_second_half / (ATTEMPTS - ATTEMPTS // 2)
        results[f"conf_sim_share_auto_fix_last_half_{name}"] = round(share, 3)
        reached = f"after {crossed} attempt(s)" if crossed is not None else "never"
        print(
            f"  true rate {rate:.2f}: reaches {AUTO_FIX} {reached}; in the last"
            f" {ATTEMPTS - ATTEMPTS // 2} attempts it would auto-fix {share:.0%} of the time."
        )

    scored = ATTEMPTS * len(TRUE_RATES)
    results["conf_score_us_per_call_with_history"] = round(elapsed / scored * 1e6, 1)
    print(f"Scoring cost: {elapsed / scored * 1e6:.0f} us per call on average (histories of 1 to {ATTEMPTS} outcomes).")
    return results


def _inputs(outcomes, now):
    return ConfidenceInputs(
        match_score=STRONG_MATCH,
        kb_support_count=KB_SUPPORT,
        outcomes=list(outcomes),
        now=now,
        version_match=True,
        module_match=True,
    )


def _rate_name(rate):
    return f"{rate:g}".replace(".", "_")
