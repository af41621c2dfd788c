"""VIEW_FIELD_MISSING / XPATH_NOT_FOUND: a customised inheriting view no longer fits its parent."""

import contextlib
import re

from lxml import etree

from odoo.exceptions import ValidationError

from .base import AutoPatch, Diagnosis, register, replayed

# External ids that mark a database customisation rather than a module's own view.
CUSTOM_MODULES = ("__export__", "__custom__", "studio_customization")


def view_error(view):
    """Odoo's own validation of the view against its parent and model: the message, or ""."""
    try:
        with view.env.cr.savepoint():
            view._check_xml()
    except (ValidationError, ValueError) as exc:
        return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return ""


def ownership(view):
    """Why the view may not be touched by a machine, or "" when it is a database customisation."""
    data = view.env["ir.model.data"].sudo().search([("model", "=", "ir.ui.view"), ("res_id", "=", view.id)])
    owned = data.filtered(lambda record: record.module not in CUSTOM_MODULES and not record.noupdate)
    if owned:
        return (
            f"it belongs to module {owned[0].module} ({owned[0].module}.{owned[0].name}):"
            " upgrade or fix that module instead"
        )
    return ""


def mentions(text, field):
    """Whether ``text`` names ``field`` as a whole name, not as part of a longer one or a dotted path."""
    return re.search(rf"(?<![\w.]){re.escape(field)}(?!\w)", text or "") is not None


def error_without(root, views, field):
    """Odoo's error on ``field`` for ``root`` once ``views`` are switched off, or ""; nothing is kept."""
    cr = root.env.cr
    with contextlib.closing(cr.savepoint()):
        # A column write like apply's (the ORM write would drop users' customisations); always rolled back.
        if views:
            cr.execute("UPDATE ir_ui_view SET active = FALSE WHERE id IN %s", [tuple(views.ids)])
        root.env.invalidate_all()
        error = view_error(root)
    root.env.invalidate_all()
    return error if mentions(error, field) else ""


def open_form(env, root):
    """What the web client does to show ``root``: ``get_views``, then every field it names must be described.

    A missing field does not make ``get_views`` raise (only an anchor that cannot be located does);
    the client then fails on the field its arch names without a description. Returns a summary.
    """
    result = env[root.model].get_views([(root.id, root.type)])
    arch = etree.fromstring(result["views"][root.type]["arch"])
    described = result["models"].get(root.model, {}).get("fields", {})
    undescribed = sorted(
        {
            node.get("name")
            for node in arch.iter("field")
            # Fields inside an embedded x2many view or a list's groupby belong to another model.
            if node.get("name") and not any(ancestor.tag in ("field", "groupby") for ancestor in node.iterancestors())
        }
        - set(described)
    )
    if undescribed:
        raise ValueError(f"the web client gets no description of {', '.join(undescribed)} in {root.model}")
    return f"#{root.id} {root.name!r}"


def root_of(view):
    root = view
    while root.inherit_id and root.mode == "extension":
        root = root.inherit_id
    return root


@register
class ViewDeactivate(AutoPatch):
    """Deactivate a customised inheriting view that refers to a missing field or element."""

    code = "view_deactivate"
    title = "Deactivate a broken customised view"
    error_classes = ("VIEW_FIELD_MISSING", "XPATH_NOT_FOUND")
    guardrails = ("GR-VIEW-001", "GR-VIEW-003", "GR-VIEW-005", "GR-XP-001")
    params = {
        "view_id": {"pattern": r"\d{1,10}", "required": False, "description": "Database id of the broken view."},
        "view_name": {"pattern": r"[^\n\r]{1,200}", "required": False, "description": "Name of the broken view."},
        "model": {
            "pattern": r"[a-z][a-z0-9_]{0,63}(?:\.[a-z0-9_]{1,64}){0,7}",
            "required": False,
            "description": "Model of the view that names the missing field (with field, when no view is named).",
        },
        "field": {
            "pattern": r"[A-Za-z_][A-Za-z0-9_]{0,62}",
            "required": False,
            "description": "The missing field's name (with model, when no view is named).",
        },
    }
    # Odoo's message often names only the field and the model: then both are needed to find the view.
    one_of = (("view_id", "view_name", "field"), ("view_id", "view_name", "model"))
    scope_models = ("ir.ui.view",)
    risk = "low"
    replays = "opening the parent view as the web client does: get_views, every field it names described"

    def _candidates(self, env, params):
        views = env["ir.ui.view"].with_context(active_test=False)
        if params.get("view_id"):
            return views.browse(int(params["view_id"])).exists()
        if params.get("view_name"):
            return views.search([("name", "=", params["view_name"])])
        # No view named: only the active extensions of that model whose own arch names the field are
        # suspects; _targets still demands that Odoo's validation of each one fails on that field.
        extensions = env["ir.ui.view"].search(
            [("model", "=", params["model"]), ("mode", "=", "extension"), ("inherit_id", "!=", False)]
        )
        return extensions.filtered(lambda view: mentions(view.arch_db, params["field"]))

    def _no_candidate(self, params):
        if params.get("view_id") or params.get("view_name"):
            return "no view matches " + ", ".join(
                f"{key}={params[key]!r}" for key in ("view_id", "view_name") if params.get(key)
            )
        return (
            f"no active customised view of {params['model']} names the field {params['field']!r}:"
            " nothing safe to deactivate"
        )

    def _targets(self, env, params):
        """``(views to deactivate with their error, refusals)``."""
        targets, refusals = {}, []
        candidates = self._candidates(env, params)
        if not candidates:
            refusals.append(self._no_candidate(params))
        # Found by field, a view must fail on that very field: one broken for another reason is not
        # the one the incident is about, and a human should look at it.
        by_field = not (params.get("view_id") or params.get("view_name"))
        for view in candidates:
            label = f"view #{view.id} {view.name!r}"
            if not view.active:
                refusals.append(f"{label} is already inactive")
            elif view.type == "qweb":
                refusals.append(f"{label} is a QWeb template, not a model view")
            elif not view.inherit_id or view.mode != "extension":
                refusals.append(f"{label} is a primary view: deactivating it would remove a whole screen")
            elif ownership(view):
                refusals.append(f"{label}: {ownership(view)}")
            else:
                error = view_error(view)
                if not error:
                    refusals.append(f"{label} validates fine")
                elif by_field and not mentions(error, params["field"]):
                    refusals.append(f"{label} fails validation, but not on {params['field']!r}: {error}")
                else:
                    targets[view] = error
        if by_field and targets:
            targets = self._culprits(targets, params["field"], refusals)
        return targets, refusals

    def _culprits(self, suspects, field, refusals):
        """The suspects that, alone among them, bring Odoo's error on ``field`` back.

        Odoo validates a view combined with all its siblings, so every view of a broken form fails;
        and a view may quote the field in a label without using it. Each suspect is tried alone, and
        none is kept when the error stays with all of them switched off (it comes from elsewhere).
        """
        everyone = next(iter(suspects)).browse([view.id for view in suspects])
        culprits, remaining_by_root = {}, {}
        for view, error in suspects.items():
            root = root_of(view)
            if root not in remaining_by_root:
                remaining_by_root[root] = error_without(root, everyone, field)
            remaining = remaining_by_root[root]
            if remaining:
                refusals.append(
                    f"view #{view.id} {view.name!r}: the form #{root.id} still fails without any of"
                    f" {', '.join(f'#{id_}' for id_ in everyone.ids)}: {remaining}"
                )
            elif error_without(root, everyone - view, field):
                culprits[view] = error
            else:
                refusals.append(
                    f"view #{view.id} {view.name!r} names {field!r}, but the form validates"
                    " with it alone: it only suffers from another view"
                )
        return culprits

    def diagnose(self, env, params):
        targets, refusals = self._targets(env, params)
        evidence = {
            "views": [
                {
                    "id": view.id,
                    "name": view.name,
                    "model": view.model,
                    "parent_id": view.inherit_id.id,
                    "parent": view.inherit_id.name,
                    "error": error,
                }
                for view, error in targets.items()
            ],
            "refused": refusals,
        }
        if params.get("field") and params.get("model") in env:
            evidence["field_on_model"] = params["field"] in env[params["model"]]._fields
        if not targets:
            return Diagnosis(False, "; ".join(refusals), evidence)
        children = sum(len(view.with_context(active_test=True).inherit_children_ids) for view in targets)
        evidence["extensions_switched_off_with_them"] = children
        return Diagnosis(
            True,
            "; ".join(f"view #{view.id}: {error}" for view, error in targets.items()),
            evidence,
            rows=len(targets),
        )

    def plan(self, env, params):
        targets, refusals = self._targets(env, params)
        lines = []
        for view, error in targets.items():
            lines.append(
                f"Deactivate view #{view.id} {view.name!r} on {view.model}"
                f" (inherits #{view.inherit_id.id} {view.inherit_id.name!r}): {error}"
            )
            children = view.with_context(active_test=True).inherit_children_ids
            if children:
                lines.append(
                    "  its own extensions stop applying too: "
                    + ", ".join(f"#{child.id} {child.name!r}" for child in children)
                )
        lines += [f"Skip: {refusal}" for refusal in refusals]
        return "\n".join(lines) or "Nothing to do."

    def apply(self, ctx):
        targets, _refusals = self._targets(ctx.env, ctx.params)
        views = ctx.env["ir.ui.view"].browse([view.id for view in targets])
        ctx.memo["view_ids"] = views.ids
        # A plain column write: the ORM write would also delete users' view customisations.
        ctx.write(views, {"active": False}, method="sql")
        ctx.env.registry.clear_cache("templates")

    def replay(self, env, params, view_ids=None):
        views = env["ir.ui.view"].with_context(active_test=False)
        views = views.browse(view_ids) if view_ids is not None else self._candidates(env, params)
        roots = []
        for view in views:
            if root_of(view) not in roots:
                roots.append(root_of(view))
        if not roots:
            return False, "no view to open"
        opened = []
        for root in roots:
            ok, detail = replayed(env, f"opening view #{root.id} {root.name!r}", lambda root=root: open_form(env, root))
            if not ok:
                return False, detail
            opened.append(detail)
        return True, "get_views renders " + ", ".join(opened) + " with every field described"

    def validate(self, ctx):
        for view in ctx.env["ir.ui.view"].with_context(active_test=False).browse(ctx.memo["view_ids"]):
            root = root_of(view)
            error = view_error(root)
            if error:
                return False, f"view #{root.id} {root.name!r} still fails validation: {error}"
        ok, detail = self.replay(ctx.env, ctx.params, ctx.memo["view_ids"])
        return ok, ("deactivated; " + detail) if ok else detail
