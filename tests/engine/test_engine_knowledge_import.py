"""Reading solved cases from JSON Lines and CSV: good rows kept, bad rows named by line."""

import json
from pathlib import Path

import pytest

from engine.library import knowledge_import
from engine.library.knowledge_import import ImportFileError, parse_file

ADDON_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ADDON_ROOT / "data" / "knowledge_import.schema.json"

PKEY_PROBLEM = (
    "psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "
    '"res_partner_pkey"\nDETAIL:  Key (id)=(4821) already exists.'
)


def jsonl(*objects):
    return "\n".join(obj if isinstance(obj, str) else json.dumps(obj) for obj in objects).encode()


def test_jsonl_good_and_bad_rows_with_their_line_numbers():
    content = jsonl(
        {
            "key": "t-1",
            "title": "Partner creation fails after restore",
            "problem": PKEY_PROBLEM,
            "solution": "Reset the sequence with setval.",
            "url": "https://www.odoo.com/forum/help-1/1",
            "odoo_versions": ["17.0", "18.0"],
            "tags": "postgres, sequence",
            "source": "forum",
            "error_class": "seq_pkey_drift",
            "guardrail": "gr-seq-001",
            "votes": 12,
        },
        "",
        "{not json",
        {"key": "t-2", "title": "No problem text"},
        ["a", "list"],
        {"key": "t-3", "title": "Bad url", "problem": "x", "url": "ftp://example.com/x"},
        {"key": "t-4", "title": "Bad version", "problem": "x", "odoo_versions": "18"},
        {"key": "t-5", "title": "Bad class", "problem": "x", "error_class": "NOPE"},
        {"key": "t-6", "title": "Bad code", "problem": "x", "guardrail": "SEQ-1"},
        {"key": "t-7", "title": "Bad source", "problem": "x", "source": "human_fix"},
        {"key": "t-1", "title": "Same key again", "problem": "y"},
        {"key": 8, "title": "  Numbers\nfolded ", "problem": "z", "tags": ["a", "a", " b "]},
    )
    parsed = parse_file(content, filename="threads.jsonl")
    assert parsed.format == "jsonl"
    assert [row.line for row in parsed.rows] == [1, 12]
    first, second = parsed.rows
    assert first.key == "t-1" and first.source == "forum"
    assert first.error_class == "SEQ_PKEY_DRIFT" and first.guardrail == "GR-SEQ-001"
    assert first.odoo_versions == ("17.0", "18.0") and first.tags == ("postgres", "sequence")
    assert second.key == "8" and second.title == "Numbers folded" and second.tags == ("a", "b")
    assert second.source == "import" and "source" not in second.provided
    reasons = {error.line: error.reason for error in parsed.errors}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert reasons[3].startswith("invalid JSON")
    assert reasons[4] == "problem is missing"
    assert reasons[5] == "a line must hold one JSON object"
    assert "http://" in reasons[6]
    assert "odoo_versions" in reasons[7]
    assert "error_class 'NOPE'" in reasons[8]
    assert "GR-SEQ-001" in reasons[9]
    assert "source 'human_fix'" in reasons[10]
    assert reasons[11] == "same key as line 1 (t-1)"
    assert parsed.ignored_columns == ("votes",)


def test_csv_with_multiline_cells_reports_the_line_where_a_row_starts():
    content = (
        "Title;Problem;Solution;URL;odoo_versions;tags\n"
        'Sequence drift;"' + PKEY_PROBLEM.replace('"', '""') + '";Reset it;https://example.com/a;17.0 18.0;db\n'
        "\n"
        "Missing problem;;nothing;;;\n"
        "Too many;cells;a;b;c;d;e\n"
        'Third;"line one\nline two";;https://example.com/c;;\n'
    ).encode("utf-8-sig")
    parsed = parse_file(content, filename="kb.csv")
    assert parsed.format == "csv"
    assert [(row.line, row.title) for row in parsed.rows] == [(2, "Sequence drift"), (7, "Third")]
    assert parsed.rows[0].problem == PKEY_PROBLEM
    assert parsed.rows[0].key == "https://example.com/a"  # no key column: the url identifies the row
    assert parsed.rows[0].odoo_versions == ("17.0", "18.0")
    assert parsed.rows[1].problem == "line one\nline two"
    assert [(error.line, error.reason) for error in parsed.errors] == [
        (5, "problem is missing"),
        (6, "7 values for 6 columns"),
    ]


def test_tab_separated_and_format_sniffed_from_content():
    content = "title\tproblem\nA\tB\n"
    parsed = parse_file(content)
    assert parsed.format == "csv" and parsed.rows[0].title == "A"
    assert parse_file('{"title": "A", "problem": "B"}\n').format == "jsonl"


def test_rows_without_key_or_url_get_a_stable_content_key():
    first = parse_file(jsonl({"title": "A", "problem": "B"})).rows[0]
    again = parse_file(jsonl({"title": "A", "problem": "B", "solution": "C"})).rows[0]
    other = parse_file(jsonl({"title": "A", "problem": "B2"})).rows[0]
    assert first.key == again.key and first.key.startswith("content:")
    assert other.key != first.key
    assert "key" not in first.provided


def test_files_that_cannot_be_read_at_all():
    with pytest.raises(ImportFileError, match="header lacks the column"):
        parse_file(b"name,text\na,b\n", filename="x.csv")
    with pytest.raises(ImportFileError, match="line 2: the file is not UTF-8"):
        parse_file(b'{"title": "a", "problem": "b"}\n{"title": "\xff"}\n', filename="x.jsonl")
    with pytest.raises(ImportFileError, match="JSON array"):
        parse_file(b'[{"title": "a", "problem": "b"}]', filename="x.jsonl")
    with pytest.raises(ImportFileError, match="named twice"):
        parse_file(b"title,problem,title\na,b,c\n", filename="x.csv")
    with pytest.raises(ImportFileError, match="unknown format"):
        parse_file(b"", fmt="xml")


def test_long_fields_are_refused_per_row():
    content = jsonl({"title": "x" * 301, "problem": "p"}, {"title": "ok", "problem": "p" * 100_000})
    parsed = parse_file(content, filename="x.jsonl")
    assert [error.line for error in parsed.errors] == [1]
    assert "title is longer than 300" in parsed.errors[0].reason
    assert len(parsed.rows[0].problem) == 100_000


def test_error_report_is_sorted_and_capped():
    errors = [knowledge_import.RowError(line, "bad") for line in (9, 2, 5)]
    assert knowledge_import.error_report(errors) == "line 2: bad\nline 5: bad\nline 9: bad"
    assert knowledge_import.error_report(errors, limit=1).splitlines() == ["line 2: bad", "... and 2 more"]


def test_the_documented_schema_matches_the_parser():
    schema = json.loads(SCHEMA_FILE.read_text())
    assert tuple(schema["properties"]) == knowledge_import.FIELDS
    assert tuple(schema["required"]) == knowledge_import.REQUIRED
    assert tuple(schema["properties"]["source"]["enum"]) == knowledge_import.IMPORT_SOURCES
    for name in ("key", "title", "problem", "solution", "url"):
        assert schema["properties"][name]["maxLength"] == knowledge_import.MAX_LENGTH[name], name


def _case(key, **values):
    return json.dumps(
        dict(
            {
                "key": key,
                "title": f"case {key}",
                "problem": "ValueError: Expected singleton: sale.order(1, 2)",
                "solution": "Loop over the records.",
                "url": f"https://github.com/odoo/odoo/issues/{key}",
                "source": "github",
                "error_class": "EXPECTED_SINGLETON",
                "confirmed_by": "merged_pr",
            },
            **values,
        )
    )


def test_the_shipped_cases_all_load_with_their_confirmation():
    cases, errors = knowledge_import.load_shipped()
    assert not errors
    assert len(cases) >= 400
    assert all(case.row.url and case.row.error_class and case.file.endswith(".jsonl") for case in cases)
    assert {case.row.confirmed_by for case in cases} <= set(knowledge_import.CONFIRMATIONS)
    assert len({case.row.key for case in cases}) == len(cases)


def test_shipped_files_report_bad_rows_and_keys_shipped_twice(tmp_path):
    (tmp_path / "a.jsonl").write_text(_case("1") + "\n" + _case("2", confirmed_by="trust me") + "\n")
    (tmp_path / "b.jsonl").write_text(_case("1", title="again") + "\n" + _case("3") + "\n")
    (tmp_path / "notes.txt").write_text("not a case file")
    cases, errors = knowledge_import.load_shipped(tmp_path)
    assert [(case.file, case.row.key) for case in cases] == [("a.jsonl", "1"), ("b.jsonl", "3")]
    assert errors == [
        "a.jsonl: line 2: confirmed_by 'trust me' is not one of " + ", ".join(knowledge_import.CONFIRMATIONS),
        "b.jsonl: line 1: key 1 already shipped in a.jsonl",
    ]


def test_a_shipped_cases_fingerprint_follows_its_text_only(tmp_path):
    (tmp_path / "a.jsonl").write_text(_case("1") + "\n")
    first = knowledge_import.load_shipped(tmp_path)[0][0]
    (tmp_path / "a.jsonl").write_text("\n" + _case("1") + "\n")  # moved to another line
    assert knowledge_import.load_shipped(tmp_path)[0][0].fingerprint == first.fingerprint
    (tmp_path / "a.jsonl").write_text(_case("1", solution="Use ensure_one().") + "\n")
    assert knowledge_import.load_shipped(tmp_path)[0][0].fingerprint != first.fingerprint
