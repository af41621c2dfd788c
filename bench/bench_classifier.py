"""The rules-first classifier on the labelled corpus: coverage, false positives, calibration, speed.

Corpus: tests/data/classifier_corpus.jsonl, one {"id", "log", "error_class"}
per line. Coverage counts answers among examples whose true class is not
OTHER; a false positive is a wrong class among answers, and any answer to an
OTHER example is wrong (UNKNOWN is the only right reaction to it).
"""

import json
import time
from collections import Counter
from pathlib import Path

from engine.library.guardrails import load_library
from engine.match.classifier import UNKNOWN, Classifier

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "classifier_corpus.jsonl"
# Written by someone who saw neither the rules nor the corpus above, after the rules were tuned
# on that corpus: the honest out-of-sample figures.
HOLDOUT = CORPUS.with_name("classifier_holdout.jsonl")
CATCH_ALL = "OTHER"
CALIBRATION_BINS = 10


def load_corpus(path=CORPUS):
    examples = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                examples.append((record.get("id"), record["log"], record["error_class"]))
    return examples


def score(examples, answers):
    """Figures of merit for answers (Classification objects) given in corpus order."""
    per_class = {}
    answered = correct = fault_examples = fault_answered = 0
    confidences = []
    for (_id, _log, truth), answer in zip(examples, answers):
        row = per_class.setdefault(truth, Counter())
        row["n"] += 1
        if truth != CATCH_ALL:
            fault_examples += 1
        if answer.error_class == UNKNOWN:
            continue
        right = answer.error_class == truth and truth != CATCH_ALL
        row["answered"] += 1
        row["correct"] += right
        answered += 1
        correct += right
        fault_answered += truth != CATCH_ALL
        confidences.append((answer.confidence, right))
    return {
        "corpus_size": len(examples),
        "corpus_coverage": round(fault_answered / fault_examples, 4) if fault_examples else 0.0,
        "corpus_fp_rate": round((answered - correct) / answered, 4) if answered else 0.0,
        "corpus_ece": round(expected_calibration_error(confidences), 4),
        "corpus_answered": answered,
        "corpus_correct": correct,
    }, per_class


def expected_calibration_error(confidences, bins=CALIBRATION_BINS):
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    if not confidences:
        return 0.0
    buckets = [[] for _ in range(bins)]
    for confidence, right in confidences:
        buckets[min(int(confidence * bins), bins - 1)].append((confidence, right))
    total = len(confidences)
    error = 0.0
    for bucket in buckets:
        if bucket:
            mean_confidence = sum(c for c, _ in bucket) / len(bucket)
            accuracy = sum(r for _, r in bucket) / len(bucket)
            error += len(bucket) / total * abs(accuracy - mean_confidence)
    return error


def throughput(classifier, texts, seconds):
    """Texts classified per second on one core, cycling over the corpus for ``seconds``."""
    done = 0
    started = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        for text in texts:
            classifier.classify(text)
        done += len(texts)
        elapsed = time.perf_counter() - started
    return done / elapsed


def run(ctx):
    if not CORPUS.exists():
        print(f"no corpus at {CORPUS.relative_to(CORPUS.parents[2])}: classifier benchmark skipped")
        return {}
    examples = load_corpus()
    classifier = Classifier(load_library())
    answers = [classifier.classify(log) for _id, log, _truth in examples]
    figures, per_class = score(examples, answers)

    print(f"{'class':<24}{'n':>5}{'answered':>10}{'correct':>9}")
    for code in sorted(per_class):
        row = per_class[code]
        print(f"{code:<24}{row['n']:>5}{row['answered']:>10}{row['correct']:>9}")
    wrong = [
        (example[0], example[2], answer.error_class, answer.guardrail, answer.confidence)
        for example, answer in zip(examples, answers)
        if answer.error_class != UNKNOWN and answer.error_class != example[2]
    ]
    for example_id, truth, said, code, confidence in wrong:
        print(f"  wrong: {example_id}: {truth} classified {said} by {code} at {confidence:.2f}")

    if HOLDOUT.exists():
        held = load_corpus(HOLDOUT)
        held_figures, _per_class = score(held, [classifier.classify(log) for _id, log, _truth in held])
        figures.update({key.replace("corpus_", "holdout_"): value for key, value in held_figures.items()})
        print(
            f"held-out set, {figures['holdout_size']} examples: coverage {figures['holdout_coverage']:.1%}, "
            f"false positives {figures['holdout_fp_rate']:.1%}, calibration error {figures['holdout_ece']:.3f}"
        )

    texts = [log for _id, log, _truth in examples]
    figures["classify_per_s"] = round(throughput(classifier, texts, 0.5 if ctx.quick else 2.0))
    print(
        f"{figures['corpus_size']} examples: coverage {figures['corpus_coverage']:.1%} (target >= 85%), "
        f"false positives {figures['corpus_fp_rate']:.1%} of answers (target <= 2%), "
        f"calibration error {figures['corpus_ece']:.3f} (target <= 0.05), "
        f"{figures['classify_per_s']} texts/s on one core (target >= 2000)"
    )
    return figures
