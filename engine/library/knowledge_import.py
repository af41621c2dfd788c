"""Reading solved cases (forum threads, KB articles) from JSON Lines and CSV files.

Each row is checked on its own: a good row becomes a ``KnowledgeRow``, a bad
one a ``RowError`` with the line where it starts in the file and the reason.
One bad row never stops the others. The columns are documented in
``data/knowledge_import.schema.json``; a test keeps that file and ``FIELDS``
in agreement.

Rows are identified by ``key``, else by ``url``, else by a hash of title and
problem, so importing the same file twice changes nothing.
"""

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..library.error_classes import UNKNOWN, load_classes
from ..library.guardrails import CODE_RE

# Every column a file may carry; the others are ignored and reported once.
FIELDS = (
    "key",
    "title",
    "problem",
    "solution",
    "url",
    "odoo_versions",
    "tags",
    "source",
    "error_class",
    "guardrail",
    "confirmed_by",
)
REQUIRED = ("title", "problem")
# Sources an import may claim; human fixes and the website_forum bridge are
# made inside Odoo, never read from a file.
IMPORT_SOURCES = ("import", "forum", "kb_article", "github")
# How a source confirmed the fix it describes (see the schema for each).
CONFIRMATIONS = ("accepted_answer", "merged_pr", "maintainer", "reporter", "documentation")
# The solved cases shipped with the addon, one JSON Lines file per batch.
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "data" / "knowledge" / "cases"
DEFAULT_SOURCE = "import"
FORMATS = ("jsonl", "csv")

MAX_LENGTH = {
    "key": 255,
    "title": 300,
    "problem": 100_000,
    "solution": 100_000,
    "url": 2048,
    "tag": 64,
    "guardrail": 20,
}
VERSION_RE = re.compile(r"^(?:saas[~-])?\d{1,2}\.\d{1,2}$")
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_LIST_SEPARATORS = re.compile(r"[,;\s]+")
_TAG_SEPARATORS = re.compile(r"\s*[,;]\s*")
_CSV_DELIMITERS = ",;\t"


class ImportFileError(ValueError):
    """The file as a whole cannot be read (encoding, format, CSV header)."""


@dataclass(frozen=True)
class KnowledgeRow:
    """One valid solved case, normalised."""

    line: int
    key: str
    title: str
    problem: str
    solution: str = ""
    url: str = ""
    odoo_versions: tuple = ()
    tags: tuple = ()
    source: str = DEFAULT_SOURCE
    error_class: object = None  # a class code, or None
    guardrail: object = None  # a guardrail code, or None
    confirmed_by: object = None  # one of CONFIRMATIONS, or None
    # Columns the row gave a value for: an update leaves the others alone.
    provided: frozenset = frozenset()


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self):
        return f"line {self.line}: {self.reason}"


@dataclass
class ParsedFile:
    format: str
    rows: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    ignored_columns: tuple = ()


class InvalidRow(ValueError):
    """One row breaks the schema; the message is the reason."""


def detect_format(content, filename=None):
    """``'jsonl'`` or ``'csv'``, from the file name, else from the first character."""
    name = (filename or "").lower()
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    text = content if isinstance(content, str) else content[:4096].decode("utf-8", "replace")
    return "jsonl" if text.lstrip("\ufeff \t\r\n").startswith("{") else "csv"


def decode(content):
    """``content`` as text; bytes must be UTF-8 (a byte-order mark is dropped)."""
    if isinstance(content, str):
        return content.lstrip("\ufeff")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise ImportFileError(f"line {line}: the file is not UTF-8 text") from exc


def parse_file(content, filename=None, fmt=None, classes=None):
    """Good rows and bad rows of a JSON Lines or CSV file (bytes or text).

    ``classes`` are the error class codes a row may name (default: the
    shipped list plus UNKNOWN). Raises ImportFileError only when nothing in
    the file can be read.
    """
    fmt = fmt or detect_format(content, filename)
    if fmt not in FORMATS:
        raise ImportFileError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    text = decode(content)
    allowed_classes = frozenset(classes) if classes is not None else frozenset(load_classes()) | {UNKNOWN}
    parsed = ParsedFile(fmt)
    records = _jsonl_records(text) if fmt == "jsonl" else _csv_records(text)
    ignored = set()
    first_line_of_key = {}
    for line, record in records:
        if isinstance(record, RowError):
            parsed.errors.append(record)
            continue
        ignored.update(name for name in record if name not in FIELDS)
        try:
            row = validate_record(record, line, allowed_classes)
        except InvalidRow as exc:
            parsed.errors.append(RowError(line, str(exc)))
            continue
        earlier = first_line_of_key.get(row.key)
        if earlier is not None:
            parsed.errors.append(RowError(line, f"same key as line {earlier} ({row.key})"))
            continue
        first_line_of_key[row.key] = line
        parsed.rows.append(row)
    parsed.ignored_columns = tuple(sorted(ignored))
    return parsed


def _jsonl_records(text):
    if text.lstrip().startswith("["):
        raise ImportFileError("the file holds a JSON array: write one JSON object per line (JSON Lines)")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            yield number, RowError(number, f"invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(record, dict):
            yield number, RowError(number, "a line must hold one JSON object")
            continue
        yield number, record


def _csv_records(text):
    sample = text[:8192]
    header_line = sample.splitlines()[0] if sample.strip() else ""
    # The delimiter that splits the header into the most known columns wins.
    delimiter = max(
        _CSV_DELIMITERS,
        key=lambda d: sum(cell.strip().lower() in FIELDS for cell in header_line.split(d)),
    )
    # Long tracebacks exceed the csv module's default field limit (128 KiB).
    csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportFileError(f"line 1: unreadable CSV header ({exc})") from exc
    if not header:
        raise ImportFileError("the file is empty: a CSV file starts with a header line")
    columns = [cell.strip().lower() for cell in header]
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ImportFileError(
            f"line 1: the header lacks the column(s) {', '.join(missing)} (found: {', '.join(columns)})"
        )
    duplicated = sorted({name for name in columns if name and columns.count(name) > 1})
    if duplicated:
        raise ImportFileError(f"line 1: column(s) named twice: {', '.join(duplicated)}")
    end_of_previous = reader.line_num
    while True:
        start = end_of_previous + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The reader cannot resume inside a broken record: report and stop.
            yield start, RowError(start, f"unreadable CSV ({exc}); the rest of the file was not read")
            return
        end_of_previous = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(columns):
            yield start, RowError(start, f"{len(cells)} values for {len(columns)} columns")
            continue
        yield start, {name: value for name, value in zip(columns, cells) if name}


def validate_record(record, line=0, classes=None, sources=IMPORT_SOURCES):
    """A ``KnowledgeRow`` from one mapping of column -> value; raises InvalidRow with the reason."""
    classes = frozenset(classes) if classes is not None else frozenset(load_classes()) | {UNKNOWN}
    title = " ".join(_text(record, "title").split())
    problem = _text(record, "problem").strip()
    for name, value in (("title", title), ("problem", problem)):
        if not value:
            raise InvalidRow(f"{name} is missing")
    solution = _text(record, "solution").strip()
    url = _text(record, "url").strip()
    if url and not URL_RE.match(url):
        raise InvalidRow(f"url must start with http:// or https:// ({url[:80]!r})")
    explicit_key = _text(record, "key").strip()
    key = explicit_key or url or content_key(title, problem)
    for name, value in (("key", key), ("title", title), ("problem", problem), ("solution", solution), ("url", url)):
        if len(value) > MAX_LENGTH[name]:
            raise InvalidRow(f"{name} is longer than {MAX_LENGTH[name]} characters")
    versions = _list(record, "odoo_versions", _LIST_SEPARATORS)
    wrong = [version for version in versions if not VERSION_RE.match(version)]
    if wrong:
        raise InvalidRow(f"odoo_versions: {', '.join(wrong)} not like 17.0 or saas~17.4")
    tags = _list(record, "tags", _TAG_SEPARATORS)
    long_tags = [tag for tag in tags if len(tag) > MAX_LENGTH["tag"]]
    if long_tags:
        raise InvalidRow(f"tags: a tag is longer than {MAX_LENGTH['tag']} characters")
    source = _text(record, "source").strip().lower() or DEFAULT_SOURCE
    if source not in sources:
        raise InvalidRow(f"source {source!r} is not one of {', '.join(sources)}")
    error_class = _text(record, "error_class").strip().upper() or None
    if error_class and error_class not in classes:
        raise InvalidRow(f"error_class {error_class!r} is not a known class")
    guardrail = _text(record, "guardrail").strip().upper() or None
    if guardrail and not CODE_RE.match(guardrail):
        raise InvalidRow(f"guardrail {guardrail!r} is not a guardrail code such as GR-SEQ-001")
    confirmed_by = _text(record, "confirmed_by").strip().lower() or None
    if confirmed_by and confirmed_by not in CONFIRMATIONS:
        raise InvalidRow(f"confirmed_by {confirmed_by!r} is not one of {', '.join(CONFIRMATIONS)}")
    given = {
        "key": explicit_key,
        "title": title,
        "problem": problem,
        "solution": solution,
        "url": url,
        "odoo_versions": versions,
        "tags": tags,
        "source": _text(record, "source").strip(),
        "error_class": error_class,
        "guardrail": guardrail,
        "confirmed_by": confirmed_by,
    }
    provided = frozenset(name for name, value in given.items() if value)
    return KnowledgeRow(
        line=line,
        key=key,
        title=title,
        problem=problem,
        solution=solution,
        url=url,
        odoo_versions=versions,
        tags=tags,
        source=source,
        error_class=error_class,
        guardrail=guardrail,
        confirmed_by=confirmed_by,
        provided=provided,
    )


@dataclass(frozen=True)
class ShippedCase:
    """A solved case of the shipped files, with the file it comes from."""

    file: str  # relative to the cases folder, e.g. "batch1.jsonl"
    row: KnowledgeRow

    @property
    def fingerprint(self):
        """Changes whenever the shipped text of the case changes."""
        data = json.dumps([self.row.key, *(repr(getattr(self.row, name)) for name in SHIPPED_COMPARED)])
        return hashlib.sha1(data.encode()).hexdigest()


# What a shipped case carries; a local edit of any of these is kept.
SHIPPED_COMPARED = (
    "title",
    "problem",
    "solution",
    "url",
    "odoo_versions",
    "tags",
    "source",
    "error_class",
    "guardrail",
    "confirmed_by",
)


def load_shipped(directory=None, classes=None):
    """``(cases, errors)`` of the shipped case files: ShippedCase objects and "file: line N: reason" texts.

    A key found in two files keeps its first occurrence (files in name order)
    and reports the second.
    """
    directory = Path(directory) if directory else SHIPPED_DIR
    cases, errors, seen = [], [], {}
    for path in sorted(directory.glob("*.jsonl")):
        try:
            parsed = parse_file(path.read_bytes(), filename=path.name, classes=classes)
        except ImportFileError as exc:
            errors.append(f"{path.name}: {exc}")
            continue
        errors.extend(f"{path.name}: {error}" for error in parsed.errors)
        for row in parsed.rows:
            earlier = seen.get(row.key)
            if earlier:
                errors.append(f"{path.name}: line {row.line}: key {row.key} already shipped in {earlier}")
                continue
            seen[row.key] = path.name
            cases.append(ShippedCase(path.name, row))
    return cases, errors


def content_key(title, problem):
    """The key of a row that has neither key nor url: stable for the same title and problem."""
    digest = hashlib.sha1(f"{title}\n{problem}".encode()).hexdigest()[:20]
    return f"content:{digest}"


def _text(record, name):
    value = record.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidRow(f"{name} must be text")
    return str(value)


def _list(record, name, separators):
    value = record.get(name)
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items = separators.split(value)
    elif isinstance(value, list) and all(
        isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in value
    ):
        items = [str(item) for item in value]
    else:
        raise InvalidRow(f"{name} must be a list of texts or a comma-separated text")
    return tuple(dict.fromkeys(item.strip() for item in items if item.strip()))


def error_report(errors, limit=200):
    """The errors as text, one per line, at most ``limit`` of them."""
    lines = [str(error) for error in sorted(errors, key=lambda e: e.line)[:limit]]
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more")
    return "\n".join(lines)
