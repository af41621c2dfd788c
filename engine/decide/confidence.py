"""How much to trust a guardrail's fix for one incident, as a number in [0, 1].

``compute_confidence`` estimates the probability that this fix heals this
incident (see ``estimate_heal_probability``): the live diagnosis, the replay,
the blast radius and the reversibility of the patch weigh next to the fix's
track record and the solved-case support, so that a verified fix can be trusted
on first sight and a refuted one never.

``baseline_confidence`` is the original design's weighted sum, kept as the
documented baseline the calibration benchmark compares against: 0.4 x forum/KB support,
0.3 x the fix's track record, 0.2 x recency, 0.1 x context (Odoo version,
module), multiplied by how well the incident matches the guardrail so that a
weak match can never produce a confident fix.

Where that baseline was naive:

* support saturates (1 - exp(-n/k)) instead of dividing by the size of the
  forum dump, so a fix backed by 30 threads is not ranked 40x below "all";
* the track record is the Wilson lower bound of the success rate, so one
  success out of one attempt is weak evidence, not 100 %;
* outcomes decay with a half-life, so a recent failure outweighs an old
  success;
* a fix without history starts from a small prior (pseudo-attempts) that the
  real outcomes quickly outweigh.

``learning_update`` is the feedback step: counts move with each outcome,
failures flag the guardrail for review, and a fix whose success rate is
credibly low (Wilson upper bound under a threshold) is flagged for retirement.
"""

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class ConfidenceWeights:
    """Weights of the four terms and the knobs of each term."""

    support: float = 0.4
    success_rate: float = 0.3
    recency: float = 0.2
    context: float = 0.1
    # Number of similar solved cases at which support reaches 63 %.
    support_saturation: float = 10.0
    # z of the Wilson bound: 1.96 is a two-sided 95 % interval.
    wilson_z: float = 1.96
    outcome_half_life_days: float = 90.0
    recency_half_life_days: float = 30.0
    # The prior acts as this many pseudo-attempts at this success rate; it is
    # kept weak on purpose so that a single real success cannot look proven.
    prior_success_rate: float = 0.75
    prior_strength: float = 2.0
    # Recency of a fix that has never been tried: neither fresh nor stale.
    untried_recency: float = 0.5
    # Value of an unknown context signal (version or module not known).
    unknown_context: float = 0.5

    def __post_init__(self):
        weights = (self.support, self.success_rate, self.recency, self.context)
        if any(w < 0 for w in weights) or not math.isclose(sum(weights), 1.0, abs_tol=1e-9):
            raise ValueError(f"confidence weights must be >= 0 and sum to 1, got {weights}")
        if self.support_saturation <= 0 or self.wilson_z <= 0:
            raise ValueError("support_saturation and wilson_z must be positive")
        if self.outcome_half_life_days <= 0 or self.recency_half_life_days <= 0:
            raise ValueError("half-lives must be positive")
        if not 0.0 <= self.prior_success_rate <= 1.0 or self.prior_strength < 0:
            raise ValueError("prior_success_rate must be in [0, 1] and prior_strength >= 0")


DEFAULT_WEIGHTS = ConfidenceWeights()


@dataclass
class ConfidenceInputs:
    """Everything the score depends on; ``outcomes`` are (success, when) pairs
    of past attempts of this guardrail's fix."""

    match_score: float
    kb_support_count: int = 0
    outcomes: list = field(default_factory=list)
    now: datetime = None
    # True/False, a degree in [0, 1], or None when unknown.
    version_match: object = None
    module_match: object = None
    # Per-guardrail override of the weights' prior (e.g. a curated guardrail).
    prior_success_rate: float = None
    # What the patch found and declares (the estimate reads them, the baseline does not):
    # the live diagnosis (True holds, False refuted, None not run), whether validation replays
    # the user's failing operation, whether every write keeps an exact pre-image, and the
    # rows and files the fix would touch.
    diagnosis_holds: object = None
    replay: object = None
    reversible: object = None
    rows: int = 0
    files: int = 0


@dataclass(frozen=True)
class ConfidenceTerm:
    name: str
    value: float
    weight: float
    detail: str

    @property
    def contribution(self):
        return self.value * self.weight


@dataclass(frozen=True)
class ConfidenceBreakdown:
    """The total and every term that made it, ready to store with a fix attempt."""

    total: float
    match_score: float
    # Baseline: the weighted evidence. Estimate: the probability that the fix heals once the cause is there.
    weighted_sum: float
    terms: tuple
    method: str = "baseline"
    # Estimate only: the probability that the claimed root cause is there (match and live diagnosis).
    cause_probability: float = None

    def term(self, name):
        for term in self.terms:
            if term.name == name:
                return term
        raise KeyError(name)

    def as_dict(self):
        return {
            "method": self.method,
            "total": round(self.total, 6),
            "match_score": round(self.match_score, 6),
            "weighted_sum": round(self.weighted_sum, 6),
            "cause_probability": None if self.cause_probability is None else round(self.cause_probability, 6),
            "terms": {
                term.name: {
                    "value": round(term.value, 6),
                    "weight": term.weight,
                    "contribution": round(term.contribution, 6),
                    "detail": term.detail,
                }
                for term in self.terms
            },
        }

    def explain(self):
        if self.method == ESTIMATE:
            return _explain_estimate(self)
        lines = [
            f"Confidence {self.total:.3f} = match {self.match_score:.3f} x weighted evidence {self.weighted_sum:.3f}"
        ]
        for term in self.terms:
            lines.append(
                f"- {term.name}: {term.value:.3f} x {term.weight:.2f} = {term.contribution:.3f} ({term.detail})"
            )
        return "\n".join(lines)


def wilson_bounds(successes, trials, z=1.96):
    """Lower and upper Wilson score bounds of a success rate.

    Trials may be fractional (decayed or prior pseudo-attempts). With no trials
    nothing is known: (0, 1).
    """
    if trials <= 0:
        return 0.0, 1.0
    p = min(max(successes / trials, 0.0), 1.0)
    z2 = z * z
    denominator = 1.0 + z2 / trials
    centre = p + z2 / (2.0 * trials)
    spread = z * math.sqrt(p * (1.0 - p) / trials + z2 / (4.0 * trials * trials))
    lower = (centre - spread) / denominator
    upper = (centre + spread) / denominator
    return max(0.0, lower), min(1.0, upper)


def decay(age_seconds, half_life_days):
    """Weight of something ``age_seconds`` old; the future counts as now."""
    age_days = max(0.0, age_seconds) / SECONDS_PER_DAY
    return 0.5 ** (age_days / half_life_days)


ESTIMATE = "estimate"


@dataclass(frozen=True)
class EstimateWeights:
    """Knobs of the heal-probability estimate; each evidence weight is in log-odds."""

    # How much more often a diagnosis holds when the claimed cause is there than when the text
    # match is a look-alike: the live check is strong evidence for the cause, not proof.
    diagnosis_likelihood_ratio: float = 20.0
    # A fix validated by replaying the user's failing operation is only committed when that
    # operation now succeeds; without a replay, validation only checks the patch's own writes.
    replay: float = 1.0
    no_replay: float = -1.0
    reversible: float = 0.5
    # An effect without pre-image (a mail sent, a job run): what the user had asked for, but it
    # cannot be taken back, which keeps such a fix out of the silent auto-fix band.
    irreversible: float = -0.5
    # Blast radius: -weight x ln(1 + rows / row_scale + files / file_scale).
    blast: float = 0.3
    row_scale: float = 10.0
    file_scale: float = 5.0
    # Track record: how far the Wilson lower bound of the decayed outcomes departs from the bound
    # the other evidence's expectation would have, in log-odds, times this; no history, no shift.
    track_record: float = 1.0
    # Solved cases: up to this much, saturating like the baseline's support term.
    support: float = 1.0
    version_differs: float = -1.0
    module_differs: float = -0.5
    context_matches: float = 0.25

    def __post_init__(self):
        if self.diagnosis_likelihood_ratio < 1.0:
            raise ValueError("diagnosis_likelihood_ratio must be >= 1")
        if self.row_scale <= 0 or self.file_scale <= 0:
            raise ValueError("row_scale and file_scale must be positive")
        if min(self.blast, self.track_record, self.support) < 0:
            raise ValueError("blast, track_record and support weights must be >= 0")


DEFAULT_ESTIMATE = EstimateWeights()
# Log-odds are clamped here: a probability of exactly 0 or 1 would make any later evidence void.
_MAX_LOGIT = 12.0


def compute_confidence(inputs, weights=DEFAULT_WEIGHTS, estimate=DEFAULT_ESTIMATE):
    """The confidence the policy uses: the estimated probability that this fix heals this incident."""
    return estimate_heal_probability(inputs, weights, estimate)


def estimate_heal_probability(inputs, weights=DEFAULT_WEIGHTS, estimate=DEFAULT_ESTIMATE):
    """P(heals) = P(the claimed cause is there) x P(the fix heals it | it is there).

    The first factor starts from the calibrated match and is updated by the live diagnosis
    (Bayes' rule with its likelihood ratio; a refuted diagnosis makes it 0). The second starts
    from the patch's prior success rate and adds, in log-odds, what the patch declares and the
    diagnosis counted (replay, reversibility, blast radius) and what history says (the Wilson
    bound of the decayed outcomes, the solved-case support, the context).
    """
    now = _aware(inputs.now or datetime.now(timezone.utc))
    outcomes = [(bool(success), _aware(when)) for success, when in inputs.outcomes]
    match = _unit(inputs.match_score)
    cause, diagnosis_term = _cause_probability(match, inputs.diagnosis_holds, estimate)
    prior = _unit(weights.prior_success_rate if inputs.prior_success_rate is None else inputs.prior_success_rate)
    terms = (
        ConfidenceTerm("prior", _logit(prior), 1.0, f"prior success rate {prior:.2f} of this patch"),
        _replay_term(inputs.replay, estimate),
        _reversible_term(inputs.reversible, estimate),
        _blast_term(inputs.rows, inputs.files, estimate),
        _estimate_support_term(inputs.kb_support_count, weights, estimate),
        _estimate_context_term(inputs.version_match, inputs.module_match, estimate),
    )
    expected = 1.0 / (1.0 + math.exp(-_clamp_logit(sum(term.contribution for term in terms))))
    terms += (_track_record_term(outcomes, now, expected, weights, estimate),)
    logit = _clamp_logit(sum(term.contribution for term in terms))
    heals_if_cause = 1.0 / (1.0 + math.exp(-logit))
    return ConfidenceBreakdown(
        total=cause * heals_if_cause,
        match_score=match,
        weighted_sum=heals_if_cause,
        terms=(diagnosis_term, *terms),
        method=ESTIMATE,
        cause_probability=cause,
    )


def _cause_probability(match, holds, estimate):
    if holds is None:
        return match, ConfidenceTerm("diagnosis", 0.0, 0.0, "no live diagnosis: the match alone says the cause")
    if not holds:
        return 0.0, ConfidenceTerm("diagnosis", 0.0, 0.0, "the live diagnosis refuted the cause: the fix cannot heal")
    ratio = estimate.diagnosis_likelihood_ratio
    if match >= 1.0:
        cause = 1.0
    else:
        odds = match / (1.0 - match) * ratio
        cause = odds / (1.0 + odds)
    detail = f"the live diagnosis holds (likelihood ratio {ratio:g}): P(cause) {match:.3f} -> {cause:.3f}"
    return cause, ConfidenceTerm("diagnosis", 1.0, math.log(ratio), detail)


def _replay_term(replay, estimate):
    if replay is None:
        return ConfidenceTerm("replay", 0.0, 0.0, "replay unknown")
    if replay:
        return ConfidenceTerm("replay", 1.0, estimate.replay, "validation replays the failing operation")
    return ConfidenceTerm("replay", 1.0, estimate.no_replay, "no replay: the fix is unverified")


def _reversible_term(reversible, estimate):
    if reversible is None:
        return ConfidenceTerm("reversible", 0.0, 0.0, "reversibility unknown")
    if reversible:
        return ConfidenceTerm("reversible", 1.0, estimate.reversible, "every write keeps an exact pre-image")
    return ConfidenceTerm("reversible", 1.0, estimate.irreversible, "not reversible")


def _blast_term(rows, files, estimate):
    rows, files = max(0, int(rows or 0)), max(0, int(files or 0))
    value = math.log1p(rows / estimate.row_scale + files / estimate.file_scale)
    return ConfidenceTerm("blast_radius", value, -estimate.blast, f"{rows} row(s), {files} file(s)")


def _track_record_term(outcomes, now, expected, weights, estimate):
    """How far the fix's record departs from what the other evidence expects, in log-odds.

    Both sides are Wilson lower bounds at the same weight of evidence (the decayed outcomes
    plus the prior's pseudo-attempts): the record with its real outcomes, and the record the
    expected rate would have made. Matching the expectation shifts nothing; with a long
    history the estimate converges on the fix's own success rate.
    """
    successes = trials = 0.0
    for success, when in outcomes:
        weight = decay((now - when).total_seconds(), weights.outcome_half_life_days)
        trials += weight
        successes += weight if success else 0.0
    pseudo = weights.prior_strength
    total = trials + pseudo
    shift, observed, reference = 0.0, expected, expected
    if trials > 0:
        observed, _upper = wilson_bounds(successes + pseudo * expected, total, weights.wilson_z)
        reference, _upper = wilson_bounds(expected * total, total, weights.wilson_z)
        shift = _logit(observed) - _logit(reference)
    won = sum(1 for success, _when in outcomes if success)
    detail = (
        f"{won}/{len(outcomes)} succeeded (decayed weight {successes:.2f}/{trials:.2f}),"
        f" Wilson lower bound z={weights.wilson_z:g} {observed:.3f} against {reference:.3f} expected"
    )
    return ConfidenceTerm("track_record", shift, estimate.track_record, detail)


def _clamp_logit(value):
    return max(-_MAX_LOGIT, min(_MAX_LOGIT, value))


def _estimate_support_term(count, weights, estimate):
    term = _support_term(count, weights)
    return ConfidenceTerm("support", term.value, estimate.support, term.detail)


def _estimate_context_term(version_match, module_match, estimate):
    value = 0.0
    for signal, differs in ((version_match, estimate.version_differs), (module_match, estimate.module_differs)):
        if signal is None:
            continue
        degree = (1.0 if signal else 0.0) if isinstance(signal, bool) else _unit(signal)
        value += degree * estimate.context_matches + (1.0 - degree) * differs
    detail = f"Odoo version {_context_word(version_match)}, module {_context_word(module_match)}"
    return ConfidenceTerm("context", value, 1.0, detail)


def _logit(probability):
    probability = min(max(probability, 1e-6), 1.0 - 1e-6)
    return math.log(probability / (1.0 - probability))


def _explain_estimate(breakdown):
    lines = [
        f"Confidence {breakdown.total:.3f} = P(cause is there) {breakdown.cause_probability:.3f}"
        f" x P(fix heals it) {breakdown.weighted_sum:.3f}"
    ]
    for term in breakdown.terms:
        lines.append(f"- {term.name}: {term.contribution:+.3f} log-odds ({term.detail})")
    return "\n".join(lines)


def baseline_confidence(inputs, weights=DEFAULT_WEIGHTS):
    """The seed's weighted sum of ``inputs`` as a :class:`ConfidenceBreakdown` (the benchmark's baseline)."""
    now = _aware(inputs.now or datetime.now(timezone.utc))
    outcomes = [(bool(success), _aware(when)) for success, when in inputs.outcomes]
    match = _unit(inputs.match_score)

    terms = (
        _support_term(inputs.kb_support_count, weights),
        _success_rate_term(outcomes, now, inputs.prior_success_rate, weights),
        _recency_term(outcomes, now, weights),
        _context_term(inputs.version_match, inputs.module_match, weights),
    )
    weighted_sum = min(1.0, sum(term.contribution for term in terms))
    return ConfidenceBreakdown(
        total=match * weighted_sum, match_score=match, weighted_sum=weighted_sum, terms=terms, method="baseline"
    )


def _support_term(count, weights):
    count = max(0, int(count or 0))
    value = 1.0 - math.exp(-count / weights.support_saturation)
    return ConfidenceTerm("support", value, weights.support, f"{count} similar solved case(s)")


def _success_rate_term(outcomes, now, prior_rate, weights):
    if prior_rate is None:
        prior_rate = weights.prior_success_rate
    prior_rate = _unit(prior_rate)
    successes = trials = 0.0
    for success, when in outcomes:
        weight = decay((now - when).total_seconds(), weights.outcome_half_life_days)
        trials += weight
        successes += weight if success else 0.0
    lower, _upper = wilson_bounds(
        successes + weights.prior_strength * prior_rate,
        trials + weights.prior_strength,
        weights.wilson_z,
    )
    won = sum(1 for success, _when in outcomes if success)
    detail = (
        f"{won}/{len(outcomes)} succeeded (decayed weight {successes:.2f}/{trials:.2f}),"
        f" prior {prior_rate:.2f} x {weights.prior_strength:g},"
        f" Wilson lower bound z={weights.wilson_z:g}"
    )
    return ConfidenceTerm("success_rate", lower, weights.success_rate, detail)


def _recency_term(outcomes, now, weights):
    if not outcomes:
        return ConfidenceTerm("recency", weights.untried_recency, weights.recency, "never tried: neutral recency")
    successes = [when for success, when in outcomes if success]
    if not successes:
        return ConfidenceTerm("recency", 0.0, weights.recency, "tried but never succeeded")
    latest = max(successes)
    age_days = max(0.0, (now - latest).total_seconds()) / SECONDS_PER_DAY
    value = decay((now - latest).total_seconds(), weights.recency_half_life_days)
    return ConfidenceTerm("recency", value, weights.recency, f"last success {age_days:.1f} day(s) ago")


def _context_term(version_match, module_match, weights):
    version = _context_value(version_match, weights)
    module = _context_value(module_match, weights)
    value = (version + module) / 2.0
    detail = f"Odoo version {_context_word(version_match)}, module {_context_word(module_match)}"
    return ConfidenceTerm("context", value, weights.context, detail)


def _context_value(signal, weights):
    if signal is None:
        return weights.unknown_context
    if isinstance(signal, bool):
        return 1.0 if signal else 0.0
    return _unit(signal)


def _context_word(signal):
    if signal is None:
        return "unknown"
    if isinstance(signal, bool):
        return "matches" if signal else "differs"
    return f"matches at {_unit(signal):.2f}"


def _unit(value):
    """Clamp to [0, 1]; NaN and None count as 0 (no evidence)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 0.0
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, value))


def _aware(when):
    """Naive datetimes are taken as UTC (Odoo stores naive UTC)."""
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when


# --- learning -----------------------------------------------------------------


@dataclass(frozen=True)
class LearningSettings:
    wilson_z: float = 1.96
    # Retire only once enough attempts exist for the bound to mean something.
    min_attempts_to_retire: int = 5
    retire_below: float = 0.5
    # A failure always asks for review; so does this many failures in a row
    # even when the overall rate still looks fine.
    review_after_consecutive_failures: int = 1


DEFAULT_LEARNING = LearningSettings()


@dataclass(frozen=True)
class GuardrailStats:
    successes: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_outcome_at: datetime = None

    @property
    def attempts(self):
        return self.successes + self.failures

    def bounds(self, z=1.96):
        return wilson_bounds(self.successes, self.attempts, z)

    def as_dict(self):
        return {
            "successes": self.successes,
            "failures": self.failures,
            "consecutive_failures": self.consecutive_failures,
            "last_outcome_at": self.last_outcome_at,
        }

    @classmethod
    def coerce(cls, stats):
        if isinstance(stats, cls):
            return stats
        if stats is None:
            return cls()
        return cls(
            successes=int(stats.get("successes") or 0),
            failures=int(stats.get("failures") or 0),
            consecutive_failures=int(stats.get("consecutive_failures") or 0),
            last_outcome_at=stats.get("last_outcome_at"),
        )


def learning_update(guardrail_stats, success, when=None, settings=DEFAULT_LEARNING):
    """Fold one outcome into a guardrail's stats.

    Returns ``(new_stats, flags)`` where flags is a tuple drawn from
    ``('review', 'retire')``.
    """
    stats = GuardrailStats.coerce(guardrail_stats)
    if success:
        new = replace(stats, successes=stats.successes + 1, consecutive_failures=0)
    else:
        new = replace(
            stats,
            failures=stats.failures + 1,
            consecutive_failures=stats.consecutive_failures + 1,
        )
    if when is not None:
        new = replace(new, last_outcome_at=when)

    flags = []
    if not success and new.consecutive_failures >= settings.review_after_consecutive_failures:
        flags.append("review")
    _lower, upper = new.bounds(settings.wilson_z)
    if new.attempts >= settings.min_attempts_to_retire and upper < settings.retire_below:
        if "review" not in flags:
            flags.append("review")
        flags.append("retire")
    return new, tuple(flags)
