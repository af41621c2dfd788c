"""The anchor of an inheriting view, as Odoo's "cannot be located in parent view" error quotes it.

Odoo quotes the spec node it could not place: ``<xpath expr="...">`` (attributes
without ``position``), ``<field name="...">`` or any other element, or a moved
node written out whole (“<field name="x" position="move"/>”). That text comes
from a log line, so it is only parsed here, never run: an xpath expression is
accepted only when it stays within what Odoo view inheritance uses (location
paths, attribute tests, literals, a few functions and axes), and a patch
evaluates it only with lxml on a parsed tree.
"""

import html
import re
from dataclasses import dataclass

MAX_SPEC_CHARS = 600
MAX_EXPR_CHARS = 400

# "<tag attr="value" ...>" or "<tag .../>": the attribute values may hold quotes of the other kind.
_SPEC = re.compile(r"<(?P<tag>[A-Za-z_][\w.-]{0,63})(?P<attrs>(?:\s+[A-Za-z_][\w:.-]*=\"[^\"]*\")*)\s*/?>")
_ATTR = re.compile(r"([A-Za-z_][\w:.-]*)=\"([^\"]*)\"")

# What view xpaths in Odoo's own addons use; anything else (variables, namespaces, other functions) is refused.
FUNCTIONS = frozenset(
    {
        "contains",
        "starts-with",
        "hasclass",
        "not",
        "text",
        "normalize-space",
        "last",
        "position",
        "count",
        "string",
        "node",
    }
)
AXES = frozenset(
    {
        "ancestor",
        "ancestor-or-self",
        "child",
        "descendant",
        "descendant-or-self",
        "following",
        "following-sibling",
        "parent",
        "preceding",
        "preceding-sibling",
        "self",
    }
)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<literal>'[^']*'|"[^"]*")
      | (?P<number>\d+(?:\.\d+)?)
      | (?P<axis>[A-Za-z][\w-]*)::
      | (?P<function>[A-Za-z][\w-]*)\s*\(
      | (?P<name>[A-Za-z_][\w.-]*|\*)
      | (?P<punct>//|/|\.\.|\.|@|\[|\]|\(|\)|,|\||!=|<=|>=|=|<|>)
    )""",
    re.VERBOSE,
)


class AnchorError(ValueError):
    """The quoted anchor is not one this patch may look for."""


@dataclass(frozen=True)
class Anchor:
    tag: str
    attrs: tuple  # ((name, value), ...) without "position", in the quoted order

    @property
    def expr(self):
        return dict(self.attrs).get("expr") if self.tag == "xpath" else None

    def label(self):
        attrs = "".join(f' {name}="{value}"' for name, value in self.attrs)
        return f"<{self.tag}{attrs}>"

    def same_as(self, tag, attrib):
        """Whether an element of a view (its tag and attributes) is this very spec node."""
        return tag == self.tag and {k: v for k, v in attrib.items() if k != "position"} == dict(self.attrs)

    def words(self):
        """The longest word of the anchor: a prefilter for the views that may hold it."""
        found = re.findall(r"[A-Za-z_][\w]{2,}", " ".join(value for _name, value in self.attrs))
        return max(found, key=len) if found else ""


def parse_anchor(text):
    """The ``Anchor`` quoted in ``text``; AnchorError when it is not a plain spec node."""
    text = (text or "").strip()
    if not text or len(text) > MAX_SPEC_CHARS:
        raise AnchorError(f"the quoted anchor is empty or longer than {MAX_SPEC_CHARS} characters")
    # Odoo escapes the attribute values it quotes; a log reader may have unescaped them already.
    match = _SPEC.fullmatch(text) or _SPEC.fullmatch(html.unescape(text))
    if match is None:
        raise AnchorError(f"{text[:80]!r} is not a single element with quoted attributes")
    attrs = tuple(
        (name, html.unescape(value)) for name, value in _ATTR.findall(match.group("attrs")) if name != "position"
    )
    anchor = Anchor(match.group("tag"), attrs)
    if anchor.tag == "xpath":
        check_expr(anchor.expr)
    elif not attrs:
        raise AnchorError(f"<{anchor.tag}> without attributes would stand for any {anchor.tag} of the view")
    return anchor


def check_expr(expr):
    """``expr`` when it only uses what Odoo view xpaths use; AnchorError otherwise."""
    if not expr or len(expr) > MAX_EXPR_CHARS:
        raise AnchorError(f"an xpath expression must have 1 to {MAX_EXPR_CHARS} characters")
    position, depth = 0, 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if match is None or match.end() == position:
            rest = expr[position:].strip()
            if not rest:
                break
            raise AnchorError(f"xpath {expr[:80]!r}: {rest[:20]!r} is not allowed in a view anchor")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "axis" and value not in AXES:
            raise AnchorError(f"xpath {expr[:80]!r}: the axis {value!r} is not allowed")
        if kind == "function":
            if value not in FUNCTIONS:
                raise AnchorError(f"xpath {expr[:80]!r}: the function {value!r} is not allowed")
            depth += 1
        if kind == "punct" and value in "([":
            depth += 1
        elif kind == "punct" and value in ")]":
            depth -= 1
            if depth < 0:
                raise AnchorError(f"xpath {expr[:80]!r}: unbalanced brackets")
        position = match.end()
    if depth:
        raise AnchorError(f"xpath {expr[:80]!r}: unbalanced brackets")
    return expr
