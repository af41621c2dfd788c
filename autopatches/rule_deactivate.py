"""INVALID_FIELD_DOMAIN in a record rule: every user it applies to gets an error instead of data.

Deactivating a restrictive rule widens access, which is why this patch is
critical: the policy always asks a human first.
"""

from .. import compat
from .base import AutoPatch, register
from .domain_fields import broken_leaves_about
from .filter_deactivate import FIELD_PATTERN, MODEL_PATTERN

MODES = ("read", "write", "create", "unlink")


def rule_modes(rule):
    return [mode for mode in MODES if rule[f"perm_{mode}"]]


def sample_user(env, rule):
    """A user the rule applies to: one of its groups, or the administrator for a global rule."""
    users = compat.group_members(rule.groups).filtered(lambda user: user.active and not user._is_superuser())
    return users[:1] or env.ref("base.user_admin")


@register
class RuleDeactivate(AutoPatch):
    """Deactivate a record rule whose domain uses a field that no longer exists."""

    code = "rule_deactivate"
    title = "Deactivate a record rule with an invalid field"
    error_classes = ("INVALID_FIELD_DOMAIN",)
    guardrails = ("GR-DOM-002",)
    params = {
        "model": {"pattern": MODEL_PATTERN, "required": True, "description": "Model of the failing search."},
        "field": {"pattern": FIELD_PATTERN, "required": True, "description": "The field that no longer exists."},
        "rule_id": {"pattern": r"\d{1,10}", "required": False, "description": "The rule, when known."},
    }
    scope_models = ("ir.rule",)
    risk = "high"
    critical = True

    def _rules(self, env, params):
        domain = [("model_id.model", "=", params["model"])]
        if params.get("rule_id"):
            domain.append(("id", "=", int(params["rule_id"])))
        rules = env["ir.rule"].search(domain)
        return {
            rule: leaves
            for rule in rules
            if (leaves := broken_leaves_about(env, params["model"], rule.domain_force, params["field"]))
        }

    def applicable(self, env, params):
        if params["model"] not in env:
            return False, f"model {params['model']} is not installed"
        rules = self._rules(env, params)
        if not rules:
            return False, f"no active record rule on {params['model']} uses a missing {params['field']}"
        return True, ", ".join(f"rule #{rule.id} {rule.name!r}" for rule in rules) + f" use {params['field']}"

    def plan(self, env, params):
        lines = []
        for rule, leaves in self._rules(env, params).items():
            groups = ", ".join(rule.groups.mapped("full_name")) or "every user (global rule)"
            lines.append(
                f"Deactivate record rule #{rule.id} {rule.name!r} ({', '.join(rule_modes(rule))}; {groups}):"
                f" {', '.join(leaf.source for leaf in leaves)}"
            )
        if lines:
            lines.append(
                "Warning: without this rule its users may reach records it used to hide."
                " Rewrite its domain and reactivate it, or roll this fix back."
            )
        return "\n".join(lines) or "Nothing to do."

    def apply(self, ctx):
        rules = ctx.env["ir.rule"].browse([rule.id for rule in self._rules(ctx.env, ctx.params)])
        ctx.memo["rule_ids"] = rules.ids
        # Restored by a column write: an ORM write would refuse to reactivate an invalid domain.
        ctx.write(rules, {"active": False})

    def validate(self, ctx):
        env, model = ctx.env, ctx.params["model"]
        checked = []
        for rule in env["ir.rule"].with_context(active_test=False).browse(ctx.memo["rule_ids"]):
            if rule.active:
                return False, f"rule #{rule.id} is still active"
            user = sample_user(env, rule)
            for mode in rule_modes(rule):
                # The operation that failed: a user's rules turned into a search.
                domain = env["ir.rule"].with_user(user)._compute_domain(model, mode)
                env[model].sudo().search_count(domain or [])
            if env[model].with_user(user).has_access("read"):
                env[model].with_user(user).search_count([])
            checked.append(f"{user.login} ({', '.join(rule_modes(rule))})")
        return True, f"searches on {model} work again for " + ", ".join(checked)
