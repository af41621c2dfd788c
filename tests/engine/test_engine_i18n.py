"""The translation template holds every user-facing string the Python code marks.

``i18n/self_healing.pot`` is exported by Odoo (``bin/self-healing pot``); this test reads the
sources the way Odoo's exporter does (``_("...")`` and ``env._("...")`` with a literal first
argument) and fails when a marked string is missing, so a change that adds a message without
refreshing the template does not land.
"""

import ast
from pathlib import Path

from babel.messages.pofile import read_po

ADDON = Path(__file__).resolve().parents[2]
POT = ADDON / "i18n" / "self_healing.pot"
SOURCES = ("models", "wizards", "autopatches", "detection", "controllers")


def marked_strings(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        named = (isinstance(func, ast.Name) and func.id in ("_", "_lt")) or (
            isinstance(func, ast.Attribute) and func.attr == "_"
        )
        first = node.args[0]
        if named and isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield node.lineno, first.value


def test_template_exists_and_parses():
    with POT.open("rb") as handle:
        catalog = read_po(handle)
    assert len(catalog) > 100, "the template lost its terms; re-export it with bin/self-healing pot"


def test_every_marked_string_is_in_the_template():
    with POT.open("rb") as handle:
        known = {message.id for message in read_po(handle) if message.id}
    missing = []
    for folder in SOURCES:
        for path in sorted((ADDON / folder).rglob("*.py")) if (ADDON / folder).is_dir() else ():
            for line, text in marked_strings(path):
                if text not in known:
                    missing.append(f"{path.relative_to(ADDON)}:{line}: {text[:70]!r}")
    assert not missing, "strings missing from i18n/self_healing.pot (run bin/self-healing pot):\n" + "\n".join(missing)
