"""Find stored domains (filters, rules, actions) that name a field their model lacks."""

from ..engine.patching import domain_refs


def path_checker(env, model_name):
    """A function telling whether a field path exists, walking relations from ``model_name``."""

    def exists(path):
        model = env[model_name]
        for position, name in enumerate(path):
            field = model._fields.get(name)
            if field is None:
                return False
            if position < len(path) - 1:
                if not field.relational:
                    # Only properties and json values can be walked further; trust them.
                    return field.type in ("properties", "json")
                model = env[field.comodel_name]
        return True

    return exists


def broken_leaves_about(env, model_name, domain_text, field):
    """The leaves of ``domain_text`` that use ``field`` and do not resolve on ``model_name``.

    A domain that does not even parse counts as broken on every mention of the field.
    """
    if model_name not in env:
        return []
    try:
        broken = domain_refs.broken_leaves(domain_text, path_checker(env, model_name))
    except ValueError:
        return [domain_refs.Leaf((field,), "?", domain_text)] if field in (domain_text or "") else []
    return [leaf for leaf in broken if domain_refs.mentions(leaf, field)]
