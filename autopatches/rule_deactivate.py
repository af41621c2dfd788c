"""INVALID_FIELD_DOMAIN in a record rule: every user it applies to gets an error instead of data.

Deactivating a restrictive rule widens access, which is why this patch is
critical: the policy always asks a human first.
"""

from .base import AutoPatch, Diagnosis, register, replayed
from .domain_fields import broken_leaves_about, path_checker
from .filter_deactivate import FIELD_PATTERN, MODEL_PATTERN

MODES = ("read", "write", "create", "unlink")


def rule_modes(rule):
    return [mode for mode in MODES if rule[f"perm_{mode}"]]


def sample_user(env, rule):
    """A user the rule applies to: one of its groups, or the administrator for a global rule."""
    users = rule.groups.users.filtered(lambda user: user.active and not user._is_superuser())
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
    replays = "a search on the model by a user of each rule (its rules turned into a domain, then the list search)"

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

    def diagnose(self, env, params):
        model, field = params["model"], params["field"]
        if model not in env:
            return Diagnosis(False, f"model {model} is not installed", {"model": model})
        rules = self._rules(env, params)
        evidence = {
            "model": model,
            "field": field,
            "field_on_model": path_checker(env, model)(field.split(".")),
            "rules": [
                {
                    "id": rule.id,
                    "name": rule.name,
                    "groups": rule.groups.mapped("full_name"),
                    "modes": rule_modes(rule),
                    "domain": rule.domain_force,
                    "broken": [leaf.source for leaf in leaves],
                }
                for rule, leaves in rules.items()
            ],
        }
        if not rules:
            return Diagnosis(False, f"no active record rule on {model} uses a missing {field}", evidence)
        return Diagnosis(
            True,
            ", ".join(f"rule #{rule.id} {rule.name!r}" for rule in rules) + f" use {field}, which {model} lacks",
            evidence,
            rows=len(rules),
        )

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

    def replay(self, env, params, rule_ids=None):
        """A user of each rule searches the model, as opening its list does."""
        model = params["model"]
        if model not in env:
            return False, f"model {model} is not installed"
        rules = env["ir.rule"].with_context(active_test=False)
        rules = (
            rules.browse(rule_ids)
            if rule_ids is not None
            else rules.browse([rule.id for rule in self._rules(env, params)])
        )
        if not rules:
            return False, f"no record rule of {model} to search through"
        checked = []
        for rule in rules:
            user = sample_user(env, rule)

            def search(user=user, rule=rule):
                for mode in rule_modes(rule):
                    domain = env["ir.rule"].with_user(user)._compute_domain(model, mode)
                    env[model].sudo().search_count(domain or [])
                if env[model].with_user(user).has_access("read"):
                    env[model].with_user(user).search_count([])
                return f"{user.login} ({', '.join(rule_modes(rule))})"

            ok, detail = replayed(env, f"a search on {model} by {user.login}", search)
            if not ok:
                return False, detail
            checked.append(detail)
        return True, f"searches on {model} work for " + ", ".join(checked)

    def validate(self, ctx):
        rules = ctx.env["ir.rule"].with_context(active_test=False).browse(ctx.memo["rule_ids"])
        if any(rules.mapped("active")):
            return False, "a rule is still active"
        return self.replay(ctx.env, ctx.params, ctx.memo["rule_ids"])
