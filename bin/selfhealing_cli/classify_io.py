"""JSON Lines in, classes out: the engine side of ``bin/self-healing classify``.

Each input line is ``{"id": ..., "log": "..."}``; each output line is
``{"id", "error_class", "guardrail", "confidence"}`` (plus ``evidence`` and
``params`` with --explain). A line that cannot be read gets an output line
with ``error`` and its line number, and the rest is still processed. Blank
lines are skipped. Needs no database and no server.
"""

import argparse
import json
import sys

from engine.library.guardrails import LibraryError, load_library
from engine.match.classifier import Classifier


def build_parser():
    parser = argparse.ArgumentParser(
        prog="self-healing classify",
        description='Classify Odoo error texts (JSON Lines {"id", "log"}) against the guardrail library.',
    )
    parser.add_argument(
        "inputs", nargs="*", metavar="FILE", help="JSON Lines files to read ('-' or nothing: standard input)"
    )
    parser.add_argument("--library", metavar="DIR", help="guardrail folder (default: the addon's data/guardrails)")
    parser.add_argument("--explain", action="store_true", help="add the evidence and captured parameters")
    return parser


def main(argv=None, stdin=sys.stdin, stdout=sys.stdout):
    """Run the command; 0 when every line was read, 1 if any line was bad, 2 on a usage error."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the reason
        return int(exc.code or 0)
    try:
        classifier = Classifier(load_library(args.library))
    except LibraryError as exc:
        print(f"self-healing classify: {exc}", file=sys.stderr)
        return 2

    bad_lines = 0
    for source in args.inputs or ["-"]:
        try:
            lines = stdin if source == "-" else open(source, encoding="utf-8")
        except OSError as exc:
            print(f"self-healing classify: cannot read {source}: {exc.strerror}", file=sys.stderr)
            return 2
        try:
            bad_lines += _classify_lines(classifier, lines, stdout, args.explain)
        finally:
            if lines is not stdin:
                lines.close()
    stdout.flush()
    return 1 if bad_lines else 0


def _classify_lines(classifier, lines, stdout, explain):
    bad_lines = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record, reason = _read_record(line)
        if reason:
            bad_lines += 1
            answer = {"id": record.get("id") if record else None, "line": number, "error": reason}
        else:
            result = classifier.classify(record["log"])
            answer = {
                "id": record.get("id"),
                "error_class": result.error_class,
                "guardrail": result.guardrail,
                "confidence": result.confidence,
            }
            if explain:
                answer["evidence"] = list(result.evidence)
                answer["params"] = result.params
        stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
    return bad_lines


def _read_record(line):
    """(record, None) or (partial record or None, why the line is unusable)."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        return None, f"invalid JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(record, dict):
        return None, "a line must be a JSON object"
    if "log" not in record:
        return record, 'missing "log"'
    if not isinstance(record["log"], str):
        return record, '"log" must be a string'
    return record, None


if __name__ == "__main__":
    sys.exit(main())
