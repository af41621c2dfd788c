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
printed for the held-out half apart from the whole. The combined match is
also split by where the case comes from (forum, GitHub issue, pull request,
documentation) and by Odoo version band, with the recall of every class, so
the misses are visible; ``python -m bench.bench_real_cases --misses`` lists
the fitting half's misses and wrong answers (never the held-out half's: what
is tuned on them must not be measured on them).
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


def origin(row):
    """Where a case comes from: forum, GitHub issue, pull request or documentation."""
    if row.source == "github":
        return "GitHub PR" if "/pull/" in row.url else "GitHub issue"
    return {"forum": "forum", "kb_article": "documentation"}.get(row.source, row.source)


# Odoo series that printed alike: Python 2 and openerp names (up to 10.0), Python 3
# before the OWL web client (11.0-13.0), OWL 1 (14.0-16.0), OWL 2 (17.0 on).
VERSION_BANDS = ((10, "<= 10.0"), (13, "11.0-13.0"), (16, "14.0-16.0"), (99, ">= 17.0"))
NO_VERSION = "version not given"


def version_band(row):
    """The band of the newest Odoo series a case names (saas-x.y counts as x)."""
    majors = [int(re.search(r"\d+", version).group()) for version in row.odoo_versions if re.search(r"\d", version)]
    if not majors:
        return NO_VERSION
    newest = max(majors)
    return next(label for upper, label in VERSION_BANDS if newest <= upper)


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


def leave_one_out(cases):
    """Each case's neighbours among the others and their vote (a case never votes for itself)."""
    similarities = similarity_matrix(cases)
    neighbour_lists = [neighbours_of(i, cases, similarities) for i in range(len(cases))]
    votes = [
        vote_engine.vote(vote_engine.Voter(n.id, n.error_class, n.similarity, n.guardrail) for n in neighbours)
        for neighbours in neighbour_lists
    ]
    return neighbour_lists, votes


def fit_vote_calibration(cases, votes):
    """The vote's step function fitted on the fitting half's leave-one-out votes.

    ``engine/similar/vote.py`` ships this table; tests/engine/test_engine_vote.py
    fails when the shipped cases no longer give the table it holds.
    """
    return vote_engine.fit_calibration(
        (v.raw, v.error_class == c.row.error_class) for c, v in zip(cases, votes) if v and half(c.row.key) == FIT
    )


def print_figures(label, by_half):
    for name in ("all", FIT, HELD):
        row = by_half[name]
        print(
            f"  {label:<22}{name:<6} n={row['n']:<4} coverage {row['coverage']:6.1%}  false positives "
            f"{row['fp_rate']:5.1%}  ECE {row['ece']:.3f}  wrong>=0.9: {row['wrong_high']}"
        )


def print_split(title, label_of, cases, answers, order=()):
    """Rules + vote figures for each group of cases, on both halves apart."""
    print(f"rules + vote by {title}:")
    present = {label_of(case.row) for case in cases}
    groups = [group for group in order if group in present] + sorted(present - set(order))
    for group in groups:
        for name in (FIT, HELD):
            chosen = [(c, a) for c, a in zip(cases, answers) if label_of(c.row) == group and half(c.row.key) == name]
            if not chosen:
                continue
            row, _confidences = figures([c for c, _a in chosen], [a for _c, a in chosen])
            print(
                f"  {group:<19}{name:<6} n={row['n']:<4} coverage {row['coverage']:6.1%}  false positives "
                f"{row['fp_rate']:5.1%}  wrong>=0.9: {row['wrong_high']}"
            )


def class_recall(cases, answers):
    """{class: {half: (right, total)}} of the combined match (OTHER: abstentions count as right)."""
    table = {}
    for case, answer in zip(cases, answers):
        truth = case.row.error_class
        right = answer.error_class == (UNKNOWN if truth == CATCH_ALL else truth)
        counts = table.setdefault(truth, {FIT: [0, 0], HELD: [0, 0]})[half(case.row.key)]
        counts[0] += right
        counts[1] += 1
    return table


def print_class_recall(cases, answers):
    print("recall of rules + vote by class (OTHER: share left unanswered), fitting / held-out half:")
    table = class_recall(cases, answers)
    for error_class in sorted(table, key=lambda name: (name == CATCH_ALL, name)):
        cells = []
        for name in (FIT, HELD):
            right, total = table[error_class][name]
            cells.append(f"{right:>3}/{total:<3} {right / total:6.1%}" if total else f"{'-':>15}")
        print(f"  {error_class:<24}{cells[0]}   {cells[1]}")


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

    neighbour_lists, votes = leave_one_out(cases)
    fitted = fit_vote_calibration(cases, votes)
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
    print_split("source", origin, cases, combined_answers)
    bands = [label for _upper, label in VERSION_BANDS] + [NO_VERSION]
    print_split("Odoo version band (newest named)", version_band, cases, combined_answers, bands)
    print_class_recall(cases, combined_answers)
    # Only the fitting half's wrong answers are named: the held-out half is only counted.
    wrong = [
        (c.row.key, c.row.error_class, m.error_class, m.signal, m.probability)
        for c, m in zip(cases, combined)
        if m.error_class not in (UNKNOWN, c.row.error_class) and half(c.row.key) == FIT
    ]
    for key, truth, said, signal, probability in wrong:
        print(f"  wrong (fitting half): {key}: {truth} answered {said} by {signal} at {probability:.2f}")
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


def print_fitting_misses():
    """The fitting half's unanswered faults and wrong answers, with the start of the text the rules read."""
    from engine.detect.normalize import clean_report

    cases, _errors = load_shipped()
    library = load_library()
    classifier = Classifier(library)
    guardrail_classes = {guardrail.code: guardrail.error_class for guardrail in library.guardrails}
    neighbour_lists, _votes = leave_one_out(cases)
    for case, neighbours in zip(cases, neighbour_lists):
        if half(case.row.key) != FIT:
            continue
        match = combine(classifier.classify(case.row.problem), neighbours, guardrail_classes=guardrail_classes)
        truth = case.row.error_class
        if match.error_class == truth or (match.error_class == UNKNOWN and truth == CATCH_ALL):
            continue
        said = "unanswered" if match.error_class == UNKNOWN else f"answered {match.error_class} by {match.signal}"
        text = " | ".join(line.strip() for line in clean_report(case.row.problem).splitlines() if line.strip())
        print(f"{truth:<24}{said:<40}{case.row.key}\n    {text[:300]}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--misses"]:
        sys.exit("usage: python -m bench.bench_real_cases --misses   (run from the addon root)")
    print_fitting_misses()
