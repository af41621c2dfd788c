"""Check the parameters handed to an auto-patch, and expand its declared scope.

Parameter values come from log captures or an LLM answer: untrusted text. A
value reaches a patch only when the patch declares its name and the whole
value matches the declared pattern. Scopes may name a parameter
(``"{table}"``); such an entry then stands for exactly that value, never a
pattern, so a value cannot widen a scope by carrying wildcards.
"""

import re
from fnmatch import fnmatchcase

PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")


class ParamError(ValueError):
    """The parameters do not fit the patch's declaration."""


def check_params(declared, values, one_of=()):
    """The accepted parameters as a new dict; raise ParamError on the first misfit.

    ``declared`` maps a name to ``{"pattern", "required", "description"}``;
    ``one_of`` lists groups of names of which at least one must be given.
    """
    values = dict(values or {})
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise ParamError("undeclared parameter(s): " + ", ".join(unknown))
    accepted = {}
    for name, spec in declared.items():
        value = values.get(name)
        if value is None or value == "":
            if spec.get("required"):
                raise ParamError(f"missing required parameter {name!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ParamError(f"parameter {name!r} must be text or an integer, not {type(value).__name__}")
        text = str(value)
        if not re.fullmatch(spec["pattern"], text):
            raise ParamError(f"parameter {name!r}={text[:80]!r} does not match {spec['pattern']!r}")
        accepted[name] = value
    for group in one_of:
        if not any(name in accepted for name in group):
            raise ParamError("one of these parameters is required: " + ", ".join(group))
    return accepted


def expand_scope(entries, params):
    """``(exact_names, patterns)`` for a declared scope, given the accepted parameters.

    An entry naming a parameter that was not given is dropped: it can match nothing.
    """
    exact, patterns = set(), []
    for entry in entries or ():
        names = PLACEHOLDER_RE.findall(entry)
        if not names:
            patterns.append(entry)
            continue
        if all(params.get(name) not in (None, "") for name in names):
            exact.add(PLACEHOLDER_RE.sub(lambda match: str(params[match.group(1)]), entry))
    return frozenset(exact), tuple(patterns)


def in_scope(name, scope):
    """Whether ``name`` is covered by an expanded scope."""
    exact, patterns = scope
    return name in exact or any(fnmatchcase(name, pattern) for pattern in patterns)
