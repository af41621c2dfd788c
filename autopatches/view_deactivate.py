"""VIEW_FIELD_MISSING / XPATH_NOT_FOUND: a customised inheriting view no longer fits its parent."""

from odoo.exceptions import ValidationError

from .base import AutoPatch, register

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
        return (f"it belongs to module {owned[0].module} ({owned[0].module}.{owned[0].name}):"
                " upgrade or fix that module instead")
    return ""


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
    }
    one_of = (("view_id", "view_name"),)
    scope_models = ("ir.ui.view",)
    risk = "low"

    def _candidates(self, env, params):
        views = env["ir.ui.view"].with_context(active_test=False)
        if params.get("view_id"):
            return views.browse(int(params["view_id"])).exists()
        return views.search([("name", "=", params["view_name"])])

    def _targets(self, env, params):
        """``(views to deactivate with their error, refusals)``."""
        targets, refusals = {}, []
        candidates = self._candidates(env, params)
        if not candidates:
            refusals.append("no view matches " + ", ".join(f"{key}={value!r}" for key, value in params.items()))
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
                if error:
                    targets[view] = error
                else:
                    refusals.append(f"{label} validates fine")
        return targets, refusals

    def applicable(self, env, params):
        targets, refusals = self._targets(env, params)
        if not targets:
            return False, "; ".join(refusals)
        return True, "; ".join(f"view #{view.id}: {error}" for view, error in targets.items())

    def plan(self, env, params):
        targets, refusals = self._targets(env, params)
        lines = []
        for view, error in targets.items():
            lines.append(f"Deactivate view #{view.id} {view.name!r} on {view.model}"
                         f" (inherits #{view.inherit_id.id} {view.inherit_id.name!r}): {error}")
            children = view.with_context(active_test=True).inherit_children_ids
            if children:
                lines.append("  its own extensions stop applying too: "
                             + ", ".join(f"#{child.id} {child.name!r}" for child in children))
        lines += [f"Skip: {refusal}" for refusal in refusals]
        return "\n".join(lines) or "Nothing to do."

    def apply(self, ctx):
        targets, _refusals = self._targets(ctx.env, ctx.params)
        views = ctx.env["ir.ui.view"].browse([view.id for view in targets])
        ctx.memo["view_ids"] = views.ids
        # A plain column write: the ORM write would also delete users' view customisations.
        ctx.write(views, {"active": False}, method="sql")
        ctx.env.registry.clear_cache("templates")

    def validate(self, ctx):
        checked = []
        for view in ctx.env["ir.ui.view"].with_context(active_test=False).browse(ctx.memo["view_ids"]):
            root = root_of(view)
            error = view_error(root)
            if error:
                return False, f"view #{root.id} {root.name!r} still fails validation: {error}"
            ctx.env[root.model].get_view(root.id, root.type)
            checked.append(f"#{root.id} {root.name!r}")
        return True, "deactivated; the parent view validates and renders again: " + ", ".join(checked)
