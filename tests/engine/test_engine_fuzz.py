"""Bad input, generated: the engine's readers never crash, whatever text or bytes they get.

Log text is written by whatever failed, user reports by anyone, import files by
other tools: random text, binary junk, invalid UTF-8 and huge inputs must give
a result or a clear error of the documented type, never another exception.
"""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.detect import fingerprint as fp
from engine.detect import normalize
from engine.library import guardrails, knowledge_import
from engine.match.classifier import Classifier

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces of real Odoo error text, recombined at random with noise around them.
FRAGMENTS = [
    "Traceback (most recent call last):\n",
    '  File "/opt/odoo/odoo/models.py", line 4807, in _create\n    cr.execute(query)\n',
    'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "res_partner_pkey"\n',
    "DETAIL:  Key (id)=(11063) already exists.\n",
    "2024-05-01 10:00:00,123 4242 ERROR prod odoo.sql_db: bad query: INSERT INTO x\n",
    "ValueError: Invalid field res.partner.x_old in leaf ('x_old', '=', 1)\n",
    "odoo.tools.convert.ParseError: while parsing /mnt/extra/view.xml:12\n",
    "During handling of the above exception, another exception occurred:\n",
    "The above exception was the direct cause of the following exception:\n",
    "KeyError: 'serial_id'\n",
    "\x1b[1;31mERROR\x1b[0m ",
    "&lt;field name=&quot;x&quot;/&gt;",
    "Element '<xpath expr=\"//field[@name='x']\">' cannot be located in parent view\n",
]
error_texts = st.one_of(
    st.text(max_size=2000),
    st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=80), max_size=40).map("".join),
)


@st.composite
def guardrail_like(draw):
    """A guardrail dict that is sometimes right, mostly wrong in some field."""
    entry = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "code": st.one_of(st.just("GR-FUZ-001"), st.text(max_size=12), st.integers()),
                "error_class": st.sampled_from(["SEQ_PKEY_DRIFT", "OTHER", "NOPE", ""]),
                "title": st.one_of(st.text(max_size=30), st.none()),
                "signals": st.one_of(
                    st.dictionaries(
                        st.sampled_from(["exception_types", "all_patterns", "any_patterns", "sql"]),
                        st.lists(st.sampled_from(["(", "UniqueViolation", r"\d+", "(?P<table>\\w+)_pkey", "[z-a]"])),
                    ),
                    st.text(max_size=5),
                ),
                "root_cause": st.text(max_size=20),
                "fix_steps": st.one_of(st.lists(st.text(max_size=10), max_size=3), st.text(max_size=5)),
                "autopatch": st.one_of(st.none(), st.sampled_from(["sequence_resync", "x; DROP TABLE"])),
                "risk": st.sampled_from(["low", "extreme", None]),
                "critical": st.one_of(st.booleans(), st.text(max_size=3)),
                "scope": st.one_of(st.just({"models": [], "modules": []}), st.none()),
                "odoo_versions": st.one_of(st.just(["18.0"]), st.lists(st.text(max_size=5), max_size=2)),
                "version_notes": st.text(max_size=5),
                "references": st.lists(st.text(max_size=5), max_size=2),
            },
        )
    )
    return entry


@FUZZ
@given(error_texts)
def test_parse_and_templates_never_crash(text):
    parsed = normalize.parse(text)
    for part in parsed.exceptions:
        assert isinstance(normalize.message_template(part.message), str)


@FUZZ
@given(error_texts, st.one_of(st.none(), st.text(max_size=40)))
def test_fingerprints_are_stable_strings(text, logger):
    first = fp.fingerprint(text, logger=logger)
    again = fp.fingerprint(text, logger=logger)
    assert first.fingerprint == again.fingerprint and isinstance(first.fingerprint, str)


def classifier():
    if not hasattr(classifier, "instance"):
        classifier.instance = Classifier(guardrails.load_library())
    return classifier.instance


@FUZZ
@given(error_texts)
def test_classification_always_answers_a_known_class_within_bounds(text):
    result = classifier().classify(text)
    assert result.error_class in classifier().library.classes or result.error_class == "UNKNOWN"
    assert 0.0 <= result.confidence <= 1.0


@FUZZ
@given(st.binary(max_size=3000))
def test_knowledge_files_of_random_bytes_give_rows_or_clear_errors(content):
    for fmt in knowledge_import.FORMATS:
        try:
            parsed = knowledge_import.parse_file(content, fmt=fmt)
        except knowledge_import.ImportFileError as exc:
            assert str(exc)
            continue
        assert all(str(error) for error in parsed.errors)


@FUZZ
@given(st.lists(st.dictionaries(st.sampled_from(["title", "problem", "url", "key", "tags"]), st.text(max_size=30))))
def test_knowledge_json_lines_of_random_records(records):
    content = "\n".join(json.dumps(record) for record in records).encode()
    parsed = knowledge_import.parse_file(content, fmt="jsonl")
    assert len(parsed.rows) + len(parsed.errors) <= max(len(records), 1)
    for row in parsed.rows:
        assert row.title and row.problem


@FUZZ
@given(guardrail_like())
def test_guardrail_entries_are_accepted_or_refused_with_a_library_error(entry):
    try:
        guardrails.check_entry(entry)
    except guardrails.LibraryError as exc:
        assert str(exc)


def test_invalid_utf8_is_a_clear_file_error():
    try:
        knowledge_import.parse_file(b'{"title": "x", "problem": "\xff\xfe broken"}\n', fmt="jsonl")
    except knowledge_import.ImportFileError as exc:
        assert "UTF-8" in str(exc) or "utf-8" in str(exc)
    else:
        raise AssertionError("invalid UTF-8 must be refused with a clear error")


def test_huge_texts_and_binary_junk_are_handled():
    # 10 MB of log noise around one real error: the readers finish and still see the error.
    noise = "2024-05-01 10:00:00,123 4242 INFO prod odoo.modules.loading: loading 1 modules...\n"
    text = noise * (10_000_000 // len(noise)) + FRAGMENTS[0] + FRAGMENTS[1] + FRAGMENTS[2] + FRAGMENTS[3]
    assert fp.fingerprint(text).fingerprint
    assert classifier().classify(text).error_class in {"SEQ_PKEY_DRIFT", "UNKNOWN"}
    binary = bytes(range(256)) * 40_000
    try:
        knowledge_import.parse_file(binary, fmt="jsonl")
    except knowledge_import.ImportFileError as exc:
        assert str(exc)
