"""One match for an incident: the rules' answer first, the nearest solved cases second.

The classifier's answer (exception types, message templates, negative
patterns) decides the guardrail whenever it answers; its confidence is
calibrated, so it becomes the match score unchanged, except when a
near-duplicate solved case names another class, which lowers it a little.

Neighbours (solved cases and guardrail texts found by vector similarity) then
do two things:

* they count as support: confirmed solved cases (the source confirmed the
  fix, or a human recorded it here) similar enough to the incident whose class
  agrees with the answer, together with the confirmed cases solved with the
  matched guardrail (``kb_support``, the support input of the confidence);
* when the rules abstain (no class, or two classes fit almost equally), the
  nearest labelled solved cases vote (engine/similar/vote.py) and the vote
  answers when its calibrated probability is high enough; without a vote,
  guardrails close to the incident, and solved cases linked to a guardrail,
  may suggest one;
* when the rules answer and a sure vote names another class, the rules'
  score is lowered like for a near-duplicate naming another class.

Similarity tells look-alike faults apart worse than the rules (most Odoo
tracebacks share their frames and words), so an answer from neighbours is
scored at most ``suggestion_cap``: under the default policy it reaches a
human as an alert, never an automatic fix. Its calibrated probability is kept
apart (``probability``) for the evidence and the benchmarks.
"""

from dataclasses import dataclass, field, fields, replace

from ..library.error_classes import UNKNOWN
from ..similar import vote as vote_engine

KNOWLEDGE = "knowledge"
GUARDRAIL = "guardrail"


@dataclass(frozen=True)
class Neighbour:
    """A record found close to the incident text."""

    kind: str  # KNOWLEDGE or GUARDRAIL
    id: int
    similarity: float
    title: str = ""
    guardrail: object = None  # code of the guardrail it is (or is linked to)
    error_class: object = None  # its class as recorded by a person or the library
    inferred_class: object = None  # what the rules say of its own text, when it has no class
    solved: bool = False  # it records a solution
    confirmed: bool = False  # its source confirmed the fix, or a human recorded it here

    @property
    def label(self):
        return self.error_class or self.inferred_class

    def as_json(self):
        data = {"kind": self.kind, "id": self.id, "title": self.title, "similarity": round(self.similarity, 4)}
        if self.guardrail:
            data["guardrail"] = self.guardrail
        if self.error_class:
            data["error_class"] = self.error_class
        elif self.inferred_class:
            data["inferred_class"] = self.inferred_class
        if self.kind == KNOWLEDGE:
            data["solved"] = self.solved
            data["confirmed"] = self.confirmed
        return data


@dataclass(frozen=True)
class MatchSettings:
    """Similarity thresholds, set for the offline embedding (see the tests' figures)."""

    # A solved case of the answer's class supports it from this similarity on.
    support_similarity: float = 0.5
    # A solved case without any class needs to be this close to count.
    unlabelled_support_similarity: float = 0.8
    # A guardrail's own text suggests it from this similarity on (rules abstained).
    guardrail_similarity: float = 0.4
    # A solved case linked to a guardrail suggests it from this similarity on.
    link_similarity: float = 0.7
    # The suggested class must hold this share of the suggesting similarity.
    suggestion_share: float = 0.6
    # A suggestion scores at most this (the default policy alerts below 0.6).
    suggestion_cap: float = 0.5
    # A solved case this close naming another class lowers the rules' score.
    conflict_similarity: float = 0.9
    conflict_factor: float = 0.9
    # The neighbours' vote answers for abstaining rules from this calibrated probability on
    # (chosen on the fitting half of the shipped cases: false positives under 2%, bench_real_cases).
    vote_min_probability: float = 0.85
    # A vote this sure for another class lowers the rules' score by conflict_factor.
    vote_conflict_probability: float = 0.95
    # Neighbours written into the evidence.
    neighbours_kept: int = 5

    def __post_init__(self):
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "neighbours_kept":
                if int(value) < 0:
                    raise ValueError("neighbours_kept cannot be negative")
            elif not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{item.name} must lie in [0, 1], got {value!r}")

    @classmethod
    def from_overrides(cls, overrides):
        """Defaults with the given ``{name: value}`` applied; unknown names are ignored."""
        known = {item.name: item.type for item in fields(cls)}
        values = {}
        for name, value in (overrides or {}).items():
            if name in known and value not in (None, ""):
                values[name] = int(value) if name == "neighbours_kept" else float(value)
        return replace(cls(), **values)


DEFAULT_SETTINGS = MatchSettings()


@dataclass(frozen=True)
class MatchResult:
    guardrail: object  # a guardrail code, or None
    error_class: str
    score: float
    signal: str  # "rules", "neighbours", "vector" or "none"
    params: dict = field(default_factory=dict)
    kb_support: int = 0
    neighbours: tuple = ()
    evidence: tuple = ()
    # The calibrated probability that error_class is right (the score before policy caps).
    probability: float = 0.0
    supporting: tuple = ()  # ids of the knowledge entries counted in kb_support

    @property
    def matched(self):
        return self.guardrail is not None

    def as_json(self):
        return {
            "signal": self.signal,
            "guardrail": self.guardrail,
            "error_class": self.error_class,
            "score": self.score,
            "params": dict(self.params),
            "kb_support": self.kb_support,
            "probability": self.probability,
            "neighbours": [neighbour.as_json() for neighbour in self.neighbours],
            "evidence": [dict(item) for item in self.evidence],
        }


def combine(classification, neighbours, settings=DEFAULT_SETTINGS, guardrail_classes=None, guardrail_cases=None):
    """The match of one incident.

    ``classification``: the classifier's answer for the incident text.
    ``neighbours``: ``Neighbour`` objects of both kinds, in any order.
    ``guardrail_classes``: code -> class of the guardrails that may be
    suggested; a neighbour naming any other guardrail suggests nothing.
    ``guardrail_cases``: code -> ids of the confirmed solved cases solved with
    that guardrail (they support it however far their text is).
    """
    neighbours = sorted(neighbours, key=lambda n: (-n.similarity, n.kind, n.id))
    guardrail_classes = guardrail_classes or {}
    evidence = []
    the_vote = vote_engine.vote(
        vote_engine.Voter(n.id, n.label, n.similarity, n.guardrail)
        for n in neighbours
        if n.kind == KNOWLEDGE and n.label and n.label != UNKNOWN
    )
    if classification.answered:
        guardrail, error_class = classification.guardrail, classification.error_class
        score, signal = float(classification.confidence), "rules"
        params = dict(classification.params)
        evidence.append(
            {
                "signal": "rules",
                "guardrail": guardrail,
                "error_class": error_class,
                "confidence": score,
                "detail": list(classification.evidence),
            }
        )
        conflict = _conflict(neighbours, error_class, settings)
        if conflict is not None:
            score *= settings.conflict_factor
            evidence.append(
                {
                    "signal": "conflict",
                    "neighbour": conflict.as_json(),
                    "factor": settings.conflict_factor,
                    "detail": f"a solved case {conflict.similarity:.2f} similar names {conflict.label}",
                }
            )
        elif (
            the_vote is not None
            and the_vote.error_class != error_class
            and the_vote.probability >= settings.vote_conflict_probability
        ):
            score *= settings.conflict_factor
            evidence.append(
                {
                    "signal": "conflict",
                    "vote": the_vote.as_json(),
                    "factor": settings.conflict_factor,
                    "detail": f"the nearest solved cases vote {the_vote.error_class} at {the_vote.probability:.2f}",
                }
            )
        probability = score
    else:
        params = {}
        evidence.append({"signal": "rules_abstained", "detail": list(classification.evidence)})
        if the_vote is not None and the_vote.probability >= settings.vote_min_probability:
            error_class, signal, probability = the_vote.error_class, "neighbours", the_vote.probability
            # The guardrail of the closest voter that names an active guardrail of the voted class.
            guardrail = next(
                (
                    voter.guardrail
                    for voter in the_vote.voters
                    if voter.guardrail and guardrail_classes.get(voter.guardrail) == error_class
                ),
                None,
            )
            score = min(probability, settings.suggestion_cap)
            evidence.append(
                dict(
                    the_vote.as_json(),
                    signal="neighbours",
                    guardrail=guardrail,
                    cap=settings.suggestion_cap,
                )
            )
        else:
            if the_vote is not None:
                evidence.append(dict(the_vote.as_json(), signal="vote_too_weak", needed=settings.vote_min_probability))
            suggestion = _suggest(neighbours, settings, guardrail_classes)
            if suggestion is None:
                guardrail, error_class, score, signal = None, UNKNOWN, 0.0, "none"
            else:
                guardrail, error_class, score, voters, share = suggestion
                signal = "vector"
                evidence.append(
                    {
                        "signal": "vector",
                        "guardrail": guardrail,
                        "error_class": error_class,
                        "share": round(share, 4),
                        "cap": settings.suggestion_cap,
                        "neighbours": [voter.as_json() for voter in voters],
                    }
                )
            probability = score
    supporters = [n for n in neighbours if _supports(n, error_class, settings)]
    supporting = dict.fromkeys(n.id for n in supporters)
    for entry_id in (guardrail_cases or {}).get(guardrail, ()) if guardrail else ():
        supporting.setdefault(entry_id)
    if neighbours or supporting:
        evidence.append(
            {
                "signal": "knowledge",
                "kb_support": len(supporting),
                "supporting": [n.as_json() for n in supporters[: settings.neighbours_kept]],
            }
        )
    return MatchResult(
        guardrail=guardrail,
        error_class=error_class,
        score=round(min(max(score, 0.0), 1.0), 4),
        signal=signal,
        params=params,
        kb_support=len(supporting),
        neighbours=tuple(neighbours[: settings.neighbours_kept]),
        evidence=tuple(evidence),
        probability=round(min(max(probability, 0.0), 1.0), 4),
        supporting=tuple(supporting),
    )


def _conflict(neighbours, error_class, settings):
    """The closest labelled solved case naming another class, if it outranks every agreeing one."""
    for neighbour in neighbours:
        if neighbour.similarity < settings.conflict_similarity:
            return None
        if neighbour.kind != KNOWLEDGE or not neighbour.label or neighbour.label == UNKNOWN:
            continue
        return None if neighbour.label == error_class else neighbour
    return None


def _suggest(neighbours, settings, guardrail_classes):
    """(guardrail, class, score, voters, share) from the neighbours, or None."""
    guardrail_classes = guardrail_classes or {}
    votes, voters = {}, {}
    for neighbour in neighbours:
        code = neighbour.guardrail
        if not code or code not in guardrail_classes:
            continue
        threshold = settings.guardrail_similarity if neighbour.kind == GUARDRAIL else settings.link_similarity
        if neighbour.similarity < threshold:
            continue
        error_class = guardrail_classes[code]
        votes[error_class] = votes.get(error_class, 0.0) + neighbour.similarity
        voters.setdefault(error_class, []).append(neighbour)
    if not votes:
        return None
    total = sum(votes.values())
    error_class = max(votes, key=lambda name: (votes[name], name))
    share = votes[error_class] / total
    if share < settings.suggestion_share:
        return None
    # Within the class, the guardrail of the closest voter is the suggestion.
    best = voters[error_class][0]
    score = settings.suggestion_cap * best.similarity * share
    return best.guardrail, error_class, score, tuple(voters[error_class]), share


def _supports(neighbour, error_class, settings):
    if neighbour.kind != KNOWLEDGE or not neighbour.solved or not neighbour.confirmed:
        return False
    label = neighbour.label
    if not label or label == UNKNOWN:
        return neighbour.similarity >= settings.unlabelled_support_similarity
    # Another guardrail of the same class still describes the same kind of fault.
    return label == error_class != UNKNOWN and neighbour.similarity >= settings.support_similarity
