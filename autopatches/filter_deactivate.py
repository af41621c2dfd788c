"""INVALID_FIELD_DOMAIN in saved filters and window actions.

A saved filter (favourite) is deactivated: it is a shortcut, and its owner
can fix and reactivate it. A window action cannot be deactivated, and
rewriting its domain without the bad leaf could show records the action
meant to hide. The safest reversible treatment is to make the action show
nothing: its domain becomes ``[(0, '=', 1)]`` and its help (what an empty
list displays) says why and how to undo it, so users see an explained empty
list instead of a crash or a silently wider one. Both values are restored
byte for byte by a rollback.
"""

from markupsafe import Markup, escape

from odoo.tools.safe_eval import safe_eval

from .base import AutoPatch, Diagnosis, register, replayed
from .domain_fields import broken_leaves_about, path_checker

SHOW_NOTHING = "[(0, '=', 1)]"
MODEL_PATTERN = r"[a-z0-9_]+(\.[a-z0-9_]+)*"
FIELD_PATTERN = r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*"


@register
class FilterDeactivate(AutoPatch):
    """Deactivate saved filters (and neutralise window actions) whose domain uses a missing field."""

    code = "filter_deactivate"
    title = "Deactivate filters with an invalid field"
    error_classes = ("INVALID_FIELD_DOMAIN",)
    guardrails = ("GR-DOM-001", "GR-DOM-005")
    params = {
        "model": {
            "pattern": MODEL_PATTERN,
            "required": True,
            "description": "Model named in 'Invalid field <model>.<field>'.",
        },
        "field": {"pattern": FIELD_PATTERN, "required": True, "description": "The field that no longer exists."},
    }
    scope_models = ("ir.filters", "ir.actions.act_window")
    risk = "low"
    replays = (
        "opening the list as each filter's user: loading the favourites, searching with each, and the action's domain"
    )

    def _offenders(self, env, params):
        model, field = params["model"], params["field"]
        filters = env["ir.filters"].search([("model_id", "=", model)])
        bad_filters = {
            record: leaves for record in filters if (leaves := broken_leaves_about(env, model, record.domain, field))
        }
        actions = env["ir.actions.act_window"].search([("res_model", "=", model), ("domain", "!=", False)])
        bad_actions = {
            record: leaves for record in actions if (leaves := broken_leaves_about(env, model, record.domain, field))
        }
        return bad_filters, bad_actions

    def diagnose(self, env, params):
        model, field = params["model"], params["field"]
        if model not in env:
            return Diagnosis(False, f"model {model} is not installed", {"model": model})
        bad_filters, bad_actions = self._offenders(env, params)
        evidence = {
            "model": model,
            "field": field,
            "field_on_model": path_checker(env, model)(field.split(".")),
            "filters": [
                {
                    "id": record.id,
                    "name": record.name,
                    "user_id": record.user_id.id,
                    "is_default": record.is_default,
                    "domain": record.domain,
                    "broken": [leaf.source for leaf in leaves],
                }
                for record, leaves in bad_filters.items()
            ],
            "actions": [
                {
                    "id": record.id,
                    "name": record.name,
                    "domain": record.domain,
                    "broken": [leaf.source for leaf in leaves],
                }
                for record, leaves in bad_actions.items()
            ],
        }
        if not bad_filters and not bad_actions:
            return Diagnosis(False, f"no active filter or window action on {model} uses a missing {field}", evidence)
        return Diagnosis(
            True,
            f"{len(bad_filters)} filter(s) and {len(bad_actions)} window action(s) use {field}, which {model} lacks",
            evidence,
            rows=len(bad_filters) + len(bad_actions),
        )

    def plan(self, env, params):
        bad_filters, bad_actions = self._offenders(env, params)
        lines = []
        for record, leaves in bad_filters.items():
            owner = record.user_id.name or "everyone"
            lines.append(
                f"Deactivate filter #{record.id} {record.name!r} ({owner}): "
                + ", ".join(leaf.source for leaf in leaves)
            )
        for record, leaves in bad_actions.items():
            lines.append(
                f"Window action #{record.id} {record.name!r}: domain {record.domain!r} -> {SHOW_NOTHING}"
                " and a help text explaining it (it lists nothing instead of crashing); bad leaves: "
                + ", ".join(leaf.source for leaf in leaves)
            )
        return "\n".join(lines) or "Nothing to do."

    def apply(self, ctx):
        bad_filters, bad_actions = self._offenders(ctx.env, ctx.params)
        filters = ctx.env["ir.filters"].browse([record.id for record in bad_filters])
        actions = ctx.env["ir.actions.act_window"].browse([record.id for record in bad_actions])
        ctx.memo.update(filter_ids=filters.ids, action_ids=actions.ids)
        ctx.write(filters, {"active": False})
        for action in actions:
            ctx.write(action, {"domain": SHOW_NOTHING, "help": self._help(ctx, action)})

    def _help(self, ctx, action):
        return Markup('<p class="o_view_nocontent_empty_folder">%s</p><p>%s</p>') % (
            escape(f"{action.name} is paused by Self-Healing"),
            escape(
                f"Its filter used the field {ctx.params['field']}, which no longer exists on {ctx.params['model']}."
                f" A manager can roll back fix attempt #{ctx.attempt.id} or correct the action's domain."
            ),
        )

    def replay(self, env, params, filter_ids=None, action_ids=None):
        """What the web client does when a user opens the list: load the favourites, search with them."""
        model = params["model"]
        if model not in env:
            return False, f"model {model} is not installed"
        if filter_ids is None:
            bad_filters, bad_actions = self._offenders(env, params)
            filter_ids, action_ids = [record.id for record in bad_filters], [record.id for record in bad_actions]
        filters = env["ir.filters"].with_context(active_test=False).browse(filter_ids)
        actions = env["ir.actions.act_window"].browse(action_ids or [])
        users = filters.mapped("user_id")
        if not users or filters.filtered(lambda record: not record.user_id):
            # A shared favourite is offered to everyone: the administrator stands for them.
            users |= env.ref("base.user_admin", raise_if_not_found=False) or env.user

        def search():
            searches = 0
            for user in users:
                for action_id in set(filters.mapped("action_id").ids) | {False}:
                    for entry in env["ir.filters"].with_user(user).get_filters(model, action_id):
                        domain = env["ir.filters"].browse(entry["id"])._get_eval_domain()
                        env[model].with_user(user).search_count(domain)
                        searches += 1
            for action in actions:
                env[model].search_count(safe_eval(action.domain or "[]", {"uid": env.uid}))
                searches += 1
            return f"{searches} search(es) on {model} with the favourites and actions offered work"

        return replayed(env, f"searching {model} with its favourites", search)

    def validate(self, ctx):
        env, model = ctx.env, ctx.params["model"]
        filters = env["ir.filters"].with_context(active_test=False).browse(ctx.memo["filter_ids"])
        if any(filters.mapped("active")):
            return False, "a filter is still active"
        for record in filters:
            listed = env["ir.filters"].with_user(record.user_id or env.uid).get_filters(model, record.action_id.id)
            if any(entry["id"] == record.id for entry in listed):
                return False, f"filter #{record.id} is still offered to its users"
        ok, detail = self.replay(env, ctx.params, ctx.memo["filter_ids"], ctx.memo["action_ids"])
        if not ok:
            return False, detail
        return True, (
            f"{len(filters)} filter(s) deactivated, {len(ctx.memo['action_ids'])} action(s) paused; " + detail
        )
