"""What to do with a scored fix: apply it, apply and tell, ask, or only alert.

The confidence picks a band (>= 0.9 auto-fix, >= 0.8 auto-fix and notify,
>= 0.6 propose, below that alert). Safety rules can only move a decision
down that ladder, never up: critical scopes, the autopilot mode, a missing
auto-patch, an unverified fix (no replay, a refuted diagnosis), one with a wide
blast radius (narrower still when its effect cannot be taken back), the guardrail's step on its autonomy
ladder, the rate limit and the circuit breaker. Every rule that fires
leaves a sentence in ``Decision.reasons`` so a human can see why.
"""

from dataclasses import dataclass, field
from datetime import timedelta, timezone
from fnmatch import fnmatchcase

AUTO_FIX = "auto_fix"
AUTO_FIX_NOTIFY = "auto_fix_notify"
PROPOSE = "propose"
ALERT = "alert"
ACTIONS = (AUTO_FIX, AUTO_FIX_NOTIFY, PROPOSE, ALERT)
AUTOMATIC = (AUTO_FIX, AUTO_FIX_NOTIFY)

AUTOPILOT_OFF = "off"
AUTOPILOT_SUGGEST = "suggest"
AUTOPILOT_AUTO = "auto"
AUTOPILOT_MODES = (AUTOPILOT_OFF, AUTOPILOT_SUGGEST, AUTOPILOT_AUTO)

# Accounting and payments move money; users, groups, access rights and record
# rules decide who sees what. A machine never changes them unasked. These are
# the only definition of "critical": the guardrail library checks its entries
# against them, the policy applies them (administrators may widen them).
CRITICAL_CLASSES = frozenset({"ACCESS_ERROR", "ACCOUNT_SEQUENCE"})
DEFAULT_CRITICAL_MODULES = ("account*", "payment*")
DEFAULT_CRITICAL_MODELS = (
    "account.*",
    "payment.*",
    "res.users",
    "res.users.*",
    "res.groups",
    "res.groups.*",
    "ir.model.access",
    "ir.rule",
)


def is_critical_model(model, patterns=DEFAULT_CRITICAL_MODELS):
    return any(fnmatchcase(model, pattern) for pattern in patterns)


def is_critical_module(module, patterns=DEFAULT_CRITICAL_MODULES):
    return any(fnmatchcase(module, pattern) for pattern in patterns)


# The autonomy ladder of a guardrail, lowest first: what its fixes may do at most.
OBSERVE = "observe"  # plan and preview only (a dry run), nothing written, nobody asked
APPROVE = "approve"  # a human approves each fix
AUTO = "auto"  # the confidence and the other rules decide
AUTONOMY_STEPS = (OBSERVE, APPROVE, AUTO)


@dataclass(frozen=True)
class FixFacts:
    """What the patch declares and its live diagnosis found, for the rules that need them.

    ``diagnosis_holds`` is True/False or None when no diagnosis ran; ``replay`` says whether
    validation re-runs the user's failing operation.
    """

    replay: bool = False
    diagnosis_holds: object = None
    reversible: bool = True
    rows: int = 0
    files: int = 0
    autonomy: str = AUTO
    # Automatic fixes of this guardrail in the last hour (its own rate limit).
    guardrail_recent_auto_fix_times: tuple = ()

    def __post_init__(self):
        if self.autonomy not in AUTONOMY_STEPS:
            raise ValueError(f"autonomy must be one of {AUTONOMY_STEPS}, got {self.autonomy!r}")

    @property
    def verified(self):
        return bool(self.replay) and self.diagnosis_holds is not False


# Scores are sums of floats: 0.9 computed as 0.8999999999999999 must still
# land in the 0.9 band, so compare at a precision far below any meaning.
_COMPARE_DIGITS = 9


@dataclass(frozen=True)
class PolicySettings:
    auto_fix_threshold: float = 0.9
    notify_threshold: float = 0.8
    propose_threshold: float = 0.6
    # A fresh install suggests until an administrator turns the autopilot on.
    autopilot: str = AUTOPILOT_SUGGEST
    dry_run: bool = False
    # A loop is one fix firing again and again: counted per guardrail. A day-one database with
    # many different faults heals each of them; the total cap only stops a storm.
    max_auto_fixes_per_hour: int = 5
    max_auto_fixes_per_hour_total: int = 30
    breaker_failures: int = 3
    # Blast radius an automatic fix may have; a wider one waits for a human.
    max_auto_rows: int = 100
    max_auto_files: int = 20
    # A fix whose effect cannot be taken back (a mail sent, a job run) runs alone only this small.
    max_irreversible_rows: int = 10
    critical_modules: tuple = DEFAULT_CRITICAL_MODULES
    critical_models: tuple = DEFAULT_CRITICAL_MODELS

    def __post_init__(self):
        if not (0.0 <= self.propose_threshold <= self.notify_threshold <= self.auto_fix_threshold <= 1.0):
            raise ValueError("thresholds must satisfy 0 <= propose <= notify <= auto_fix <= 1")
        if self.autopilot not in AUTOPILOT_MODES:
            raise ValueError(f"autopilot must be one of {AUTOPILOT_MODES}, got {self.autopilot!r}")
        if self.max_auto_fixes_per_hour < 0 or self.max_auto_fixes_per_hour_total < 0 or self.breaker_failures < 1:
            raise ValueError("the rate limits must be >= 0 and breaker_failures >= 1")
        if min(self.max_auto_rows, self.max_auto_files, self.max_irreversible_rows) < 0:
            raise ValueError("max_auto_rows, max_auto_files and max_irreversible_rows must be >= 0")


DEFAULT_POLICY = PolicySettings()


@dataclass
class Decision:
    action: str
    confidence: float
    # The action the confidence alone would have chosen.
    band: str
    needs_approval: bool
    notify: bool
    dry_run: bool
    # No auto-patch exists: a proposal is a fix for a human to carry out.
    manual_fix: bool
    critical: bool
    breaker_open: bool
    rate_limited: bool
    reasons: list = field(default_factory=list)
    # A replay verifies it and the diagnosis did not refute it (None: no facts were given).
    verified: object = None
    autonomy: str = AUTO

    @property
    def automatic(self):
        return self.action in AUTOMATIC

    def as_dict(self):
        return {
            "action": self.action,
            "confidence": self.confidence,
            "band": self.band,
            "needs_approval": self.needs_approval,
            "notify": self.notify,
            "dry_run": self.dry_run,
            "manual_fix": self.manual_fix,
            "critical": self.critical,
            "breaker_open": self.breaker_open,
            "rate_limited": self.rate_limited,
            "verified": self.verified,
            "autonomy": self.autonomy,
            "reasons": list(self.reasons),
        }


def band_for(confidence, settings=DEFAULT_POLICY):
    """The action the thresholds give, lower bounds inclusive."""
    score = round(float(confidence), _COMPARE_DIGITS)
    if score >= settings.auto_fix_threshold:
        return AUTO_FIX
    if score >= settings.notify_threshold:
        return AUTO_FIX_NOTIFY
    if score >= settings.propose_threshold:
        return PROPOSE
    return ALERT


def critical_matches(guardrail_is_critical, touched_models, touched_modules, settings):
    """Human-readable list of what makes this fix critical (empty if nothing)."""
    found = []
    if guardrail_is_critical:
        found.append("the guardrail is marked critical")
    for model in sorted(set(touched_models or ())):
        if is_critical_model(model, settings.critical_models):
            found.append(f"model {model}")
    for module in sorted(set(touched_modules or ())):
        if is_critical_module(module, settings.critical_modules):
            found.append(f"module {module}")
    return found


def breaker_open(consecutive_failures, settings=DEFAULT_POLICY):
    return consecutive_failures >= settings.breaker_failures


def auto_fixes_in_last_hour(recent_auto_fix_times, now):
    now = _aware(now)
    since = now - timedelta(hours=1)
    return sum(1 for when in recent_auto_fix_times or () if since < _aware(when) <= now)


def _aware(when):
    """Naive datetimes are taken as UTC (Odoo stores naive UTC)."""
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when


def decide(
    confidence,
    guardrail_is_critical,
    touched_models,
    touched_modules,
    settings,
    recent_auto_fix_times,
    consecutive_failures,
    now,
    has_autopatch,
    fix=None,
):
    """Apply the thresholds, then every safety rule, to one candidate fix.

    ``confidence`` is a number or a ``ConfidenceBreakdown`` (its total is used). ``fix`` is
    the patch's :class:`FixFacts`; the healing loop always passes them. Without them (a pure
    what-if on a score) the rules on verification, blast radius and autonomy do not fire.
    """
    confidence = float(getattr(confidence, "total", confidence))
    settings = settings or DEFAULT_POLICY
    band = band_for(confidence, settings)
    action = band
    reasons = [_band_reason(confidence, band, settings)]

    manual_fix = not has_autopatch
    if manual_fix and band != ALERT:
        if action in AUTOMATIC:
            action = PROPOSE
        reasons.append("No registered auto-patch applies: at most a manual fix is proposed to a human.")

    critical = critical_matches(guardrail_is_critical, touched_models, touched_modules, settings)
    if critical and action != ALERT:
        if action in AUTOMATIC:
            action = PROPOSE
        reasons.append("Critical scope (" + ", ".join(critical) + "): a human must approve whatever the confidence.")

    observe = False
    if fix is not None:
        action = _apply_fix_rules(fix, action, band, settings, reasons)
        if fix.autonomy == APPROVE and action in AUTOMATIC:
            action = PROPOSE
            reasons.append("This guardrail is on the 'approve' step of its autonomy ladder: a human approves.")
        observe = fix.autonomy == OBSERVE and action != ALERT
        if observe:
            reasons.append(
                "This guardrail is on the 'observe' step of its autonomy ladder: the fix is only planned (dry run)."
            )

    if settings.autopilot == AUTOPILOT_OFF:
        if action != ALERT:
            reasons.append("Autopilot is off: nothing is fixed or proposed, humans are only alerted.")
        action = ALERT
    elif settings.autopilot == AUTOPILOT_SUGGEST and band in AUTOMATIC:
        if action in AUTOMATIC:
            action = PROPOSE
        reasons.append("Autopilot is in suggest mode: every fix waits for approval.")

    is_broken = breaker_open(consecutive_failures, settings)
    if is_broken and band in AUTOMATIC:
        if action in AUTOMATIC:
            action = PROPOSE
        reasons.append(
            f"Circuit breaker open after {consecutive_failures} consecutive failed fixes"
            f" (limit {settings.breaker_failures}): autopilot paused until it is reset."
        )

    rate_limited = False
    if fix is not None:
        own = auto_fixes_in_last_hour(fix.guardrail_recent_auto_fix_times, now)
        if own >= settings.max_auto_fixes_per_hour and band in AUTOMATIC:
            rate_limited = True
            if action in AUTOMATIC:
                action = PROPOSE
            reasons.append(
                f"Rate limit reached: {own} auto-fixes of this guardrail in the last hour"
                f" (at most {settings.max_auto_fixes_per_hour}): a fix that keeps firing is a loop, not healing."
            )
        total_limit = settings.max_auto_fixes_per_hour_total
    else:
        # Without facts about the guardrail the one limit counts every automatic fix.
        total_limit = settings.max_auto_fixes_per_hour
    recent = auto_fixes_in_last_hour(recent_auto_fix_times, now)
    if recent >= total_limit and band in AUTOMATIC:
        rate_limited = True
        if action in AUTOMATIC:
            action = PROPOSE
        reasons.append(f"Rate limit reached: {recent} auto-fixes in the last hour (at most {total_limit}).")

    dry_run = settings.dry_run or observe
    if settings.dry_run and action in AUTOMATIC:
        reasons.append("Dry-run: the fix is planned and previewed, nothing is written.")

    return Decision(
        action=action,
        confidence=confidence,
        band=band,
        needs_approval=action == PROPOSE and not observe,
        notify=action != AUTO_FIX,
        dry_run=dry_run,
        manual_fix=manual_fix,
        critical=bool(critical),
        breaker_open=is_broken,
        rate_limited=rate_limited,
        reasons=reasons,
        verified=None if fix is None else fix.verified,
        autonomy=AUTO if fix is None else fix.autonomy,
    )


def _apply_fix_rules(fix, action, band, settings, reasons):
    """Verification, reversibility and blast radius: each may only keep a fix from running alone.

    Their reasons are given whenever a fix is proposed at all, so that a human reading a
    proposal sees why it could not have run alone."""
    if band == ALERT:
        return action
    if fix.diagnosis_holds is False:
        reasons.append("The live diagnosis refuted the root cause: the fix is unverified and never runs alone.")
    elif not fix.replay:
        reasons.append("No replay of the failing operation verifies this fix: it is unverified, a human approves it.")
    irreversible_too_wide = not fix.reversible and (fix.rows > settings.max_irreversible_rows or fix.files > 0)
    if irreversible_too_wide:
        reasons.append(
            f"The fix cannot be taken back and touches {fix.rows} row(s), {fix.files} file(s)"
            f" (alone at most {settings.max_irreversible_rows} rows and no file): a human approves it."
        )
    elif not fix.reversible:
        reasons.append("The fix's effect cannot be taken back (kept small enough to run alone).")
    if fix.rows > settings.max_auto_rows or fix.files > settings.max_auto_files:
        reasons.append(
            f"Blast radius {fix.rows} row(s), {fix.files} file(s) exceeds what runs alone"
            f" ({settings.max_auto_rows} rows, {settings.max_auto_files} files): a human approves it."
        )
    held_back = (
        not fix.verified
        or irreversible_too_wide
        or fix.rows > settings.max_auto_rows
        or fix.files > settings.max_auto_files
    )
    if held_back and action in AUTOMATIC:
        action = PROPOSE
    return action


def _band_reason(confidence, band, settings):
    bounds = {
        AUTO_FIX: f">= {settings.auto_fix_threshold:.2f}: fix automatically",
        AUTO_FIX_NOTIFY: (
            f"in [{settings.notify_threshold:.2f}, {settings.auto_fix_threshold:.2f}): fix automatically and notify"
        ),
        PROPOSE: (
            f"in [{settings.propose_threshold:.2f}, {settings.notify_threshold:.2f}): propose and wait for approval"
        ),
        ALERT: f"below {settings.propose_threshold:.2f}: alert only, no proposal",
    }
    return f"Confidence {confidence:.3f} is {bounds[band]}."
