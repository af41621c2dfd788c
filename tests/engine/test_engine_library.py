"""Loading and validating the guardrail library (data/guardrails) without a database."""

import copy
import json
import re

import pytest

from engine.library import guardrails as library_module
from engine.library.guardrails import (
    DEFAULT_CLASSES_FILE,
    LibraryError,
    autopatch_specs,
    check_autopatches,
    clear_cache,
    load_classes,
    load_library,
)

# Three patches as ``autopatches.base.describe_all()`` describes them (the Odoo
# tests check the shipped library against the real registry).
REGISTRY = autopatch_specs(
    {
        "sequence_resync": {
            "error_classes": ["SEQ_PKEY_DRIFT"],
            "params": {"table": {"required": True}},
            "one_of": [],
            "critical": False,
        },
        "view_deactivate": {
            "error_classes": ["VIEW_FIELD_MISSING", "XPATH_NOT_FOUND"],
            "params": {"view_id": {"required": False}, "view_name": {"required": False}, "field": {"required": False}},
            "one_of": [["view_name", "view_id", "field"]],
            "critical": False,
        },
        "sequence_number_resync": {
            "error_classes": ["ACCOUNT_SEQUENCE"],
            "params": {
                "model": {"required": True},
                "field": {"required": True},
                "sequence_code": {"required": False},
                "sequence_id": {"required": False},
            },
            "one_of": [["sequence_code", "sequence_id"]],
            "critical": True,
        },
    }
)


@pytest.fixture(scope="module")
def shipped():
    return load_library()


def test_shipped_library_is_large_and_covers_every_class(shipped):
    assert len(shipped.guardrails) >= 60
    covered = {g.error_class for g in shipped.guardrails}
    assert covered == set(shipped.classes) - {"OTHER"}


def test_frequent_classes_have_several_guardrails(shipped):
    for code in (
        "SEQ_PKEY_DRIFT",
        "UNIQUE_VIOLATION_OTHER",
        "UNDEFINED_COLUMN",
        "INVALID_FIELD_DOMAIN",
        "ACCESS_ERROR",
        "CRON_FAILURE",
        "MAIL_DELIVERY",
        "VIEW_FIELD_MISSING",
    ):
        assert len(shipped.for_class(code)) >= 2, code


def test_codes_are_unique_and_indexed(shipped):
    codes = [g.code for g in shipped.guardrails]
    assert len(codes) == len(set(codes))
    assert all(shipped.by_code[code].code == code for code in codes)


def test_classes_come_from_the_repository_copy(shipped):
    assert DEFAULT_CLASSES_FILE.parent.name == "data"
    assert "shared" not in DEFAULT_CLASSES_FILE.parts
    assert list(shipped.classes) == list(load_classes())
    assert "OTHER" in shipped.classes and "VALIDATION_ERROR" in shipped.classes


def test_policy_rules_hold_in_the_shipped_data(shipped):
    for guardrail in shipped.guardrails:
        if guardrail.error_class in ("ACCESS_ERROR", "ACCOUNT_SEQUENCE"):
            assert guardrail.critical, guardrail.code
        if guardrail.autopatch in ("rule_deactivate", "sequence_number_resync"):
            assert guardrail.critical, guardrail.code
        if guardrail.error_class == "VALIDATION_ERROR":
            assert guardrail.autopatch is None, guardrail.code


def test_spec_from_a_patch_description():
    spec = REGISTRY["sequence_number_resync"]
    assert spec.classes == {"ACCOUNT_SEQUENCE"} and spec.critical
    assert spec.required == ("model", "field") and spec.one_of == ("sequence_code", "sequence_id")


def test_patterns_are_compiled_once_and_shared(shipped):
    again = load_library()
    assert again is shipped
    pattern = shipped.by_code["GR-SEQ-001"].signals.all_patterns[0]
    assert isinstance(pattern, re.Pattern)
    assert pattern.flags & re.MULTILINE
    assert "table" in pattern.groupindex


def test_as_dict_returns_the_json_entry(shipped):
    data = shipped.by_code["GR-COL-001"].as_dict()
    on_disk = json.loads((library_module.DEFAULT_GUARDRAIL_DIR / "UNDEFINED_COLUMN.json").read_text())
    assert data == next(entry for entry in on_disk if entry["code"] == "GR-COL-001")
    data["title"] = "changed"
    assert shipped.by_code["GR-COL-001"].title != "changed"


# --- malformed libraries ----------------------------------------------------------------------

GOOD = {
    "code": "GR-TST-001",
    "error_class": "SEQ_PKEY_DRIFT",
    "title": "Test guardrail",
    "signals": {
        "exception_types": ["UniqueViolation"],
        "all_patterns": [r'"(?P<table>\w+)_pkey"'],
        "any_patterns": [],
        "negative_patterns": [],
        "loggers": [],
        "modules": [],
    },
    "root_cause": "Because.",
    "fix_steps": ["Fix it."],
    "autopatch": "sequence_resync",
    "autopatch_params": {"table": "table"},
    "risk": "low",
    "critical": False,
    "scope": {"models": [], "modules": []},
    "odoo_versions": ["18.0"],
    "version_notes": "",
    "references": [],
}


def write_library(tmp_path, files):
    folder = tmp_path / "guardrails"
    folder.mkdir()
    for name, content in files.items():
        text = content if isinstance(content, str) else json.dumps(content)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def load_error(tmp_path, files):
    """The message of the first LibraryError, from the file checks or from the registry's."""
    clear_cache()
    with pytest.raises(LibraryError) as caught:
        check_autopatches(load_library(write_library(tmp_path, files)).guardrails, REGISTRY)
    return str(caught.value)


def variant(**changes):
    entry = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if key.startswith("signals__"):
            entry["signals"][key.split("__", 1)[1]] = value
        elif value is ...:
            del entry[key]
        else:
            entry[key] = value
    return entry


def test_a_good_custom_library_loads(tmp_path):
    clear_cache()
    loaded = load_library(write_library(tmp_path, {"SEQ_PKEY_DRIFT.json": [GOOD]}))
    assert [g.code for g in loaded.guardrails] == ["GR-TST-001"]
    assert loaded.by_code["GR-TST-001"].autopatch_params == {"table": "table"}


@pytest.mark.parametrize(
    "entry,expected",
    [
        (variant(signals__all_patterns=["(unclosed"]), "bad regex"),
        (variant(autopatch="drop_database"), "unknown autopatch"),
        (variant(autopatch="DROP DATABASE odoo"), "code of a registered auto-patch"),
        (variant(autopatch="view_deactivate", autopatch_params={}), "does not apply to SEQ_PKEY_DRIFT"),
        (variant(signals__all_patterns=[r'"\w+_pkey"'], autopatch_params={}), "needs ['table']"),
        (variant(error_class="UNDEFINED_COLUMN"), "does not match its file"),
        (variant(risk="extreme"), "risk must be one of"),
        (variant(fix_steps=[]), "at least one step"),
        (variant(root_cause=...), "missing keys ['root_cause']"),
        (variant(colour="red"), "unknown keys ['colour']"),
        (variant(code="seq-1"), "code must look like"),
        (variant(odoo_versions=["12.0"]), "odoo_versions"),
        (
            variant(signals__exception_types=[], signals__all_patterns=[], autopatch=None, autopatch_params={}),
            "need an exception type or a pattern",
        ),
        (variant(signals__sql=["SELECT 1"]), "unknown signal keys ['sql']"),
        (variant(scope={"models": ["account.move"], "modules": []}), "must be critical=true"),
    ],
)
def test_malformed_entries_name_file_and_code(tmp_path, entry, expected):
    message = load_error(tmp_path, {"SEQ_PKEY_DRIFT.json": [entry]})
    assert message.startswith("SEQ_PKEY_DRIFT.json: ")
    code = entry.get("code")
    if code and re.match(r"^GR-[A-Z]+-\d{3}$", code):
        assert code in message
    assert expected in message


def test_validation_errors_never_carry_an_autopatch(tmp_path):
    entry = variant(error_class="VALIDATION_ERROR", autopatch="mail_retry", autopatch_params={})
    message = load_error(tmp_path, {"VALIDATION_ERROR.json": [entry]})
    assert "never carry an autopatch" in message


def test_critical_autopatch_requires_critical_flag(tmp_path):
    params = {"model": "sale.order", "field": "name", "sequence_code": "sale.order"}
    entry = variant(error_class="ACCOUNT_SEQUENCE", autopatch="sequence_number_resync", autopatch_params=params)
    message = load_error(tmp_path, {"ACCOUNT_SEQUENCE.json": [entry]})
    assert "GR-TST-001" in message and "must be critical=true" in message


def test_autopatch_params_it_requires_must_be_given(tmp_path):
    entry = variant(
        error_class="ACCOUNT_SEQUENCE", autopatch="sequence_number_resync", autopatch_params={}, critical=True
    )
    message = load_error(tmp_path, {"ACCOUNT_SEQUENCE.json": [entry]})
    assert "GR-TST-001" in message and "model" in message


def test_duplicate_codes_across_files(tmp_path):
    other = variant(error_class="UNDEFINED_COLUMN", autopatch=None, autopatch_params={})
    message = load_error(tmp_path, {"SEQ_PKEY_DRIFT.json": [GOOD], "UNDEFINED_COLUMN.json": [other]})
    assert "GR-TST-001" in message and "already used" in message


def test_invalid_json_names_the_file(tmp_path):
    message = load_error(tmp_path, {"SEQ_PKEY_DRIFT.json": "[{,]"})
    assert message.startswith("SEQ_PKEY_DRIFT.json: invalid JSON")


def test_file_must_hold_a_list(tmp_path):
    assert "must hold a list" in load_error(tmp_path, {"SEQ_PKEY_DRIFT.json": GOOD})


def test_unknown_class_file_and_catch_all_class(tmp_path):
    assert "not a known error class" in load_error(tmp_path, {"NO_SUCH_CLASS.json": []})


def test_catch_all_class_has_no_guardrails(tmp_path):
    assert "no guardrails by design" in load_error(tmp_path, {"OTHER.json": []})


def test_entry_without_code_is_named_by_position(tmp_path):
    message = load_error(tmp_path, {"SEQ_PKEY_DRIFT.json": [GOOD, variant(code=...)]})
    assert "entry #2" in message


def test_empty_folder_is_refused(tmp_path):
    assert "no guardrail files" in load_error(tmp_path, {})


def test_bad_class_list(tmp_path):
    classes = tmp_path / "classes.json"
    classes.write_text('{"classes": "nope"}')
    clear_cache()
    with pytest.raises(LibraryError) as caught:
        load_library(write_library(tmp_path, {"SEQ_PKEY_DRIFT.json": [GOOD]}), classes)
    assert "unreadable error class list" in str(caught.value)


def test_library_from_entries_applies_the_file_rules():
    from engine.library.guardrails import LibraryError, check_entry, library_from_entries, load_library

    shipped = [guardrail.as_dict() for guardrail in load_library().guardrails[:5]]
    rebuilt = library_from_entries(shipped)
    assert [g.code for g in rebuilt.guardrails] == [entry["code"] for entry in shipped]
    assert library_from_entries([]).guardrails == ()
    broken = dict(shipped[0], risk="extreme")
    with pytest.raises(LibraryError, match="risk"):
        check_entry(broken)
    with pytest.raises(LibraryError, match="OTHER"):
        check_entry(dict(shipped[0], error_class="OTHER"))
    with pytest.raises(LibraryError, match="twice"):
        library_from_entries([shipped[0], shipped[0]])
