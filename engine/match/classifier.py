"""Rules-first classification of an Odoo error text against the guardrail library.

Every guardrail is scored from the evidence it finds in the text: the
exception types of the traceback (the innermost cause weighs most, so a
psycopg2 error wrapped in a ValidationError is classified by the psycopg2
error), the message templates it requires, its alternative patterns, and
hints from the logger name and the addon paths. Negative patterns veto a
guardrail outright; that is how look-alikes are kept apart.

The best guardrail wins unless its score is weak or a guardrail of another
class scores almost as high: then the answer is UNKNOWN, an abstention that
is never counted as a wrong answer. The confidence of an answer comes from
the kind of evidence behind it, lowered when a rival class came close.

Cheap substring tests run before any regex: each pattern contributes the
longest piece of plain text all its matches must contain, guardrails are
indexed by those pieces, and only guardrails whose pieces occur in the
lowercased text are evaluated.
"""

import re
from dataclasses import dataclass, field

from ..detect.normalize import clean_report
from ..library.error_classes import UNKNOWN
from ..library.guardrails import load_library

# Score of each kind of evidence.
TYPE_AT_ROOT = 3.0
TYPE_IN_CHAIN = 2.0
LOGGER_HINT = 0.5
MODULE_HINT = 0.5
# A pattern is worth more the more literal text it pins down.
PATTERN_BASE = 1.0
PATTERN_PER_CHAR = 1 / 20
PATTERN_CHAR_CAP = 40

MIN_SCORE = 1.5  # below this, nothing is specific enough to answer
TIE_MARGIN = 1.0  # a rival class this close means we cannot tell them apart
STRONG_LITERAL = 15  # plain text a match must pin down to count as a message template

# How often an answer backed by each kind of evidence is right. Set from the
# first run on the labelled corpus, before any rule was adjusted to it: answers
# resting on a message template were right 97-99% of the time, the weaker kinds
# are placed below in the same order; check with bench/bench_classifier.py.
CONFIDENCE_BY_EVIDENCE = {
    "type at root + template": 0.98,
    "template": 0.96,
    "type in chain + template": 0.95,
    "type at root + weak pattern": 0.9,
    "type only": 0.85,
    "type in chain + weak pattern": 0.8,
    "weak pattern": 0.75,
}
# (margin over the best rival class, factor applied to the confidence)
AMBIGUITY_FACTORS = ((3.0, 1.0), (2.0, 0.95), (TIE_MARGIN, 0.85))

_EXCEPTION_LINE = re.compile(
    r"^(?:Uncaught (?:\(in promise\) )?)?"
    r"(?P<type>(?:[A-Za-z_]\w*\.)*(?:Exception|[A-Z]\w*?"
    r"(?:Error|Exception|Violation|Failure|Warning|Column|Table|Canceled|Available|Detected"
    r"|Miss|Denied|Interrupt|Iteration|NotFound|Memory|Transaction)))"
    r"(?=:|[ \t]*$)",
    re.MULTILINE,
)
_LOG_HEADER = re.compile(
    r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)? +\d+ +(?P<level>[A-Z]+) +\S+ +(?P<logger>[\w.]+): ",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Classification:
    """The answer for one text; ``guardrail`` is None when the class is UNKNOWN."""

    error_class: str
    guardrail: object  # the guardrail code, or None
    confidence: float
    evidence: tuple = ()
    params: dict = field(default_factory=dict)

    @property
    def answered(self):
        return self.error_class != UNKNOWN

    def as_dict(self):
        return {
            "error_class": self.error_class,
            "guardrail": self.guardrail,
            "confidence": self.confidence,
            "evidence": list(self.evidence),
            "params": dict(self.params),
        }


@dataclass(frozen=True)
class ParsedLog:
    """What the classifier reads off a text before matching patterns."""

    exception_types: tuple  # short names, in order of appearance: the root cause first
    loggers: tuple

    @property
    def root_type(self):
        return self.exception_types[0] if self.exception_types else None


def parse_log(text):
    """Exception types (root cause first) and logger names found in a log text."""
    types = []
    for match in _EXCEPTION_LINE.finditer(text):
        short = match.group("type").rsplit(".", 1)[-1]
        if not types or types[-1] != short:
            types.append(short)
    loggers = tuple(dict.fromkeys(m.group("logger") for m in _LOG_HEADER.finditer(text)))
    return ParsedLog(tuple(types), loggers)


def required_literal(pattern):
    """The longest plain text every match of ``pattern`` contains, lowercased, or None."""
    best = max(literal_pieces(pattern) or [""], key=len)
    return best if len(best) >= 3 else None


def literal_pieces(pattern):
    """The pieces of plain text every match of ``pattern`` contains, lowercased.

    None when the pattern has top-level alternatives. Conservative on purpose:
    groups and classes contribute nothing, and a character made optional by a
    quantifier ends the piece.
    """
    pieces = []
    current = []
    depth = 0
    i = 0
    n = len(pattern)

    def close_piece():
        if current:
            pieces.append("".join(current))
            current.clear()

    # A top-level alternative means no single piece is required.
    while i < n:
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _skip_class(pattern, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return None
        i += 1

    i = 0
    while i < n:
        char = pattern[i]
        if char == "\\":
            escaped = pattern[i + 1] if i + 1 < n else ""
            if escaped and not escaped.isalnum():
                current.append(escaped)
            else:
                close_piece()
            i += 2
        elif char == "[":
            close_piece()
            i = _skip_class(pattern, i)
        elif char == "(":
            close_piece()
            i = _skip_group(pattern, i)
        elif char in ".^$":
            close_piece()
            i += 1
        elif char in "*?":
            if current:
                current.pop()
            close_piece()
            i += 1
        elif char == "+":
            close_piece()
            i += 1
        elif char == "{":
            quantifier = re.match(r"\{(\d*)(,\d*)?\}", pattern[i:])
            if quantifier:
                if current and quantifier.group(1) in ("", "0"):
                    current.pop()
                close_piece()
                i += quantifier.end()
            else:
                current.append(char)
                i += 1
        else:
            current.append(char)
            i += 1
    close_piece()
    return [piece.lower() for piece in pieces]


def _skip_class(pattern, start):
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def _skip_group(pattern, start):
    depth = 0
    i = start
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _skip_class(pattern, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


@dataclass
class _Candidate:
    guardrail: object
    score: float
    evidence_kind: str
    matched_patterns: int
    evidence: list
    captures: dict


class _PreparedGuardrail:
    """A guardrail with the literal pieces its patterns need, for the prefilter."""

    __slots__ = ("guardrail", "all", "any", "negative", "types", "type_literals", "module_markers")

    def __init__(self, guardrail):
        signals = guardrail.signals
        self.guardrail = guardrail
        self.all = tuple(_with_literal(p) for p in signals.all_patterns)
        self.any = tuple(_with_literal(p) for p in signals.any_patterns)
        self.negative = tuple(_with_literal(p) for p in signals.negative_patterns)
        self.types = frozenset(signals.exception_types)
        self.type_literals = tuple(t.lower() for t in signals.exception_types)
        self.module_markers = tuple((module, (f"addons.{module}.", f"/{module}/")) for module in signals.modules)

    def keys(self):
        """Literals of which at least one must be in a text for this guardrail to match, or None."""
        literals = [literal for _pattern, literal, _specificity in self.all if literal]
        if literals:
            return (max(literals, key=len),)
        if self.any and all(literal for _pattern, literal, _specificity in self.any):
            return tuple(literal for _pattern, literal, _specificity in self.any)
        if not self.all and not self.any:
            return self.type_literals
        return None

    def may_match(self, has):
        """False when a literal the patterns need is missing from the text."""
        for _pattern, literal, _specificity in self.all:
            if literal and not has(literal):
                return False
        if self.any:
            literals = [literal for _pattern, literal, _specificity in self.any]
            if all(literals) and not any(has(literal) for literal in literals):
                return False
        if not self.all and not self.any:
            return any(has(literal) for literal in self.type_literals)
        return True

    def evaluate(self, text, parsed, has):
        """The candidate this guardrail makes for ``text``, or None."""
        guardrail = self.guardrail
        evidence = []
        captures = {}
        score = 0.0
        literal_chars = 0
        matched = 0
        for pattern, _literal, specificity in self.all:
            match = pattern.search(text)
            if match is None:
                return None
            matched += 1
            score += _pattern_weight(specificity)
            literal_chars += specificity
            _capture(match, captures)
            evidence.append(f"message matches {_snippet(match)}")
        if self.any:
            # The most specific alternative that matches counts, whatever the order they are listed in.
            best_match, best_specificity = None, -1
            for pattern, literal, specificity in self.any:
                if specificity <= best_specificity or (literal and not has(literal)):
                    continue
                match = pattern.search(text)
                if match is not None:
                    best_match, best_specificity = match, specificity
            if best_match is None:
                return None
            matched += 1
            score += _pattern_weight(best_specificity)
            literal_chars += best_specificity
            _capture(best_match, captures)
            evidence.append(f"message matches {_snippet(best_match)}")
        for pattern, literal, _specificity in self.negative:
            if literal and not has(literal):
                continue
            if pattern.search(text):
                return None

        type_hit = None
        if self.types:
            if parsed.root_type in self.types:
                type_hit = "root"
                score += TYPE_AT_ROOT
                evidence.insert(0, f"exception {parsed.root_type} is the root cause")
            else:
                chained = next((t for t in parsed.exception_types if t in self.types), None)
                if chained:
                    type_hit = "chain"
                    score += TYPE_IN_CHAIN
                    evidence.insert(0, f"exception {chained} appears in the chain")
        if not matched and not type_hit:
            return None

        for prefix in guardrail.signals.loggers:
            if any(logger.startswith(prefix) for logger in parsed.loggers):
                score += LOGGER_HINT
                evidence.append(f"logged by {prefix}")
                break
        for module, markers in self.module_markers:
            if any(has(marker) for marker in markers):
                score += MODULE_HINT
                evidence.append(f"addon {module} involved")
                break

        for pattern in guardrail.signals.capture_patterns:
            match = pattern.search(text)
            if match is not None:
                _capture(match, captures)

        template = literal_chars >= STRONG_LITERAL
        if not matched:
            kind = "type only"
        elif type_hit == "root":
            kind = "type at root + template" if template else "type at root + weak pattern"
        elif type_hit == "chain":
            kind = "type in chain + template" if template else "type in chain + weak pattern"
        else:
            kind = "template" if template else "weak pattern"
        return _Candidate(guardrail, score, kind, matched, evidence, captures)


def _with_literal(pattern):
    """(pattern, the literal the prefilter looks for, how much plain text it pins down)."""
    pieces = literal_pieces(pattern.pattern) or []
    return pattern, required_literal(pattern.pattern), sum(len(piece) for piece in pieces)


def _pattern_weight(specificity):
    return PATTERN_BASE + min(specificity, PATTERN_CHAR_CAP) * PATTERN_PER_CHAR


def _capture(match, captures):
    for name, value in match.groupdict().items():
        if value is not None and name not in captures:
            captures[name] = value


def _snippet(match, limit=90):
    text = " ".join(match.group(0).split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


class Classifier:
    """Classifies log texts with one library; build once, call often."""

    def __init__(self, library=None):
        self.library = library or load_library()
        self._prepared = tuple(_PreparedGuardrail(g) for g in self.library.guardrails)
        # Index: a key literal -> the guardrails that cannot match without it.
        self._by_key = {}
        self._unindexed = []
        for prepared in self._prepared:
            keys = prepared.keys()
            if keys is None:
                self._unindexed.append(prepared)
            for key in keys or ():
                self._by_key.setdefault(key, []).append(prepared)
        self._keys = tuple(self._by_key)

    def classify(self, text):
        """The error class of one log message with its traceback."""
        text = clean_report(text)
        lower = text.lower()
        seen = {}

        def has(literal):
            found = seen.get(literal)
            if found is None:
                found = seen[literal] = literal in lower
            return found

        shortlist = {id(p): p for p in self._unindexed}
        for key in self._keys:
            found = seen[key] = key in lower
            if found:
                for prepared in self._by_key[key]:
                    shortlist[id(prepared)] = prepared
        if not shortlist:
            return Classification(UNKNOWN, None, 0.0, ("no guardrail matched",))

        parsed = parse_log(text)
        candidates = []
        for prepared in shortlist.values():
            if prepared.may_match(has):
                candidate = prepared.evaluate(text, parsed, has)
                if candidate is not None:
                    candidates.append(candidate)
        return self._decide(candidates)

    def _decide(self, candidates):
        if not candidates:
            return Classification(UNKNOWN, None, 0.0, ("no guardrail matched",))
        candidates.sort(key=lambda c: (-c.score, -c.matched_patterns, c.guardrail.code))
        best = candidates[0]
        rival = next((c for c in candidates[1:] if c.guardrail.error_class != best.guardrail.error_class), None)
        evidence = [
            f"{best.guardrail.code} ({best.guardrail.error_class}) scored {best.score:.2f} on {best.evidence_kind}"
        ] + best.evidence
        if rival is not None:
            evidence.append(
                f"runner-up {rival.guardrail.code} ({rival.guardrail.error_class}) scored {rival.score:.2f}"
            )
        if best.score < MIN_SCORE:
            evidence.append(f"abstained: best score under {MIN_SCORE}")
            return Classification(UNKNOWN, None, 0.0, tuple(evidence))
        margin = best.score - rival.score if rival is not None else float("inf")
        if margin < TIE_MARGIN:
            evidence.append("abstained: two classes fit almost equally well")
            return Classification(UNKNOWN, None, 0.0, tuple(evidence))
        confidence = CONFIDENCE_BY_EVIDENCE[best.evidence_kind]
        for threshold, factor in AMBIGUITY_FACTORS:
            if margin >= threshold:
                confidence *= factor
                break
        return Classification(
            best.guardrail.error_class,
            best.guardrail.code,
            round(confidence, 3),
            tuple(evidence),
            _params(best),
        )


def _params(candidate):
    """Named groups captured, plus the auto-patch parameters the guardrail declares."""
    params = dict(candidate.captures)
    groups = candidate.guardrail.signals.group_names
    for name, source in candidate.guardrail.autopatch_params.items():
        if source in params:
            params[name] = params[source]
        elif source not in groups:
            params[name] = source  # a constant
    return params


_default = {}


def default_classifier():
    """A classifier over the shipped library, built once per process."""
    library = load_library()
    classifier = _default.get(id(library))
    if classifier is None:
        _default.clear()
        classifier = _default[id(library)] = Classifier(library)
    return classifier


def classify(text, library=None):
    """Classify one text with the shipped library (or the one given)."""
    classifier = Classifier(library) if library is not None else default_classifier()
    return classifier.classify(text)
