"""The shipped knowledge base (data/knowledge/cases/*.jsonl) holds real solved cases.

Each line is one public thread (GitHub issue or pull request, Odoo forum question,
documentation page) with the reporter's error text, our summary of the fix and how
the fix was confirmed. These checks keep the files loadable and honest: a schema,
URLs of the shapes the sources really have, keys that agree with their URLs, classes
and guardrails that exist and agree with each other, no case twice, and enough cases
per class for the similar-case vote to mean something.
"""

import collections
import json
import re
from pathlib import Path

from engine.library.guardrails import DEFAULT_CLASSES_FILE, DEFAULT_GUARDRAIL_DIR, load_classes

CASES_DIR = Path(__file__).resolve().parents[2] / "data" / "knowledge" / "cases"

FIELDS = {
    "key": str,
    "title": str,
    "problem": str,
    "solution": str,
    "url": str,
    "odoo_versions": list,
    "source": str,
    "error_class": str,
    "confirmed_by": str,
}
OPTIONAL_FIELDS = {"guardrail": str}
SOURCES = {"github", "forum", "kb_article"}
CONFIRMATIONS = {"maintainer", "merged_pr", "reporter", "accepted_answer", "documentation"}
# "documentation" means the fix is the one a linked documentation page (or the
# module's own error text pointing to it) prescribes; an accepted answer exists only on the forum.
CONFIRMED_BY_SOURCE = {
    "github": {"maintainer", "merged_pr", "reporter", "documentation"},
    "forum": {"accepted_answer", "maintainer", "reporter"},
    "kb_article": {"documentation", "maintainer"},
}
VERSION_RE = re.compile(r"^(saas-)?\d{1,2}\.\d$")
GITHUB_URL_RE = re.compile(
    r"^https://github\.com/(?P<repo>[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*)/"
    r"(?P<kind>issues|pull)/(?P<number>[1-9]\d*)$"
)
# Forum questions live under /forum/<forum-slug>-<id>/<question-slug>-<id>.
FORUM_URL_RE = re.compile(r"^https://www\.odoo\.com/(?:[a-z]{2}(?:_[A-Z]{2})?/)?forum/[a-z0-9-]+-\d+/[a-z0-9%-]+-\d+$")
PAGE_URL_RE = re.compile(r"^https://[a-z0-9.-]+\.[a-z]{2,}(/[^\s#]*)?$")

MIN_TOTAL = 610
MIN_PER_CLASS = 10
# Classes for which public sources hold fewer solved threads than MIN_PER_CLASS
# (searched, not guessed): each one is named with the floor it does reach.
THIN_CLASSES = {
    # Mostly answered on the Odoo forum, whose threads are not in the searchable
    # sources; GitHub threads that name a confirmed fix are all in.
    "SEQ_PKEY_DRIFT": 4,
    "FILESTORE_MISSING": 8,
    "LOCK_NOT_AVAILABLE": 7,
}

MIN_PROBLEM_CHARS = 15
MIN_SOLUTION_CHARS = 80
MAX_TITLE_CHARS = 200
# Two cases are the same report when their error texts and their fixes are both
# near-identical. The same error with a different root cause and fix is a second,
# useful case (e.g. "relation ir_model does not exist" from an old PostgreSQL and
# from a failed base install), so the error text alone does not make a duplicate.
SAME_PROBLEM = 0.9
SAME_SOLUTION = 0.6


def _load():
    rows = []
    errors = []
    for path in sorted(CASES_DIR.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.name}:{number}"
            if not line.strip():
                errors.append(f"{where}: blank line")
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"{where}: not JSON ({exc})")
                continue
            rows.append((where, row))
    return rows, errors


ROWS, PARSE_ERRORS = _load()


def _guardrail_classes():
    codes = {}
    for path in sorted(DEFAULT_GUARDRAIL_DIR.glob("*.json")):
        for guardrail in json.loads(path.read_text(encoding="utf-8")):
            codes[guardrail["code"]] = guardrail["error_class"]
    return codes


def _shingles(text):
    words = re.findall(r"[a-z_]+", text.lower())
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def _jaccard(left, right):
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def _normalised_url(url):
    return url.rstrip("/").lower()


def test_every_line_is_a_json_object():
    assert not PARSE_ERRORS
    assert ROWS, f"no cases found under {CASES_DIR}"
    assert all(isinstance(row, dict) for _where, row in ROWS)


def test_schema_fields_and_types():
    problems = []
    for where, row in ROWS:
        missing = set(FIELDS) - set(row)
        unknown = set(row) - set(FIELDS) - set(OPTIONAL_FIELDS)
        if missing or unknown:
            problems.append(f"{where}: missing {sorted(missing)}, unknown {sorted(unknown)}")
            continue
        for name, kind in {**FIELDS, **OPTIONAL_FIELDS}.items():
            if name in row and not isinstance(row[name], kind):
                problems.append(f"{where}: {name} is {type(row[name]).__name__}, not {kind.__name__}")
        if row.get("guardrail") == "":
            problems.append(f"{where}: empty guardrail (leave the key out)")
        if row["source"] not in SOURCES:
            problems.append(f"{where}: source {row['source']!r}")
        if row["confirmed_by"] not in CONFIRMED_BY_SOURCE.get(row["source"], CONFIRMATIONS):
            problems.append(f"{where}: confirmed_by {row['confirmed_by']!r} for a {row['source']} case")
        for version in row["odoo_versions"]:
            if not isinstance(version, str) or not VERSION_RE.match(version):
                problems.append(f"{where}: odoo version {version!r}")
        if len(set(row["odoo_versions"])) != len(row["odoo_versions"]):
            problems.append(f"{where}: a version twice")
    assert not problems, "\n".join(problems)


def test_texts_are_substantial_and_distinct():
    problems = []
    for where, row in ROWS:
        title, problem, solution = row["title"].strip(), row["problem"].strip(), row["solution"].strip()
        if not title or len(title) > MAX_TITLE_CHARS or "\n" in title:
            problems.append(f"{where}: title must be one line of 1..{MAX_TITLE_CHARS} chars")
        if len(problem) < MIN_PROBLEM_CHARS:
            problems.append(f"{where}: problem shorter than {MIN_PROBLEM_CHARS} chars")
        if len(solution) < MIN_SOLUTION_CHARS:
            problems.append(f"{where}: solution shorter than {MIN_SOLUTION_CHARS} chars")
        # The fix is summarised, not pasted from the error text.
        if problem and problem in solution:
            problems.append(f"{where}: the solution repeats the problem text")
    assert not problems, "\n".join(problems)


def test_url_shape_and_key_agree():
    problems = []
    for where, row in ROWS:
        url, key, source = row["url"], row["key"], row["source"]
        if source == "github":
            match = GITHUB_URL_RE.match(url)
            if not match:
                problems.append(f"{where}: not a GitHub issue/pull URL: {url}")
                continue
            expected = f"github:{match['repo']}#{match['number']}"
            if key != expected:
                problems.append(f"{where}: key {key!r} should be {expected!r}")
        elif source == "forum":
            if not FORUM_URL_RE.match(url):
                problems.append(f"{where}: not an Odoo forum question URL: {url}")
            if key != f"forum:{url.rsplit('-', 1)[-1]}":
                problems.append(f"{where}: key {key!r} should be forum:<question id>")
        else:
            if not PAGE_URL_RE.match(url):
                problems.append(f"{where}: not an https page URL: {url}")
            if not key.startswith("web:"):
                problems.append(f"{where}: key {key!r} should start with web:")
    assert not problems, "\n".join(problems)


def test_no_duplicate_keys_or_urls():
    keys = collections.Counter(row["key"] for _where, row in ROWS)
    urls = collections.Counter(_normalised_url(row["url"]) for _where, row in ROWS)
    assert [key for key, count in keys.items() if count > 1] == []
    assert [url for url, count in urls.items() if count > 1] == []


def test_no_near_identical_cases():
    shingled = [(where, row, _shingles(row["problem"]), _shingles(row["solution"])) for where, row in ROWS]
    # Bucket by a few rare words of the problem so the check stays far below n² comparisons.
    buckets = collections.defaultdict(list)
    for index, (_where, _row, problem, _solution) in enumerate(shingled):
        for shingle in sorted(problem)[:4]:
            buckets[shingle].append(index)
    pairs = {(a, b) for members in buckets.values() for a in members for b in members if a < b}
    duplicates = []
    for a, b in sorted(pairs):
        where_a, row_a, problem_a, solution_a = shingled[a]
        where_b, row_b, problem_b, solution_b = shingled[b]
        if _jaccard(problem_a, problem_b) >= SAME_PROBLEM and _jaccard(solution_a, solution_b) >= SAME_SOLUTION:
            duplicates.append(f"{where_a} ({row_a['key']}) ~ {where_b} ({row_b['key']})")
    assert not duplicates, "\n".join(duplicates)


def test_near_duplicate_check_catches_a_reworded_copy():
    """The check above must flag a case pasted twice with a cosmetic edit."""
    _where, row = ROWS[0]
    copy_problem = _shingles(row["problem"] + " ")
    copy_solution = _shingles(row["solution"].replace(".", " ."))
    assert _jaccard(_shingles(row["problem"]), copy_problem) >= SAME_PROBLEM
    assert _jaccard(_shingles(row["solution"]), copy_solution) >= SAME_SOLUTION


def test_classes_and_guardrails_exist_and_agree():
    classes = set(load_classes(DEFAULT_CLASSES_FILE))
    guardrails = _guardrail_classes()
    problems = []
    for where, row in ROWS:
        if row["error_class"] not in classes:
            problems.append(f"{where}: unknown class {row['error_class']!r}")
        code = row.get("guardrail")
        if code is None:
            continue
        if code not in guardrails:
            problems.append(f"{where}: unknown guardrail {code!r}")
        elif guardrails[code] != row["error_class"]:
            problems.append(f"{where}: guardrail {code} is for {guardrails[code]}, not {row['error_class']}")
    assert not problems, "\n".join(problems)


def test_total_and_per_class_counts():
    counts = collections.Counter(row["error_class"] for _where, row in ROWS)
    classes = list(load_classes(DEFAULT_CLASSES_FILE))
    assert len(ROWS) >= MIN_TOTAL
    short = {
        code: counts[code]
        for code in classes
        if code not in ("UNKNOWN",) and counts[code] < THIN_CLASSES.get(code, MIN_PER_CLASS)
    }
    assert not short, f"classes under their floor: {short}"
    # A thin class that has caught up must leave the exception list.
    assert all(counts[code] < MIN_PER_CLASS for code in THIN_CLASSES)
