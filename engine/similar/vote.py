"""The nearest solved cases vote on the class of a text, with a calibrated probability.

Each of the ``k`` most similar labelled cases votes for its class with the
weight ``similarity ** WEIGHT_POWER``: a near-duplicate outweighs several
loose look-alikes. The raw score of the winning class is its share of the
votes times the similarity of its closest voter (a unanimous vote of distant
cases is still weak). The probability is that raw score passed through a
step function fitted by isotonic regression (pool-adjacent-violators) on
leave-one-out votes of the shipped cases: each case voted on by the others,
never by itself. ``bench/bench_real_cases.py`` refits it on one half of the
cases (by a stable hash of their key) and checks it on the other half.
"""

from dataclasses import dataclass

# The class of faults none of the others fits: a vote for it is a vote for "none
# of the known classes", so it answers nothing (its voters still weigh against the rest).
CATCH_ALL = "OTHER"
DEFAULT_K = 5
WEIGHT_POWER = 4
# (upper bound of the raw score, probability that the vote is right), raw scores
# ascending. Fitted by bench/bench_real_cases.py on the fitting half of the
# shipped cases with the offline embedding (it prints the table it fits).
SHIPPED_CALIBRATION = (
    (0.0973, 0.1538),
    (0.175, 0.2143),
    (0.1913, 0.4),
    (0.312, 0.62),
    (0.4312, 0.8333),
    (0.5132, 0.9412),
    (1.0, 0.9892),
)
# A calibration bin holds at least this many cases (fewer make noisy steps).
MIN_BIN = 8


@dataclass(frozen=True)
class Voter:
    id: int
    error_class: str
    similarity: float
    guardrail: object = None  # the guardrail code the case was solved with, or None


@dataclass(frozen=True)
class Vote:
    error_class: str
    probability: float
    raw: float
    share: float
    voters: tuple  # the Voter objects of the winning class, closest first

    @property
    def guardrail(self):
        """The guardrail of the closest voter that names one, or None."""
        return next((voter.guardrail for voter in self.voters if voter.guardrail), None)

    def as_json(self):
        return {
            "error_class": self.error_class,
            "probability": round(self.probability, 4),
            "raw": round(self.raw, 4),
            "share": round(self.share, 4),
            "voters": [
                {"id": voter.id, "similarity": round(voter.similarity, 4), "guardrail": voter.guardrail}
                for voter in self.voters
            ],
        }


def vote(voters, k=DEFAULT_K, calibration=SHIPPED_CALIBRATION, exclude=()):
    """The ``Vote`` of the ``k`` closest ``Voter`` objects (ids in ``exclude`` never vote), or None."""
    closest = sorted(
        (voter for voter in voters if voter.error_class and voter.id not in exclude),
        key=lambda voter: (-voter.similarity, voter.id),
    )[:k]
    if not closest:
        return None
    weights = {}
    for voter in closest:
        weights[voter.error_class] = weights.get(voter.error_class, 0.0) + max(voter.similarity, 0.0) ** WEIGHT_POWER
    total = sum(weights.values())
    if total <= 0:
        return None
    error_class = max(weights, key=lambda name: (weights[name], name))
    if error_class == CATCH_ALL:
        return None
    winners = tuple(voter for voter in closest if voter.error_class == error_class)
    share = weights[error_class] / total
    raw = share * max(winners[0].similarity, 0.0)
    return Vote(error_class, calibrated(raw, calibration), raw, share, winners)


def calibrated(raw, calibration=SHIPPED_CALIBRATION):
    """The probability the step function ``calibration`` gives to a raw score."""
    for upper, probability in calibration:
        if raw <= upper:
            return probability
    return calibration[-1][1] if calibration else 0.0


def fit_calibration(pairs, min_bin=MIN_BIN):
    """A non-decreasing step function from ``(raw score, right)`` pairs (isotonic regression).

    Scores are first grouped into runs of at least ``min_bin`` cases, then
    adjacent runs whose accuracy decreases are pooled until it never does;
    each run's probability is its accuracy with add-one smoothing.
    Returns ``((upper bound, probability), ...)``; the last bound is 1.0.
    """
    pairs = sorted((float(raw), bool(right)) for raw, right in pairs)
    if not pairs:
        return ((1.0, 0.0),)
    blocks = []  # [upper bound, right count, count]
    for index in range(0, len(pairs), min_bin):
        chunk = pairs[index : index + min_bin]
        blocks.append([chunk[-1][0], sum(right for _raw, right in chunk), len(chunk)])
    if len(blocks) > 1 and blocks[-1][2] < min_bin:
        last = blocks.pop()
        blocks[-1] = [last[0], blocks[-1][1] + last[1], blocks[-1][2] + last[2]]
    pooled = []
    for block in blocks:
        pooled.append(block)
        while len(pooled) > 1 and pooled[-2][1] / pooled[-2][2] >= pooled[-1][1] / pooled[-1][2]:
            top = pooled.pop()
            pooled[-1] = [top[0], pooled[-1][1] + top[1], pooled[-1][2] + top[2]]
    # Add-one smoothing: a bin where every vote was right still says less than certainty.
    steps = [(round(upper, 4), round((right + 1) / (count + 2), 4)) for upper, right, count in pooled]
    steps[-1] = (1.0, steps[-1][1])
    return tuple(steps)
