"""MANIFEST_INVALID: a custom addon's manifest lacks a license or has a version Odoo rejects.

The file is edited as text (see ``engine.manifest_text``) so comments and
layout survive, backed up byte for byte, and checked by parsing it and by
Odoo's own manifest loader. Only ``__manifest__.py`` files of addons paths
that are not Odoo's own may be touched.
"""

import difflib
import logging
import os

import odoo
from odoo import release
from odoo.modules import module as odoo_module

import odoo.addons

from ..engine.patching import manifest_text
from .base import AutoPatch, Diagnosis, describe_error, register

MANIFEST = "__manifest__.py"


def odoo_roots():
    """Folders holding Odoo's own code and standard addons: never patched."""
    source = os.path.realpath(os.path.dirname(odoo.__file__))
    return [source, os.path.realpath(os.path.join(source, os.pardir, "addons"))]


def custom_addons_paths():
    """The configured addons paths that are not Odoo's own."""
    paths = []
    for path in odoo.addons.__path__:
        real = os.path.realpath(path)
        if not any(real == root or real.startswith(root + os.sep) for root in odoo_roots()) and real not in paths:
            paths.append(real)
    return paths


def manifest_path(module):
    directory = odoo_module.get_module_path(module, display_warning=False)
    return os.path.join(directory, MANIFEST) if directory else None


@register
class ManifestFix(AutoPatch):
    """Add a missing license or repair an invalid version in a custom addon's manifest."""

    code = "manifest_fix"
    title = "Repair a custom module manifest"
    error_classes = ("MANIFEST_INVALID",)
    guardrails = ("GR-MAN-001", "GR-MAN-002", "GR-MAN-006")
    params = {
        "module": {"pattern": r"[a-z0-9_]{1,64}", "required": True, "description": "Technical name of the module."},
    }
    risk = "medium"
    needs_upgrade = True
    replays = "Odoo's manifest loader on the module (what the Apps list update and an install run)"

    def file_allowed(self, env, path, params):
        real = os.path.realpath(path)
        if os.path.basename(real) != MANIFEST:
            return False, "only __manifest__.py files are edited"
        if any(real.startswith(root + os.sep) for root in odoo_roots()):
            return False, "it is part of Odoo itself"
        addons_dir = os.path.dirname(os.path.dirname(real))
        if addons_dir not in custom_addons_paths():
            return False, "it is not in a configured custom addons path"
        if os.path.basename(os.path.dirname(real)) != params.get("module"):
            return False, f"it is not the manifest of {params.get('module')}"
        return True, ""

    def _target(self, env, params):
        """``(path, text, fixed_text, changes)`` or ``(None, reason, None, None)``."""
        path = manifest_path(params["module"])
        if not path or not os.path.isfile(path):
            return None, f"module {params['module']} has no {MANIFEST} in the addons paths", None, None
        allowed, reason = self.file_allowed(env, path, params)
        if not allowed:
            return None, f"{path} is not editable: {reason}", None, None
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        try:
            fixed, changes = manifest_text.repair(text, release.major_version)
        except (manifest_text.ManifestTextError, SyntaxError) as exc:
            return None, f"{path} cannot be edited safely: {exc}", None, None
        if not changes:
            return None, f"{path} has a license and a valid version", None, None
        return path, text, fixed, changes

    def diagnose(self, env, params):
        path, text, _fixed, changes = self._target(env, params)
        if path is None:
            return Diagnosis(False, text, {"module": params["module"], "path": manifest_path(params["module"]) or ""})
        evidence = {
            "module": params["module"],
            "path": path,
            "problems": manifest_text.problems(text, release.major_version),
            "changes": changes,
        }
        return Diagnosis(True, f"{path}: " + "; ".join(changes), evidence, files=1)

    def plan(self, env, params):
        path, text, fixed, _changes = self._target(env, params)
        if path is None:
            return f"Nothing to do: {text}."
        diff = difflib.unified_diff(
            text.splitlines(keepends=True), fixed.splitlines(keepends=True), fromfile=path, tofile=path
        )
        return "".join(diff)

    def apply(self, ctx):
        path, _text, fixed, changes = self._target(ctx.env, ctx.params)
        ctx.memo.update(path=path, changes=changes)
        ctx.write_file(path, fixed.encode("utf-8"))
        ctx.note(f"Update the Apps list (or restart) so Odoo reads the new manifest of {ctx.params['module']}.")

    def replay(self, env, params):
        """Odoo's manifest loader, as the Apps list update and an install run it: no error, no warning."""
        module = params["module"]
        path = manifest_path(module)
        if not path or not os.path.isfile(path):
            return False, f"module {module} has no {MANIFEST} in the addons paths"
        warnings = _Collect()
        loader_log = logging.getLogger(odoo_module.__name__)
        level = loader_log.level
        if not loader_log.isEnabledFor(logging.WARNING):
            # A server logging errors only would drop the warning before any handler sees it.
            loader_log.setLevel(logging.WARNING)
        loader_log.addHandler(warnings)
        try:
            manifest = odoo_module.load_manifest(module, os.path.dirname(path))
        except Exception as exc:  # noqa: BLE001 - what the loader raises is what the administrator met
            return False, f"Odoo's loader refuses {path}: {describe_error(exc)}"
        finally:
            loader_log.removeHandler(warnings)
            loader_log.setLevel(level)
        if not manifest:
            return False, f"Odoo's loader finds no manifest for {module}"
        if warnings.messages:
            return False, f"Odoo's loader warns about {path}: {'; '.join(warnings.messages)}"
        return True, f"Odoo loads {path} (version {manifest['version']}, license {manifest['license']})"

    def validate(self, ctx):
        path = ctx.memo["path"]
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        left = manifest_text.problems(text, release.major_version)
        if left:
            return False, "; ".join(left.values())
        ok, detail = self.replay(ctx.env, ctx.params)
        return ok, (detail + ": " + "; ".join(ctx.memo["changes"])) if ok else detail


class _Collect(logging.Handler):
    """Keeps the warnings Odoo's module loader logs while it reads one manifest."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage().strip().splitlines()[0][:300])
