"""A draft guardrail learned from an incident a human fixed by hand.

When no guardrail matched an incident and a person records how they fixed
it, the incident's own fingerprint (exception type and message template)
becomes the detection signal of a candidate guardrail, in the library's
format. It is only a draft: a manager reviews it, picks its class if the
incident had none, and activates it (which runs the library's checks).
"""

import re

from ..decide.policy import is_critical_module
from ..library.guardrails import CODE_RE

LEARNED_PREFIX = "GR-LRN-"
# Placeholders engine/normalize.py puts in message templates, each standing for some text.
_PLACEHOLDER = re.compile(r"<(?:n|str|hex|path|url|email|uuid|ts|value|user|record|company)>")
WILDCARD = r"[^\n]+?"
MAX_LITERAL_CHARS = 160  # of the message kept in the pattern; the start says the most
MIN_LITERAL = 12  # a pattern pinning down less text than this would match too much


def pattern_from_template(template):
    """A regex for the first line of a message template, or None when it says too little.

    The literal text is escaped and every placeholder becomes a lazy
    wildcard on one line, so the pattern matches the same message with other
    values.
    """
    text = (template or "").strip()
    first_line = text.splitlines()[0] if text else ""
    pieces = [piece for piece in _PLACEHOLDER.split(first_line) if piece.strip()]
    if len("".join(pieces).strip()) < MIN_LITERAL:
        return None
    parts, budget = [], MAX_LITERAL_CHARS
    for piece in pieces:
        if budget <= 0:
            break
        parts.append(re.escape(piece[:budget]))
        budget -= len(piece)
    return WILDCARD.join(parts)


def next_learned_code(existing_codes):
    """The next free GR-LRN-nnn code."""
    numbers = [
        int(code[len(LEARNED_PREFIX) :])
        for code in existing_codes
        if code.startswith(LEARNED_PREFIX) and CODE_RE.match(code)
    ]
    number = max(numbers, default=0) + 1
    if number > 999:
        raise ValueError("no learned guardrail code left (GR-LRN-999 is taken)")
    return f"{LEARNED_PREFIX}{number:03d}"


def candidate_entry(
    code, title, error_class, exception_type, message_template, problem, solution, module=None, odoo_version=None
):
    """A guardrail dict in the library's format, built from one fixed incident."""
    short_type = (exception_type or "").rsplit(".", 1)[-1]
    pattern = pattern_from_template(message_template)
    signals = {}
    if short_type:
        signals["exception_types"] = [short_type]
    if pattern:
        signals["all_patterns"] = [pattern]
    if module:
        signals["modules"] = [module]
    steps = [line.strip() for line in (solution or "").splitlines() if line.strip()]
    major = (odoo_version or "").split("-")[0]
    return {
        "code": code,
        "error_class": error_class,
        "title": title,
        "signals": signals,
        "root_cause": (problem or "").strip(),
        "fix_steps": steps,
        "autopatch": None,
        "risk": "medium",
        "critical": bool(module and is_critical_module(module)),
        "scope": {"models": [], "modules": [module] if module else []},
        "odoo_versions": [major] if re.match(r"^\d{2}\.0$", major) else [],
        "version_notes": "",
        "references": [],
    }
