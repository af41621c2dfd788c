"""Bounded work on unbounded input: every text pattern runs in linear time and the classifier reads a bounded text.

A backtracking pattern that restarts its scan at every position of a line
costs the square of the line: a 300 KB report once kept the healing job busy
for minutes. The probes (bench/bench_patterns.py) repeat what each shipped
pattern starts with at two sizes; figures for 1 MB texts come from
``bin/self-healing bench --only patterns``.
"""

import re

import pytest

from bench.bench_patterns import (
    FLOOR,
    LARGE,
    RATIO_LIMIT,
    shipped_patterns,
    starts_with_unbounded_repeat,
    superlinear,
)
from engine.match.classifier import MAX_LINE_CHARS, MAX_TEXT_CHARS, Classifier, bounded_text

PATTERNS = shipped_patterns()


def test_probe_tells_quadratic_from_linear():
    quadratic = re.compile(r"(?P<dependency>\S[^\n]*?) is an invalid external dependency specification", re.M)
    # Small sizes: the quadratic one already takes most of a second at 10,000 characters.
    assert superlinear(quadratic, small=2500, large=10_000) is not None
    linear = re.compile(
        r"^[ \t]*(?P<dependency>\S[^\n]{0,1000}?) is an invalid external dependency specification", re.M
    )
    assert superlinear(linear) is None


def test_no_shipped_pattern_starts_with_an_unbounded_repeat():
    assert starts_with_unbounded_repeat(re.compile(r"(\w+) object has no attribute"))
    assert starts_with_unbounded_repeat(re.compile(r"\S[^\n]*? is invalid"))
    assert not starts_with_unbounded_repeat(re.compile(r"^\s*(\w+) object"))
    offenders = [where for where, pattern in PATTERNS if starts_with_unbounded_repeat(pattern)]
    assert offenders == []


def test_every_shipped_pattern_is_linear():
    offenders = []
    for where, pattern in PATTERNS:
        found = superlinear(pattern)
        if found is not None:
            unit, fast, slow = found
            offenders.append(f"{where} {pattern.pattern!r}: {unit!r} x{slow / max(fast, 1e-9):.0f} ({slow:.2f} s)")
    assert offenders == [], f"quadratic (> x{RATIO_LIMIT} and > {FLOOR} s at {LARGE} chars): {offenders}"


def test_bounded_text_keeps_head_and_tail():
    head = "2024-05-01 10:00:00,123 4242 ERROR prod odoo.http: request failed\n"
    tail = 'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "res_partner_pkey"\n'
    text = head + ("noise line\n" * 200_000) + tail
    bounded = bounded_text(text)
    assert len(bounded) <= MAX_TEXT_CHARS
    assert bounded.startswith(head) and bounded.endswith(tail)
    assert bounded_text("short text") == "short text"


def test_long_lines_are_cut():
    bounded = bounded_text("KeyError: 'x' " + "a" * 100_000 + "\nnext line")
    assert max(len(line) for line in bounded.split("\n")) == MAX_LINE_CHARS
    assert bounded.endswith("\nnext line")


@pytest.mark.parametrize("size", [1 << 20, 10 << 20])
def test_classifier_answers_the_root_cause_of_a_huge_text(size):
    tail = (
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/models.py", line 4807, in _create\n    cr.execute(query)\n'
        'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "res_partner_pkey"\n'
        "DETAIL:  Key (id)=(11063) already exists.\n"
    )
    small = Classifier().classify(tail)
    huge = Classifier().classify(("x" * 99 + "\n") * (size // 100) + tail)
    assert small.answered
    assert (huge.error_class, huge.guardrail) == (small.error_class, small.guardrail)
