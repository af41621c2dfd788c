"""VIEW_FIELD_MISSING / XPATH_NOT_FOUND: a customised inheriting view no longer fits its parent."""

import contextlib
import re

from lxml import etree

from odoo.exceptions import ValidationError

from ..engine.detect.signal import HUMAN_SOURCES
from ..engine.patching.view_anchor import AnchorError, parse_anchor
from .base import AutoPatch, Diagnosis, register, replayed

# External ids that mark a database customisation rather than a module's own view.
CUSTOM_MODULES = ("__export__", "__custom__", "studio_customization")
# The request paths that name the model whose views failed: the web client's call_kw, 19.0's JSON-2.
MODEL_PATHS = re.compile(r"/(?:web/dataset/call_kw|json/2)/(?P<model>[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*)/\w+")
LOCATE_ERROR = "cannot be located in parent view"


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


def anchor_found(tree, anchor):
    """How many nodes of ``tree`` the anchor finds, the way Odoo's locate_node looks for it.

    The expression passed parse_anchor's whitelist; it is compiled and evaluated by lxml on
    the parsed arch only (as Odoo's ETXPath does), never handed to anything else.
    """
    if anchor.tag == "xpath":
        return len(etree.ETXPath(anchor.expr)(tree))
    if anchor.tag == "field":
        return sum(1 for node in tree.iter("field") if node.get("name") == dict(anchor.attrs).get("name"))
    return sum(1 for node in tree.iter(anchor.tag) if all(node.get(name) == value for name, value in anchor.attrs))


def holds_anchor(view, anchor):
    """Whether the view's own arch has that very spec node (compared parsed, not as text)."""
    try:
        arch = etree.fromstring(view.arch_db or "")
    except etree.XMLSyntaxError:
        return False
    return any(isinstance(node.tag, str) and anchor.same_as(node.tag, node.attrib) for node in arch.iter())


def combined_without(view):
    """``(combined arch of the tree view belongs to with view switched off, error)``; nothing is kept."""
    cr = view.env.cr
    with contextlib.closing(cr.savepoint()):
        cr.execute("UPDATE ir_ui_view SET active = FALSE WHERE id = %s", [view.id])
        view.env.invalidate_all()
        try:
            arch, error = view.inherit_id._get_combined_arch(), ""
        except (ValidationError, ValueError) as exc:
            arch, error = None, str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    view.env.invalidate_all()
    return arch, error


def observed_model(env, incident_id):
    """The model the server saw the newest failing request on (call_kw's path), or "".

    Only the newest occurrence counts: an incident groups the same fault met on several
    models, and the anchor being healed is the newest one's.
    """
    if not incident_id:
        return ""
    occurrence = env["self_healing.occurrence"].search(
        [("incident_id", "=", int(incident_id)), ("signal_source", "not in", HUMAN_SOURCES)],
        order="occurred_at desc, id desc",
        limit=1,
    )
    match = MODEL_PATHS.fullmatch(occurrence.request_path or "")
    return match.group("model") if match and match.group("model") in env else ""


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
        "spec": {
            "pattern": r"<[A-Za-z_][^\n\r]{0,598}>",
            "required": False,
            "description": "The anchor Odoo could not locate in the parent view, as its error quotes it.",
        },
        "incident_id": {
            "pattern": r"\d{1,10}",
            "required": False,
            "description": "The incident whose failing request names the model (filled in by the runner).",
        },
    }
    # Odoo's message often names only the field and the model: then both are needed to find the view;
    # or only the anchor it could not locate, and the model comes from the failing request if at all.
    one_of = (("view_id", "view_name", "field", "spec"), ("view_id", "view_name", "model", "spec"))
    scope_models = ("ir.ui.view",)
    risk = "low"
    replays = "opening the parent view as the web client does: get_views, every field it names described"

    @classmethod
    def found_on(cls, evidence):
        views = (evidence or {}).get("views")
        return frozenset(view["id"] for view in views) if views else None

    def _candidates(self, env, params):
        views = env["ir.ui.view"].with_context(active_test=False)
        if params.get("view_id"):
            return views.browse(int(params["view_id"])).exists()
        if params.get("view_name"):
            return views.search([("name", "=", params["view_name"])])
        if self._by_anchor(params):
            try:
                return self._anchor_candidates(env, params, parse_anchor(params["spec"]))
            except AnchorError:
                return views
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

    def _by_anchor(self, params):
        return bool(params.get("spec")) and not (params.get("view_id") or params.get("view_name"))

    def _anchor_model(self, env, params):
        return params.get("model") or observed_model(env, params.get("incident_id"))

    def _anchor_candidates(self, env, params, anchor):
        """Active extensions (of the observed model, when known) holding that spec node."""
        domain = [("mode", "=", "extension"), ("inherit_id", "!=", False), ("type", "!=", "qweb")]
        model = self._anchor_model(env, params)
        if model:
            domain.append(("model", "=", model))
        if anchor.words():
            domain.append(("arch_db", "ilike", anchor.words()))
        views = env["ir.ui.view"].search(domain)
        return views.filtered(lambda view: holds_anchor(view, anchor))

    def _targets_by_anchor(self, env, params):
        """The one customised view whose anchor really finds nothing in its parent's combined arch."""
        try:
            anchor = parse_anchor(params["spec"])
        except AnchorError as exc:
            return {}, [f"the anchor the error quotes is refused: {exc}"], {}
        model = self._anchor_model(env, params)
        facts = {"anchor": anchor.label(), "model": model or False}
        where = f"of {model}" if model else "of any model"
        candidates = self._anchor_candidates(env, params, anchor)
        if not candidates:
            return (
                {},
                [f"no active customised view {where} holds {anchor.label()}: nothing safe to deactivate"],
                facts,
            )
        holders, refusals, found = {}, [], {}
        for view in candidates:
            label = f"view #{view.id} {view.name!r}"
            if ownership(view):
                refusals.append(f"{label}: {ownership(view)}")
                continue
            error = view_error(view)
            if LOCATE_ERROR not in error:
                refusals.append(
                    f"{label} holds the anchor, but Odoo does not fail to locate it: {error or 'it validates fine'}"
                )
                continue
            holders[view] = error
        facts["nodes_found_in_parent"] = found
        if len(holders) > 1:
            refusals.append(
                f"{len(holders)} customised views {where} hold {anchor.label()} and fail on it"
                f" ({', '.join(f'#{view.id}' for view in holders)}): a human picks the one to switch off"
            )
            return {}, refusals, facts
        targets = {}
        for view, error in holders.items():
            label = f"view #{view.id} {view.name!r}"
            parent_arch, remaining = combined_without(view)
            if parent_arch is None:
                refusals.append(f"{label}: the form still fails without it: {remaining}")
                continue
            found[view.id] = anchor_found(parent_arch, anchor)
            if found[view.id]:
                refusals.append(
                    f"{label}: {anchor.label()} finds {found[view.id]} node(s) in the combined arch of its parent"
                    f" #{view.inherit_id.id}: the error comes from something else"
                )
                continue
            targets[view] = error
        return targets, refusals, facts

    def _targets(self, env, params):
        """``(views to deactivate with their error, refusals)``."""
        if self._by_anchor(params):
            targets, refusals, _facts = self._targets_by_anchor(env, params)
            return targets, refusals
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
        facts = {}
        if self._by_anchor(params):
            targets, refusals, facts = self._targets_by_anchor(env, params)
        else:
            targets, refusals = self._targets(env, params)
        evidence = {
            **facts,
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
