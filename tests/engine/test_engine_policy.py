from datetime import datetime, timedelta, timezone

import pytest

from engine.decide.policy import (
    ALERT,
    AUTO_FIX,
    AUTO_FIX_NOTIFY,
    PROPOSE,
    PolicySettings,
    band_for,
    decide,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
AUTO = PolicySettings(autopilot="auto")


def run(
    confidence,
    settings=AUTO,
    critical=False,
    models=("sale.order",),
    modules=("sale",),
    fixes=(),
    failures=0,
    has_autopatch=True,
):
    return decide(
        confidence=confidence,
        guardrail_is_critical=critical,
        touched_models=list(models),
        touched_modules=list(modules),
        settings=settings,
        recent_auto_fix_times=list(fixes),
        consecutive_failures=failures,
        now=NOW,
        has_autopatch=has_autopatch,
    )


@pytest.mark.parametrize(
    "confidence, band",
    [
        (1.0, AUTO_FIX),
        (0.9, AUTO_FIX),
        (0.1 * 9, AUTO_FIX),  # 0.9000000000000001
        (0.3 * 3, AUTO_FIX),  # 0.8999999999999999, a float-sum artefact of 0.9
        (0.8999, AUTO_FIX_NOTIFY),
        (0.8, AUTO_FIX_NOTIFY),
        (0.7999, PROPOSE),
        (0.6, PROPOSE),
        (0.5999, ALERT),
        (0.0, ALERT),
    ],
)
def test_bands_and_inclusive_boundaries(confidence, band):
    assert band_for(confidence, AUTO) == band
    decision = run(confidence)
    assert decision.action == band
    assert decision.band == band


def test_each_band_sets_approval_and_notification():
    auto, notify, propose, alert = run(0.95), run(0.85), run(0.7), run(0.3)
    assert (auto.needs_approval, auto.notify) == (False, False)
    assert (notify.needs_approval, notify.notify) == (False, True)
    assert (propose.needs_approval, propose.notify) == (True, True)
    assert (alert.needs_approval, alert.notify) == (False, True)
    assert auto.reasons == ["Confidence 0.950 is >= 0.90: fix automatically."]
    assert "below 0.60: alert only, no proposal" in alert.reasons[0]


def test_custom_thresholds():
    strict = PolicySettings(autopilot="auto", auto_fix_threshold=0.97, notify_threshold=0.93, propose_threshold=0.5)
    assert run(0.95, strict).action == AUTO_FIX_NOTIFY
    assert run(0.97, strict).action == AUTO_FIX
    assert run(0.55, strict).action == PROPOSE
    with pytest.raises(ValueError):
        PolicySettings(auto_fix_threshold=0.7, notify_threshold=0.8)
    with pytest.raises(ValueError):
        PolicySettings(autopilot="yolo")


@pytest.mark.parametrize(
    "critical, models, modules, culprit",
    [
        (True, ["sale.order"], ["sale"], "the guardrail is marked critical"),
        (False, ["account.move"], ["sale"], "model account.move"),
        (False, ["payment.transaction"], ["sale"], "model payment.transaction"),
        (False, ["sale.order"], ["account_edi"], "module account_edi"),
        (False, ["sale.order"], ["payment_stripe"], "module payment_stripe"),
        (False, ["res.users"], ["base"], "model res.users"),
        (False, ["res.groups"], ["base"], "model res.groups"),
        (False, ["ir.model.access"], ["base"], "model ir.model.access"),
        (False, ["ir.rule"], ["base"], "model ir.rule"),
    ],
)
def test_critical_scope_always_needs_approval(critical, models, modules, culprit):
    decision = run(0.99, critical=critical, models=models, modules=modules)
    assert decision.action == PROPOSE
    assert decision.needs_approval
    assert decision.critical
    assert decision.band == AUTO_FIX
    assert any(culprit in reason and "a human must approve" in reason for reason in decision.reasons)


def test_critical_scope_does_not_raise_a_low_confidence():
    decision = run(0.4, models=["account.move"])
    assert decision.action == ALERT
    assert not decision.needs_approval


def test_non_critical_neighbours_and_custom_lists():
    # res.partner and ir.model.data are not in the default lists.
    assert run(0.99, models=["res.partner", "ir.model.data"], modules=["base"]).action == AUTO_FIX
    custom = PolicySettings(autopilot="auto", critical_models=("stock.*",), critical_modules=())
    assert run(0.99, custom, models=["account.move"], modules=["account"]).action == AUTO_FIX
    assert run(0.99, custom, models=["stock.quant"]).action == PROPOSE


def test_autopilot_off_only_alerts():
    off = PolicySettings(autopilot="off")
    for confidence in (0.99, 0.85, 0.7):
        decision = run(confidence, off)
        assert decision.action == ALERT
        assert "Autopilot is off" in decision.reasons[-1]
    assert run(0.3, off).reasons == [run(0.3).reasons[0]]


def test_autopilot_suggest_turns_auto_fixes_into_proposals():
    suggest = PolicySettings(autopilot="suggest")
    assert PolicySettings().autopilot == "suggest"  # a fresh install never writes alone
    for confidence in (0.99, 0.85):
        decision = run(confidence, suggest)
        assert decision.action == PROPOSE
        assert decision.needs_approval
        assert "suggest mode" in decision.reasons[-1]
    assert run(0.7, suggest).action == PROPOSE
    assert run(0.5, suggest).action == ALERT


def test_dry_run_keeps_the_action_but_marks_it():
    dry = PolicySettings(autopilot="auto", dry_run=True)
    decision = run(0.95, dry)
    assert decision.action == AUTO_FIX
    assert decision.dry_run
    assert "Dry-run" in decision.reasons[-1]
    assert run(0.7, dry).dry_run
    assert not run(0.95).dry_run


def test_rate_limit_counts_the_last_hour_only():
    settings = PolicySettings(autopilot="auto", max_auto_fixes_per_hour=3)
    inside = [NOW - timedelta(minutes=m) for m in (1, 20, 59)]
    limited = run(0.95, settings, fixes=inside)
    assert limited.action == PROPOSE
    assert limited.rate_limited
    assert "3 auto-fixes in the last hour (at most 3)" in limited.reasons[-1]

    outside = [NOW - timedelta(minutes=m) for m in (1, 20, 60, 120)]
    assert run(0.95, settings, fixes=outside).action == AUTO_FIX
    # Naive timestamps (as Odoo stores them) are UTC.
    naive = [when.replace(tzinfo=None) for when in inside]
    assert run(0.95, settings, fixes=naive).action == PROPOSE
    # A limited hour still lets proposals through untouched.
    assert run(0.7, settings, fixes=inside).reasons == [run(0.7).reasons[0]]


def test_circuit_breaker_pauses_the_autopilot():
    settings = PolicySettings(autopilot="auto", breaker_failures=3)
    assert run(0.95, settings, failures=2).action == AUTO_FIX
    decision = run(0.95, settings, failures=3)
    assert decision.action == PROPOSE
    assert decision.breaker_open
    assert "until it is reset" in decision.reasons[-1]
    # Reset = the caller's failure counter back to zero.
    assert run(0.95, settings, failures=0).action == AUTO_FIX


def test_without_autopatch_at_most_a_manual_proposal():
    decision = run(0.99, has_autopatch=False)
    assert decision.action == PROPOSE
    assert decision.manual_fix
    assert "No registered auto-patch" in decision.reasons[1]
    assert run(0.7, has_autopatch=False).action == PROPOSE
    low = run(0.3, has_autopatch=False)
    assert low.action == ALERT
    assert len(low.reasons) == 1


def test_every_rule_that_fires_is_explained():
    settings = PolicySettings(autopilot="suggest", max_auto_fixes_per_hour=1, breaker_failures=1, dry_run=True)
    decision = run(0.95, settings, models=["account.move"], fixes=[NOW], failures=5)
    assert decision.action == PROPOSE
    text = " | ".join(decision.reasons)
    for fragment in ("Confidence 0.950", "Critical scope", "suggest mode", "Circuit breaker", "Rate limit"):
        assert fragment in text
    # Nothing automatic is left, so dry-run has nothing to say.
    assert "Dry-run" not in text
    assert decision.as_dict()["reasons"] == decision.reasons


def test_a_confidence_breakdown_can_be_passed_directly():
    from engine.decide.confidence import ConfidenceInputs, compute_confidence

    breakdown = compute_confidence(ConfidenceInputs(match_score=0.5, kb_support_count=100, now=NOW))
    decision = run(breakdown)
    assert decision.confidence == breakdown.total
    assert decision.action == ALERT
