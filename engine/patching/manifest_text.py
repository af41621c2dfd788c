"""Repair a module manifest by editing its text, keeping every other byte.

Re-serialising a manifest would lose its comments, quotes and layout; instead
the dict is parsed with ``ast`` only to learn where things are, and the fix is
spliced into the original text: a missing ``license`` is inserted after the
last entry, an invalid ``version`` has just its literal replaced.
"""

import ast
import re

DEFAULT_LICENSE = "LGPL-3"
_NUMBERS_RE = re.compile(r"\d+")
_SERIES_PREFIX_RE = re.compile(r"^\d+\.\d+\.")


class ManifestTextError(ValueError):
    """The text is not a manifest this module can edit safely."""


def version_is_valid(version, series):
    """Odoo's rule: ``x.y`` or ``x.y.z``, optionally behind ``<series>.``."""
    if not isinstance(version, str):
        return False
    if version != series and version.startswith(series + "."):
        version = version[len(series) + 1 :]
    return re.fullmatch(r"\d+\.\d+(?:\.\d+)?", version) is not None


def normalized_version(version, series):
    """``<series>.x.y.z`` keeping the module's own numbers where there are some."""
    text = str(version or "")
    if text.startswith(series + "."):
        text = text[len(series) + 1 :]
    elif _SERIES_PREFIX_RE.match(text) and len(_NUMBERS_RE.findall(text)) > 3:
        # "17.0.1.2.3": the first two numbers are another series, not the module's.
        text = _SERIES_PREFIX_RE.sub("", text, count=1)
    numbers = [str(int(number)) for number in _NUMBERS_RE.findall(text)][:3]
    if not numbers:
        numbers = ["1"]
    numbers += ["0"] * (3 - len(numbers))
    return series + "." + ".".join(numbers)


def problems(text, series):
    """What is wrong with the manifest, as ``{"license": ..., "version": ...}`` sentences."""
    manifest = _literal(text)
    found = {}
    if not manifest.get("license"):
        found["license"] = "no license key: Odoo logs a warning and assumes LGPL-3"
    if "version" in manifest and not version_is_valid(manifest["version"], series):
        found["version"] = f"version {manifest['version']!r} is not x.y, x.y.z or {series}.x.y[.z]"
    return found


def repair(text, series, license=DEFAULT_LICENSE):
    """``(new_text, changes)``; ``changes`` is empty when nothing needed fixing."""
    found = problems(text, series)
    if not found:
        return text, []
    node = _manifest_dict(text)
    offsets = _line_offsets(text)
    entries = {
        key.value: value
        for key, value in zip(node.keys, node.values)
        if isinstance(key, ast.Constant) and isinstance(key.value, str)
    }
    quote = _quote_of(text, offsets, node)
    edits = []
    changes = []
    if "version" in found:
        value = entries["version"]
        new_version = normalized_version(getattr(value, "value", ""), series)
        start = _index(text, offsets, value.lineno, value.col_offset)
        end = _index(text, offsets, value.end_lineno, value.end_col_offset)
        edits.append((start, end, quote + new_version + quote))
        changes.append(f"version {getattr(value, 'value', None)!r} -> {new_version!r}")
    if "license" in found:
        license_literal = quote + license + quote
        if "license" in entries:
            value = entries["license"]
            start = _index(text, offsets, value.lineno, value.col_offset)
            end = _index(text, offsets, value.end_lineno, value.end_col_offset)
            edits.append((start, end, license_literal))
        else:
            edits.append(_license_insertion(text, offsets, node, quote, license_literal))
        changes.append(f"license -> {license!r}")
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    _literal(text)
    return text, changes


def _literal(text):
    try:
        manifest = ast.literal_eval(text)
    except (SyntaxError, ValueError) as exc:
        raise ManifestTextError(f"the manifest is not a Python literal: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ManifestTextError("the manifest is not a dict")
    return manifest


def _manifest_dict(text):
    tree = ast.parse(text)
    expressions = [statement for statement in tree.body if isinstance(statement, ast.Expr)]
    if len(expressions) != 1 or not isinstance(expressions[0].value, ast.Dict):
        raise ManifestTextError("the manifest must be a single dict expression")
    node = expressions[0].value
    if not node.keys or any(key is None for key in node.keys):
        raise ManifestTextError("the manifest dict is empty or uses ** unpacking")
    return node


def _line_offsets(text):
    offsets, position = [0], 0
    for line in text.splitlines(keepends=True):
        position += len(line)
        offsets.append(position)
    return offsets


def _index(text, offsets, lineno, col_offset):
    # ast columns count UTF-8 bytes, not characters.
    line_start = offsets[lineno - 1]
    line = text[line_start : offsets[lineno] if lineno < len(offsets) else len(text)]
    return line_start + len(line.encode("utf-8")[:col_offset].decode("utf-8", errors="ignore"))


def _quote_of(text, offsets, node):
    first_key = node.keys[0]
    start = _index(text, offsets, first_key.lineno, first_key.col_offset)
    return '"' if text[start : start + 1] == '"' else "'"


def _license_insertion(text, offsets, node, quote, license_literal):
    last_value = node.values[-1]
    after_last = _index(text, offsets, last_value.end_lineno, last_value.end_col_offset)
    closing = _index(text, offsets, node.end_lineno, node.end_col_offset) - 1
    comma = _trailing_comma(text[after_last:closing])
    entry = f"{quote}license{quote}: {license_literal}"
    last_key = node.keys[-1]
    if last_key.lineno == node.end_lineno:
        # A one-line dict stays on one line.
        if comma >= 0:
            position = after_last + comma + 1
            return position, position, f" {entry},"
        return after_last, after_last, f", {entry}"
    key_start = _index(text, offsets, last_key.lineno, last_key.col_offset)
    indent = text[offsets[last_key.lineno - 1] : key_start]
    if indent.strip():
        indent = "    "
    if comma >= 0:
        position = after_last + comma + 1
        return position, position, f"\n{indent}{entry},"
    return after_last, after_last, f",\n{indent}{entry}"


def _trailing_comma(between):
    """Index of the comma that follows the last entry, skipping blanks and comments; -1 if none."""
    position = 0
    while position < len(between):
        char = between[position]
        if char == ",":
            return position
        if char == "#":
            newline = between.find("\n", position)
            position = len(between) if newline < 0 else newline + 1
        elif char.isspace():
            position += 1
        else:
            return -1
    return -1
