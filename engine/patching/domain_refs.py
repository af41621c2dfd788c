"""The field paths a stored domain refers to, found without evaluating it.

Saved filters, record rules and window actions keep their domain as Python
source that may mention ``uid``, ``context_today()`` or ``company_ids``.
Parsing it (never evaluating it) is enough to list the leaves and the field
path each one walks, so a path to a field that no longer exists can be found
even when the domain cannot be evaluated at all.
"""

import ast
from dataclasses import dataclass

LEAF_OPERATORS = frozenset(
    {
        "=",
        "!=",
        "<>",
        "<",
        "<=",
        ">",
        ">=",
        "=?",
        "=like",
        "=ilike",
        "like",
        "not like",
        "ilike",
        "not ilike",
        "in",
        "not in",
        "child_of",
        "parent_of",
        "any",
        "not any",
    }
)
# Their right-hand side is a domain on the comodel of the path.
SUBDOMAIN_OPERATORS = frozenset({"any", "not any"})


@dataclass(frozen=True)
class Leaf:
    path: tuple
    operator: str
    source: str

    @property
    def dotted(self):
        return ".".join(self.path)


def leaves(domain_text):
    """Every leaf of the domain, sub-domains of ``any`` included (their paths are prefixed)."""
    try:
        tree = ast.parse((domain_text or "[]").strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not a domain expression: {exc.msg}") from exc
    found = []
    _walk(tree.body, (), found)
    return found


def broken_leaves(domain_text, path_exists):
    """The leaves whose path ``path_exists(path)`` rejects."""
    return [leaf for leaf in leaves(domain_text) if not path_exists(leaf.path)]


def mentions(leaf, field_path):
    """Whether a leaf walks through ``field_path`` ("x_foo" or "partner_id.x_foo")."""
    wanted = tuple(field_path.split("."))
    return leaf.path[: len(wanted)] == wanted or wanted[-1] in leaf.path


def _walk(node, prefix, found):
    if isinstance(node, (ast.List, ast.Tuple)):
        parts = _leaf_parts(node)
        if parts is not None:
            path, operator, right = parts
            full_path = prefix + path
            found.append(Leaf(full_path, operator, ast.unparse(node)))
            if operator in SUBDOMAIN_OPERATORS:
                _walk(right, full_path, found)
            return
    for child in ast.iter_child_nodes(node):
        _walk(child, prefix, found)


def _leaf_parts(node):
    if len(node.elts) != 3:
        return None
    left, operator, right = node.elts
    if not (isinstance(left, ast.Constant) and isinstance(left.value, str)):
        return None
    if not (isinstance(operator, ast.Constant) and operator.value in LEAF_OPERATORS):
        return None
    if not left.value:
        return None
    return tuple(left.value.split(".")), operator.value, right
