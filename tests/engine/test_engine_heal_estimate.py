"""The heal-probability estimate and the rules that use its facts (pure: no Odoo)."""

from datetime import datetime, timedelta, timezone

import pytest

from engine.decide import autonomy
from engine.decide.confidence import ConfidenceInputs, EstimateWeights, baseline_confidence, compute_confidence
from engine.decide.policy import (
    ALERT,
    AUTO_FIX,
    AUTOMATIC,
    PROPOSE,
    FixFacts,
    PolicySettings,
    decide,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
AUTO = PolicySettings(autopilot="auto")
VERIFIED = {"diagnosis_holds": True, "replay": True, "reversible": True, "rows": 1}


def estimate(match=0.96, outcomes=(), support=0, **facts):
    return compute_confidence(
        ConfidenceInputs(match_score=match, kb_support_count=support, outcomes=list(outcomes), now=NOW, **facts)
    )


def run(confidence, fix, critical=False, settings=AUTO, recent=()):
    return decide(
        confidence,
        guardrail_is_critical=critical,
        touched_models=["res.partner.category"],
        touched_modules=["base"],
        settings=settings,
        recent_auto_fix_times=list(recent),
        consecutive_failures=0,
        now=NOW,
        has_autopatch=True,
        fix=fix,
    )


def test_a_verified_fix_reaches_the_automatic_band_on_first_sight():
    breakdown = estimate(**VERIFIED)
    assert breakdown.method == "estimate"
    assert breakdown.total >= 0.9
    # The seed's weighted sum cannot trust the same fix without history and forum threads.
    assert baseline_confidence(ConfidenceInputs(match_score=0.96, now=NOW)).total < 0.6
    decision = run(breakdown, FixFacts(replay=True, diagnosis_holds=True, rows=1))
    assert decision.action == AUTO_FIX and decision.verified


def test_a_refuted_diagnosis_makes_the_fix_worthless_whatever_the_match():
    assert estimate(match=1.0, support=10**6, diagnosis_holds=False, replay=True, reversible=True).total == 0.0
    decision = run(0.99, FixFacts(replay=True, diagnosis_holds=False))
    assert decision.action == PROPOSE and not decision.verified
    assert "refuted" in " ".join(decision.reasons)


def test_an_unverified_fix_never_goes_automatic():
    for confidence in (0.8, 0.95, 1.0):
        decision = run(confidence, FixFacts(replay=False, diagnosis_holds=True))
        assert decision.action == PROPOSE, confidence
        assert "unverified" in " ".join(decision.reasons)


def test_each_piece_of_evidence_moves_the_estimate_the_right_way():
    verified = estimate(**VERIFIED).total
    assert estimate(**dict(VERIFIED, replay=False)).total < verified
    assert estimate(**dict(VERIFIED, reversible=False)).total < verified
    assert estimate(**dict(VERIFIED, rows=500)).total < estimate(**dict(VERIFIED, rows=5)).total < verified + 1e-9
    assert estimate(**dict(VERIFIED, diagnosis_holds=None)).total < verified
    assert estimate(support=30, **VERIFIED).total > verified
    assert estimate(match=0.5, **VERIFIED).total < verified


def test_the_track_record_keeps_the_wilson_bound_and_decay():
    verified = estimate(**VERIFIED).total
    failed_now = estimate(outcomes=[(False, NOW)] * 3, **VERIFIED)
    failed_long_ago = estimate(outcomes=[(False, NOW - timedelta(days=720))] * 3, **VERIFIED)
    assert failed_now.total < failed_long_ago.total < verified
    assert failed_now.total < 0.8, "three recent failures take it out of the automatic bands"
    proven = estimate(outcomes=[(True, NOW)] * 40, **VERIFIED)
    assert proven.total > verified
    assert "Wilson lower bound" in proven.term("track_record").detail


def test_the_estimate_is_explained_and_serialisable():
    breakdown = estimate(**VERIFIED)
    text = breakdown.explain()
    assert "P(cause is there)" in text and "replay" in text
    data = breakdown.as_dict()
    assert data["method"] == "estimate" and 0 < data["cause_probability"] <= 1
    assert set(data["terms"]) >= {"diagnosis", "replay", "reversible", "blast_radius", "track_record", "support"}


def test_bad_estimate_weights_are_refused():
    with pytest.raises(ValueError):
        EstimateWeights(diagnosis_likelihood_ratio=0.5)
    with pytest.raises(ValueError):
        EstimateWeights(row_scale=0)


def test_critical_scope_waits_even_for_a_verified_fix():
    decision = run(0.99, FixFacts(replay=True, diagnosis_holds=True), critical=True)
    assert decision.action == PROPOSE and decision.critical


def test_wide_blast_radius_and_wide_irreversible_fixes_wait():
    assert run(0.99, FixFacts(replay=True, diagnosis_holds=True, rows=101)).action == PROPOSE
    assert run(0.99, FixFacts(replay=True, diagnosis_holds=True, files=21)).action == PROPOSE
    assert run(0.99, FixFacts(replay=True, diagnosis_holds=True, reversible=False, rows=11)).action == PROPOSE
    assert run(0.99, FixFacts(replay=True, diagnosis_holds=True, reversible=False, files=1)).action == PROPOSE
    # One mail re-sent, one job run: verified, small, its effect what the user had asked for.
    small = run(0.99, FixFacts(replay=True, diagnosis_holds=True, reversible=False, rows=1))
    assert small.action in AUTOMATIC
    assert "cannot be taken back" in " ".join(small.reasons)


def test_an_irreversible_verified_fix_lands_in_the_notify_band():
    breakdown = estimate(**dict(VERIFIED, reversible=False))
    assert 0.8 <= breakdown.total < 0.9


def test_autonomy_steps_only_move_a_decision_down():
    approve = run(0.99, FixFacts(replay=True, diagnosis_holds=True, autonomy="approve"))
    assert approve.action == PROPOSE and approve.needs_approval
    observe = run(0.99, FixFacts(replay=True, diagnosis_holds=True, autonomy="observe"))
    assert observe.dry_run and not observe.needs_approval
    # A low score stays an alert whatever the step.
    assert run(0.3, FixFacts(replay=True, diagnosis_holds=True, autonomy="auto")).action == ALERT
    with pytest.raises(ValueError):
        FixFacts(autonomy="yolo")


def test_rate_limit_is_per_guardrail_with_a_total_cap():
    recent = [NOW - timedelta(minutes=n) for n in range(5)]
    facts = FixFacts(replay=True, diagnosis_holds=True, guardrail_recent_auto_fix_times=tuple(recent))
    assert run(0.99, facts).rate_limited
    # Five fixes of other guardrails in the hour do not hold this one back.
    other = run(0.99, FixFacts(replay=True, diagnosis_holds=True), recent=recent)
    assert other.action in AUTOMATIC and not other.rate_limited
    storm = [NOW - timedelta(seconds=n) for n in range(30)]
    assert run(0.99, FixFacts(replay=True, diagnosis_holds=True), recent=storm).action == PROPOSE


# --- the autonomy ladder -------------------------------------------------------------------------


def test_ladder_starts_from_risk():
    assert autonomy.start_step(critical=False) == "auto"
    assert autonomy.start_step(critical=True) == "approve"


@pytest.mark.parametrize("event", autonomy.SETBACKS)
def test_each_setback_moves_one_step_down_and_says_why(event):
    move = autonomy.after("auto", event, streak=4, detail="sequence moved on")
    assert (move.step, move.streak) == ("approve", 0)
    assert "one step down" in move.reason and "sequence moved on" in move.reason
    assert autonomy.after("approve", event).step == "observe"
    assert not autonomy.after("observe", event).moved, "observe is the floor"


def test_successes_move_an_approve_guardrail_up():
    step, streak = "approve", 0
    for _n in range(autonomy.DEFAULT_PROMOTE_AFTER - 1):
        move = autonomy.after(step, autonomy.HEALED, streak)
        assert not move.moved
        step, streak = move.step, move.streak
    move = autonomy.after(step, autonomy.HEALED, streak)
    assert move.step == "auto" and "successes in a row" in move.reason
    assert autonomy.after("observe", autonomy.PLANNED, 2).step == "approve"


def test_pinned_and_critical_guardrails_do_not_climb():
    assert autonomy.after("approve", autonomy.HEALED, 10, pinned=True).step == "approve"
    assert autonomy.after("auto", autonomy.FAILED, pinned=True).step == "auto"
    assert autonomy.after("approve", autonomy.HEALED, 10, critical=True).step == "approve"
    assert autonomy.after("auto", autonomy.HEALED, critical=True).step == "approve"


def test_ladder_refuses_bad_input():
    with pytest.raises(ValueError):
        autonomy.after("sometimes", autonomy.HEALED)
    with pytest.raises(ValueError):
        autonomy.after("auto", "exploded")
    with pytest.raises(ValueError):
        autonomy.after("auto", autonomy.HEALED, promote_after=0)
