import ast

import pytest

from engine.patching import manifest_text

SERIES = "18.0"

MISSING_LICENSE = """# -*- coding: utf-8 -*-
# Keep this comment, and the odd "quotes".
{
    "name": "Custom Thing",   # a comment, with a comma
    "version": "18.0.1.0.0",
    "depends": ["base"],
    "data": [
        "views/thing.xml",
    ]
}
"""


def test_license_inserted_after_last_entry_and_nothing_else_changes():
    fixed, changes = manifest_text.repair(MISSING_LICENSE, SERIES)
    assert changes == ["license -> 'LGPL-3'"]
    assert ast.literal_eval(fixed)["license"] == "LGPL-3"
    assert fixed.replace(',\n    "license": "LGPL-3"', "") == MISSING_LICENSE
    assert '"name": "Custom Thing",   # a comment, with a comma' in fixed


def test_license_with_trailing_comma_and_single_quotes():
    text = "{\n  'name': 'x',\n  'depends': ['base'],  # trailing\n}\n"
    fixed, _changes = manifest_text.repair(text, SERIES)
    assert fixed == "{\n  'name': 'x',\n  'depends': ['base'],\n  'license': 'LGPL-3',  # trailing\n}\n"


def test_one_line_manifest():
    fixed, _changes = manifest_text.repair("{'name': 'x', 'depends': []}", SERIES)
    assert fixed == "{'name': 'x', 'depends': [], 'license': 'LGPL-3'}"


@pytest.mark.parametrize(
    "bad, good",
    [
        ("17.0.1.2.3", "18.0.1.2.3"),
        ("1.0", "18.0.1.0.0"),
        ("v2", "18.0.2.0.0"),
        ("18.0.1.2.3.4", "18.0.1.2.3"),
        ("beta", "18.0.1.0.0"),
    ],
)
def test_bad_version_replaced_in_place(bad, good):
    text = "{\n    'name': 'x',  # é accent before\n    'version': '%s',\n    'license': 'LGPL-3',\n}\n" % bad
    if manifest_text.version_is_valid(bad, SERIES):
        assert manifest_text.repair(text, SERIES) == (text, [])
        return
    fixed, changes = manifest_text.repair(text, SERIES)
    assert fixed == text.replace(repr(bad), repr(good))
    assert changes == [f"version {bad!r} -> {good!r}"]


def test_version_rule_matches_odoo():
    assert manifest_text.version_is_valid("1.0", SERIES)
    assert manifest_text.version_is_valid("18.0.1.0.0", SERIES)
    assert manifest_text.version_is_valid("18.0.1.0", SERIES)
    assert not manifest_text.version_is_valid("17.0.1.0.0", SERIES)
    assert not manifest_text.version_is_valid("1.0.0.0", SERIES)
    assert not manifest_text.version_is_valid(1.0, SERIES)


def test_nothing_to_do_and_unusable_texts():
    good = "{'name': 'x', 'license': 'LGPL-3', 'version': '18.0.1.0.0'}"
    assert manifest_text.repair(good, SERIES) == (good, [])
    with pytest.raises(manifest_text.ManifestTextError):
        manifest_text.repair("{'name': 'x',", SERIES)
    with pytest.raises(manifest_text.ManifestTextError):
        manifest_text.problems("['not', 'a', 'dict']", SERIES)
