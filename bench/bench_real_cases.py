"""The classifier and the neighbours' vote on the shipped real cases (data/knowledge/cases).

Each case's ``problem`` is the error text as its reporter posted it (any
Odoo version, prefixes, forum escaping, prose); its ``error_class`` is the
label. Figures, for every method measured in this run:

* coverage: answered cases among those whose class is not OTHER;
* false positives: wrong answers among answers (any answer to OTHER is wrong);
* ECE: expected calibration error of the answers' confidence (10 bins);
* wrong >= 0.9: wrong answers given at confidence 0.9 or more.

Methods: the rules-first classifier; a baseline of 25 plain regexes (its
confidence is its accuracy on the fitting half); the neighbours' vote alone,
leave-one-out (a case never votes for itself); and the combined match
(engine/match/matching.py: rules first, the vote when they abstain).

Honesty: the cases are split in two halves by a stable hash of their key.
The vote's calibration is fitted on the fitting half and every figure is
printed for the held-out half apart from the whole.
"""

import hashlib
import re
import time
from dataclasses import replace

from engine.library.error_classes import UNKNOWN
from engine.library.guardrails import load_library
from engine.library.knowledge_import import load_shipped
from engine.match.classifier import Classifier
from engine.match.matching import DEFAULT_SETTINGS, KNOWLEDGE, Neighbour, combine
from engine.similar import vote as vote_engine
from engine.similar.embed import get_provider

from .bench_classifier import expected_calibration_error

CATCH_ALL = "OTHER"
FIT, HELD = "fit", "held"
BINS = 10
CANDIDATES = 50  # neighbours handed to the match per case, as the matcher does

# A first-match list a developer would write in an afternoon: one or two
# telltale phrases per class, nothing else.
BASELINE = tuple(
    (error_class, re.compile(pattern))
    for error_class, pattern in (
        ("SEQ_PKEY_DRIFT", r"_pkey\"?\s*\n?\s*DETAIL:\s+Key \(id\)"),
        ("UNIQUE_VIOLATION_OTHER", r"duplicate key value violates unique constraint"),
        ("UNDEFINED_COLUMN", r"column \S+ does not exist"),
        ("UNDEFINED_TABLE", r"relation \S+ does not exist"),
        ("FILESTORE_MISSING", r"filestore"),
        ("ASSET_BUNDLE", r"(?i)assets?[_ ]bundle|web\.assets_|style compilation"),
        ("XPATH_NOT_FOUND", r"cannot be located in parent view"),
        ("VIEW_FIELD_MISSING", r"Field [`'\"]?\w+[`'\"]? does not exist"),
        ("INVALID_FIELD_DOMAIN", r"Invalid field .{0,80}(?:in leaf|in condition|domain)"),
        ("EXTERNAL_ID_NOT_FOUND", r"External ID not found"),
        ("EXPECTED_SINGLETON", r"Expected singleton"),
        ("MISSING_RECORD", r"MissingError|does not exist or has been deleted"),
        ("ACCESS_ERROR", r"AccessError|not allowed to access"),
        ("SERIALIZATION_FAILURE", r"could not serialize access"),
        ("LOCK_NOT_AVAILABLE", r"could not obtain lock|LockNotAvailable"),
        ("PY_DEPENDENCY_MISSING", r"No module named|external dependency"),
        ("MANIFEST_INVALID", r"__manifest__|Unmet dependencies"),
        ("CRON_FAILURE", r"ir_cron|failed in Job"),
        ("MAIL_DELIVERY", r"SMTP|MailDeliveryException"),
        ("REPORT_WKHTMLTOPDF", r"(?i)wkhtmltopdf"),
        ("POS_FIELD_SYNC", r"point_of_sale|_load_pos_data"),
        ("ACCOUNT_SEQUENCE", r"sequence number"),
        ("FIELD_KEYERROR", r"KeyError"),
        ("QWEB_RENDER", r"QWebException|Error while render"),
        ("RECURSION_OR_MEMORY", r"RecursionError|MemoryError|maximum recursion depth"),
    )
)


def half(key):
    """FIT or HELD, the same on every machine for the same key."""
    return FIT if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else HELD


class Answer:
    __slots__ = ("error_class", "confidence")

    def __init__(self, error_class, confidence):
        self.error_class = error_class
        self.confidence = confidence


def baseline_classify(text):
    for error_class, pattern in BASELINE:
        if pattern.search(text):
            return error_class
    return UNKNOWN


def figures(cases, answers):
    """coverage, fp_rate, ece, wrong_high, answered, n over (case, Answer) pairs."""
    faults = answered = fault_answered = correct = wrong_high = 0
    confidences = []
    for case, answer in zip(cases, answers):
        truth = case.row.error_class
        faults += truth != CATCH_ALL
        if answer.error_class == UNKNOWN:
            continue
        right = answer.error_class == truth and truth != CATCH_ALL
        answered += 1
        fault_answered += truth != CATCH_ALL
        correct += right
        wrong_high += (not right) and answer.confidence >= 0.9
        confidences.append((answer.confidence, right))
    return {
        "n": len(cases),
        "answered": answered,
        "coverage": round(fault_answered / faults, 4) if faults else 0.0,
        "fp_rate": round((answered - correct) / answered, 4) if answered else 0.0,
        "ece": round(expected_calibration_error(confidences, BINS), 4),
        "wrong_high": wrong_high,
    }, confidences


def reliability_table(confidences):
    """Rows (bin low, bin high, count, mean confidence, accuracy) of the non-empty bins."""
    rows = []
    for index in range(BINS):
        low, high = index / BINS, (index + 1) / BINS
        chunk = [(c, r) for c, r in confidences if min(int(c * BINS), BINS - 1) == index]
        if chunk:
            mean = sum(c for c, _r in chunk) / len(chunk)
            rows.append((low, high, len(chunk), mean, sum(r for _c, r in chunk) / len(chunk)))
    return rows


def similarity_matrix(cases):
    """Similarity of each case's problem (the incident side) to every case's title + problem (the entry side)."""
    import numpy as np

    provider = get_provider("offline")
    queries = np.array(provider.embed([case.row.problem for case in cases]))
    entries = np.array(provider.embed([f"{case.row.title}\n{case.row.problem}" for case in cases]))
    similarities = queries @ entries.T
    np.fill_diagonal(similarities, -1.0)  # a case never votes for, nor supports, itself
    return similarities


def neighbours_of(index, cases, similarities, limit=CANDIDATES):
    import numpy as np

    order = np.argsort(-similarities[index])[:limit]
    return [
        Neighbour(
            KNOWLEDGE,
            int(j),
            float(similarities[index, j]),
            cases[j].row.title,
            guardrail=cases[j].row.guardrail,
            error_class=cases[j].row.error_class,
            solved=bool(cases[j].row.solution),
            confirmed=bool(cases[j].row.confirmed_by),
        )
        for j in order
        if j != index
    ]


def print_figures(label, by_half):
    for name in ("all", FIT, HELD):
        row = by_half[name]
        print(
            f"  {label:<22}{name:<6} n={row['n']:<4} coverage {row['coverage']:6.1%}  false positives "
            f"{row['fp_rate']:5.1%}  ECE {row['ece']:.3f}  wrong>=0.9: {row['wrong_high']}"
        )


def measure(cases, answers):
    by_half, confidences = {}, {}
    for name in ("all", FIT, HELD):
        chosen = [(c, a) for c, a in zip(cases, answers) if name == "all" or half(c.row.key) == name]
        by_half[name], confidences[name] = figures([c for c, _a in chosen], [a for _c, a in chosen])
    return by_half, confidences


def run(ctx):
    cases, errors = load_shipped()
    if errors:
        print(f"{len(errors)} shipped case(s) rejected by the loader, e.g. {errors[0]}")
    if not cases:
        print("no shipped cases: benchmark skipped")
        return {}
    library = load_library()
    classifier = Classifier(library)
    guardrail_classes = {guardrail.code: guardrail.error_class for guardrail in library.guardrails}
    texts = [case.row.problem for case in cases]
    print(f"{len(cases)} shipped real cases, {sum(half(c.row.key) == FIT for c in cases)} in the fitting half")

    rules = [classifier.classify(text) for text in texts]
    rules_answers = [Answer(r.error_class, r.confidence) for r in rules]

    fit_baseline = [(c, baseline_classify(t)) for c, t in zip(cases, texts) if half(c.row.key) == FIT]
    answered = [(c, a) for c, a in fit_baseline if a != UNKNOWN]
    baseline_confidence = (
        round(sum(a == c.row.error_class for c, a in answered) / len(answered), 3) if answered else 0.0
    )
    baseline_answers = [Answer(baseline_classify(t), baseline_confidence) for t in texts]

    similarities = similarity_matrix(cases)
    neighbour_lists = [neighbours_of(i, cases, similarities) for i in range(len(cases))]
    votes = [
        vote_engine.vote(vote_engine.Voter(n.id, n.error_class, n.similarity, n.guardrail) for n in neighbours)
        for neighbours in neighbour_lists
    ]
    fitted = vote_engine.fit_calibration(
        (v.raw, v.error_class == c.row.error_class) for c, v in zip(cases, votes) if v and half(c.row.key) == FIT
    )
    print(f"vote calibration fitted on the fitting half: {fitted}")
    if fitted != vote_engine.SHIPPED_CALIBRATION:
        print("  (differs from engine/similar/vote.py SHIPPED_CALIBRATION: the shipped cases changed, refit it)")
    vote_answers = [
        Answer(v.error_class, vote_engine.calibrated(v.raw, fitted))
        if v and vote_engine.calibrated(v.raw, fitted) >= DEFAULT_SETTINGS.vote_min_probability
        else Answer(UNKNOWN, 0.0)
        for v in votes
    ]
    print("rules + vote on the fitting half, by the vote's minimum probability (vote_min_probability):")
    for threshold in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95):
        settings = replace(DEFAULT_SETTINGS, vote_min_probability=threshold)
        chosen = [(c, r, n) for c, r, n in zip(cases, rules, neighbour_lists) if half(c.row.key) == FIT]
        swept = [combine(r, n, settings, guardrail_classes) for _c, r, n in chosen]
        row, _confidences = figures([c for c, _r, _n in chosen], [Answer(m.error_class, m.probability) for m in swept])
        print(
            f"  >= {threshold:.2f}: coverage {row['coverage']:6.1%}  false positives {row['fp_rate']:5.1%}"
            f"  ECE {row['ece']:.3f}  wrong>=0.9: {row['wrong_high']}"
        )
    combined = [
        combine(r, neighbours, guardrail_classes=guardrail_classes) for r, neighbours in zip(rules, neighbour_lists)
    ]
    combined_answers = [Answer(m.error_class, m.probability) for m in combined]

    results = {}
    for label, answers in (
        ("baseline (25 regexes)", baseline_answers),
        ("rules", rules_answers),
        ("vote, leave-one-out", vote_answers),
        ("rules + vote", combined_answers),
    ):
        by_half, confidences = measure(cases, answers)
        print_figures(label, by_half)
        results[label] = (by_half, confidences)

    print("reliability of rules + vote on the held-out half (confidence bin: n, mean confidence, accuracy):")
    for low, high, count, mean, accuracy in reliability_table(results["rules + vote"][1][HELD]):
        print(f"  [{low:.1f}, {high:.1f})  n={count:<4} confidence {mean:.3f}  accuracy {accuracy:.3f}")
    wrong = [
        (c.row.key, c.row.error_class, m.error_class, m.signal, m.probability)
        for c, m in zip(cases, combined)
        if m.error_class not in (UNKNOWN, c.row.error_class)
    ]
    for key, truth, said, signal, probability in wrong:
        print(f"  wrong: {key}: {truth} answered {said} by {signal} at {probability:.2f}")
    supported = [m.kb_support for m in combined if m.error_class != UNKNOWN]
    if supported:
        print(f"confirmed solved cases supporting an answer: median {sorted(supported)[len(supported) // 2]}")

    started = time.perf_counter()
    rounds = 1 if ctx.quick else 3
    for _round in range(rounds):
        for text in texts:
            classifier.classify(text)
    per_second = round(rounds * len(texts) / (time.perf_counter() - started))
    print(f"classify on real texts: {per_second} texts/s on one core (target >= 2000)")

    # What the report cleaning costs, against the whole classification, in this run.
    from engine.detect.normalize import clean_report

    from .bench_classifier import CORPUS, load_corpus

    corpus = [log for _id, log, _truth in load_corpus()] if CORPUS.exists() else texts
    started = time.perf_counter()
    for _round in range(rounds):
        for text in corpus:
            clean_report(text)
    cleaning = time.perf_counter() - started
    started = time.perf_counter()
    for _round in range(rounds):
        for text in corpus:
            classifier.classify(text)
    share = round(cleaning / (time.perf_counter() - started), 3)
    print(f"report cleaning takes {share:.1%} of the classification time on the team-written corpus")

    flat = {"real_classify_per_s": per_second, "real_cleaning_share_of_classify": share}
    for label, key in (
        ("baseline (25 regexes)", "baseline"),
        ("rules", "rules"),
        ("vote, leave-one-out", "vote"),
        ("rules + vote", "combined"),
    ):
        for name in ("all", HELD):
            for figure, value in results[label][0][name].items():
                flat[f"real_{key}_{name}_{figure}"] = value
    return flat
