"""The guardrail library: known Odoo faults kept as JSON data.

``data/guardrails/<CLASS>.json`` holds a list of guardrails for one error
class. They are read and checked here without a database, so the classifier,
the command line and the Odoo models all share one validated copy. Patterns
are compiled once, with ``re.MULTILINE``; a pattern that wants other flags
says so inline (``(?i)``, ``(?s)``). Besides the documented signals, a
guardrail may list ``capture_patterns``: regexes that never score and only
capture parameters found elsewhere in the text (a view id in the error
context, for instance).
"""

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..decide.policy import CRITICAL_CLASSES, is_critical_model, is_critical_module

ADDON_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_GUARDRAIL_DIR = ADDON_ROOT / "data" / "guardrails"
DEFAULT_CLASSES_FILE = ADDON_ROOT / "data" / "error_classes.json"

PATTERN_FLAGS = re.MULTILINE
# The class a classifier may never answer: it names faults no guardrail knows.
CATCH_ALL_CLASS = "OTHER"
# Faults that are user-facing on purpose: recognised, never auto-fixed.
USER_FACING_CLASS = "VALIDATION_ERROR"

ODOO_VERSIONS = ("16.0", "17.0", "18.0", "19.0")
RISKS = ("low", "medium", "high")
CODE_RE = re.compile(r"^GR-[A-Z]{2,5}-\d{3}$")
AUTOPATCH_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")

REQUIRED_KEYS = (
    "code",
    "error_class",
    "title",
    "signals",
    "root_cause",
    "fix_steps",
    "autopatch",
    "risk",
    "critical",
    "scope",
    "odoo_versions",
    "version_notes",
    "references",
)
OPTIONAL_KEYS = ("autopatch_params",)
SIGNAL_KEYS = (
    "exception_types",
    "all_patterns",
    "any_patterns",
    "negative_patterns",
    "loggers",
    "modules",
    "capture_patterns",
)
PATTERN_KEYS = ("all_patterns", "any_patterns", "negative_patterns", "capture_patterns")


@dataclass(frozen=True)
class AutopatchSpec:
    """What a registered auto-patch accepts: its classes and the parameters it needs.

    Built from the patch's own declaration (``AutoPatch.describe()`` in
    ``autopatches/base.py``), the one place a patch says what it serves; the
    engine never keeps a list of patches of its own.
    """

    classes: frozenset
    required: tuple = ()
    one_of: tuple = ()
    critical: bool = False

    @classmethod
    def from_description(cls, description):
        params = description.get("params") or {}
        return cls(
            classes=frozenset(description.get("error_classes") or ()),
            required=tuple(name for name, spec in params.items() if spec.get("required")),
            one_of=tuple(name for group in description.get("one_of") or () for name in group),
            critical=bool(description.get("critical")),
        )


def autopatch_specs(descriptions):
    """code -> AutopatchSpec, from ``{code: AutoPatch.describe()}`` (``autopatches.base.describe_all()``)."""
    return {code: AutopatchSpec.from_description(description) for code, description in descriptions.items()}


def check_autopatches(guardrails, specs):
    """Check every guardrail's auto-patch against the registered patches; raises LibraryError.

    The library files name a patch by its code only; whether that patch
    exists, serves the guardrail's class, gets the parameters it needs and is
    flagged critical as the guardrail must be, only the registry can tell.
    """
    for guardrail in guardrails:
        if not guardrail.autopatch:
            continue
        where = f"{guardrail.source_file or 'library'}: {guardrail.code}"
        spec = specs.get(guardrail.autopatch)
        if spec is None:
            raise LibraryError(f"{where}: unknown autopatch {guardrail.autopatch!r}; known: {sorted(specs)}")
        if guardrail.error_class not in spec.classes:
            raise LibraryError(f"{where}: autopatch {guardrail.autopatch} does not apply to {guardrail.error_class}")
        available = set(guardrail.autopatch_params) | guardrail.signals.group_names
        missing = [name for name in spec.required if name not in available]
        if missing:
            raise LibraryError(
                f"{where}: autopatch {guardrail.autopatch} needs {missing}: capture them with named groups"
            )
        if spec.one_of and not available.intersection(spec.one_of):
            raise LibraryError(f"{where}: autopatch {guardrail.autopatch} needs one of {list(spec.one_of)}")
        if spec.critical and not guardrail.critical:
            raise LibraryError(
                f"{where}: must be critical=true (accounting/payments/security scope: autopatch {guardrail.autopatch})"
            )


class LibraryError(ValueError):
    """The guardrail library on disk is malformed; the message names file and code."""


@dataclass(frozen=True)
class Signals:
    """How a guardrail recognises its fault in a log text."""

    exception_types: tuple
    all_patterns: tuple
    any_patterns: tuple
    negative_patterns: tuple
    capture_patterns: tuple
    loggers: tuple
    modules: tuple

    @property
    def group_names(self):
        """Every named group the guardrail's patterns can capture."""
        names = set()
        for pattern in self.all_patterns + self.any_patterns + self.capture_patterns:
            names.update(pattern.groupindex)
        return names


@dataclass(frozen=True, eq=False)
class Guardrail:
    """One known fault: how to recognise it, why it happens, how to fix it."""

    code: str
    error_class: str
    title: str
    signals: Signals
    root_cause: str
    fix_steps: tuple
    autopatch: object  # str or None
    autopatch_params: dict
    risk: str
    critical: bool
    scope: dict
    odoo_versions: tuple
    version_notes: str
    references: tuple
    source_file: str = field(default="", compare=False)
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self):
        """The guardrail as written in its JSON file (plain data, no compiled patterns)."""
        return json.loads(json.dumps(self.raw))


@dataclass(frozen=True, eq=False)
class Library:
    """All guardrails, indexed, with the error classes they may name."""

    guardrails: tuple
    by_code: dict
    classes: dict  # code -> definition, in the canonical order
    path: str

    def for_class(self, error_class):
        return [g for g in self.guardrails if g.error_class == error_class]


def load_library(path=None, classes_path=None):
    """The validated library from ``path`` (a folder of <CLASS>.json); cached per path."""
    guardrail_dir = Path(path) if path else DEFAULT_GUARDRAIL_DIR
    classes_file = Path(classes_path) if classes_path else DEFAULT_CLASSES_FILE
    return _load_cached(str(guardrail_dir.resolve()), str(classes_file.resolve()))


def clear_cache():
    """Forget loaded libraries (after the files changed on disk)."""
    _load_cached.cache_clear()


@functools.lru_cache(maxsize=8)
def _load_cached(guardrail_dir, classes_file):
    classes = load_classes(classes_file)
    folder = Path(guardrail_dir)
    if not folder.is_dir():
        raise LibraryError(f"{folder}: guardrail folder not found")
    guardrails = []
    by_code = {}
    for file in sorted(folder.glob("*.json")):
        for guardrail in _load_file(file, classes):
            if guardrail.code in by_code:
                raise LibraryError(
                    f"{file.name}: {guardrail.code}: code already used in {by_code[guardrail.code].source_file}"
                )
            by_code[guardrail.code] = guardrail
            guardrails.append(guardrail)
    if not guardrails:
        raise LibraryError(f"{folder}: no guardrail files (<CLASS>.json)")
    return Library(tuple(guardrails), by_code, classes, str(folder))


def load_classes(classes_file=None):
    """Error class code -> definition, from the addon's copy of the class list."""
    file = Path(classes_file) if classes_file else DEFAULT_CLASSES_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        entries = data["classes"]
        classes = {entry["code"]: entry["definition"] for entry in entries}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LibraryError(f"{file}: unreadable error class list ({exc})") from exc
    if not classes:
        raise LibraryError(f"{file}: the error class list is empty")
    return classes


def _load_file(file, classes):
    try:
        entries = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise LibraryError(f"{file.name}: invalid JSON ({exc})") from exc
    if not isinstance(entries, list):
        raise LibraryError(f"{file.name}: must hold a list of guardrails")
    file_class = file.stem
    if file_class not in classes:
        raise LibraryError(f"{file.name}: file name is not a known error class")
    if file_class == CATCH_ALL_CLASS:
        raise LibraryError(f"{file.name}: {CATCH_ALL_CLASS} has no guardrails by design")
    return [_build(entry, file.name, file_class, index) for index, entry in enumerate(entries)]


def _build(entry, file_name, file_class, index):
    code = entry.get("code") if isinstance(entry, dict) else None
    where = f"{file_name}: {code or f'entry #{index + 1}'}"

    def fail(message):
        raise LibraryError(f"{where}: {message}")

    if not isinstance(entry, dict):
        fail("a guardrail must be an object")
    missing = [key for key in REQUIRED_KEYS if key not in entry]
    if missing:
        fail(f"missing keys {missing}")
    unknown = sorted(set(entry) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        fail(f"unknown keys {unknown}")
    if not isinstance(code, str) or not CODE_RE.match(code):
        fail("code must look like GR-ABC-001")
    if entry["error_class"] != file_class:
        fail(f"error_class {entry['error_class']!r} does not match its file {file_class}")
    for key in ("title", "root_cause"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            fail(f"{key} must be a non-empty string")
    fix_steps = _strings(entry["fix_steps"], "fix_steps", fail)
    if not fix_steps:
        fail("fix_steps must list at least one step")
    if entry["risk"] not in RISKS:
        fail(f"risk must be one of {RISKS}")
    if not isinstance(entry["critical"], bool):
        fail("critical must be true or false")
    versions = _strings(entry["odoo_versions"], "odoo_versions", fail)
    if not versions or any(v not in ODOO_VERSIONS for v in versions):
        fail(f"odoo_versions must be a non-empty subset of {ODOO_VERSIONS}")
    if not isinstance(entry["version_notes"], str):
        fail("version_notes must be a string")
    references = _strings(entry["references"], "references", fail)
    scope = _scope(entry["scope"], fail)
    signals = _signals(entry["signals"], fail)
    autopatch, params = _autopatch(entry, signals, fail)
    critical = entry["critical"]
    _check_critical(entry, scope, critical, fail)
    return Guardrail(
        code=code,
        error_class=file_class,
        title=entry["title"].strip(),
        signals=signals,
        root_cause=entry["root_cause"].strip(),
        fix_steps=fix_steps,
        autopatch=autopatch,
        autopatch_params=params,
        risk=entry["risk"],
        critical=critical,
        scope=scope,
        odoo_versions=versions,
        version_notes=entry["version_notes"],
        references=references,
        source_file=file_name,
        raw=entry,
    )


def _strings(value, key, fail):
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        fail(f"{key} must be a list of non-empty strings")
    return tuple(value)


def _scope(value, fail):
    if not isinstance(value, dict) or set(value) - {"models", "modules"}:
        fail("scope must be an object with 'models' and 'modules' lists")
    return {
        "models": _strings(value.get("models", []), "scope.models", fail),
        "modules": _strings(value.get("modules", []), "scope.modules", fail),
    }


def _signals(value, fail):
    if not isinstance(value, dict):
        fail("signals must be an object")
    unknown = sorted(set(value) - set(SIGNAL_KEYS))
    if unknown:
        fail(f"unknown signal keys {unknown}")
    lists = {key: _strings(value.get(key, []), f"signals.{key}", fail) for key in SIGNAL_KEYS}
    if not (lists["exception_types"] or lists["all_patterns"] or lists["any_patterns"]):
        fail("signals need an exception type or a pattern to match on")
    compiled = {}
    for key in PATTERN_KEYS:
        patterns = []
        for source in lists[key]:
            try:
                patterns.append(re.compile(source, PATTERN_FLAGS))
            except re.error as exc:
                fail(f"signals.{key}: bad regex {source!r} ({exc})")
        compiled[key] = tuple(patterns)
    return Signals(
        exception_types=tuple(t.rsplit(".", 1)[-1] for t in lists["exception_types"]),
        all_patterns=compiled["all_patterns"],
        any_patterns=compiled["any_patterns"],
        negative_patterns=compiled["negative_patterns"],
        capture_patterns=compiled["capture_patterns"],
        loggers=lists["loggers"],
        modules=lists["modules"],
    )


def _autopatch(entry, signals, fail):
    autopatch = entry["autopatch"]
    params = entry.get("autopatch_params", {})
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in params.items()
    ):
        fail("autopatch_params must map names to group names or constants")
    if autopatch is None:
        if params:
            fail("autopatch_params given without an autopatch")
        return None, {}
    if not isinstance(autopatch, str) or not AUTOPATCH_CODE_RE.match(autopatch):
        fail("autopatch must be the code of a registered auto-patch (lowercase_with_underscores)")
    if entry["error_class"] == USER_FACING_CLASS:
        fail(f"{USER_FACING_CLASS} guardrails never carry an autopatch")
    return autopatch, dict(params)


def _check_critical(entry, scope, critical, fail):
    reasons = []
    if entry["error_class"] in CRITICAL_CLASSES:
        reasons.append(f"class {entry['error_class']}")
    reasons += [f"model {m}" for m in scope["models"] if is_critical_model(m)]
    reasons += [f"module {m}" for m in scope["modules"] if is_critical_module(m)]
    if reasons and not critical:
        fail(f"must be critical=true (accounting/payments/security scope: {', '.join(reasons)})")


def library_from_entries(entries, classes=None, source="database"):
    """A library built from guardrail dicts (as ``Guardrail.as_dict()`` gives them).

    The Odoo side keeps guardrails as records a manager may edit; this checks
    them with the same rules as the shipped files. Unlike the files, an empty
    list is allowed: a database may have every guardrail retired.
    """
    classes = classes or load_classes()
    guardrails, by_code = [], {}
    for index, entry in enumerate(entries):
        error_class = entry.get("error_class") if isinstance(entry, dict) else None
        if error_class not in classes or error_class == CATCH_ALL_CLASS:
            raise LibraryError(
                f"{source}: {entry.get('code') if isinstance(entry, dict) else index}: "
                f"error_class must be a known class other than {CATCH_ALL_CLASS}"
            )
        guardrail = _build(entry, source, error_class, index)
        if guardrail.code in by_code:
            raise LibraryError(f"{source}: {guardrail.code}: code used twice")
        by_code[guardrail.code] = guardrail
        guardrails.append(guardrail)
    return Library(tuple(guardrails), by_code, classes, source)


def check_entry(entry, classes=None):
    """Validate one guardrail dict; raises LibraryError with the reason."""
    return library_from_entries([entry], classes=classes).guardrails[0]
