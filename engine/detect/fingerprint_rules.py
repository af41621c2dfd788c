"""Per-database fingerprint rules: an administrator's own say in how signals group.

Sentry's fingerprint rules, reduced to what an Odoo administrator needs: a rule
names glob patterns on what the default grouping extracted (exception type,
message template, module, logger) and a group name; a signal matching every
pattern a rule sets is grouped under that name instead of its default
fingerprint. The first matching rule (by sequence) wins; no rule, default grouping.
"""

import fnmatch
import hashlib
import re
from dataclasses import dataclass

CRITERIA = ("exception_type", "message", "module", "logger")
MAX_PATTERN_CHARS = 200
MAX_WILDCARDS = 8
# What a pattern is compared with: the message template is bounded already, this bounds the rest.
MAX_SUBJECT_CHARS = 2000


class RuleError(ValueError):
    """A rule that cannot be used; the message says what to change."""


@dataclass(frozen=True)
class FingerprintRule:
    group_as: str
    exception_type: str = ""
    message: str = ""
    module: str = ""
    logger: str = ""
    name: str = ""

    def patterns(self):
        return {criterion: getattr(self, criterion) for criterion in CRITERIA if getattr(self, criterion)}


def check(rule):
    """Raise RuleError unless ``rule`` can be applied: a group name, at least one pattern, bounded patterns."""
    if not (rule.group_as or "").strip():
        raise RuleError("A fingerprint rule needs a group name.")
    patterns = rule.patterns()
    if not patterns:
        raise RuleError("A fingerprint rule needs at least one pattern, or it would group every signal together.")
    for criterion, pattern in patterns.items():
        if len(pattern) > MAX_PATTERN_CHARS:
            raise RuleError(f"The {criterion} pattern is longer than {MAX_PATTERN_CHARS} characters.")
        if pattern.count("*") + pattern.count("?") > MAX_WILDCARDS:
            raise RuleError(f"The {criterion} pattern has more than {MAX_WILDCARDS} wildcards.")
    return rule


def _compiled(pattern):
    # fnmatch's translation has no nested repeats, and subjects are bounded: linear enough.
    return re.compile(fnmatch.translate(pattern.lower()))


def compile_rules(rules):
    """Rules (in sequence order) ready for ``first_match``; unusable ones raise RuleError."""
    return [(check(rule), {key: _compiled(value) for key, value in rule.patterns().items()}) for rule in rules]


def first_match(compiled, grouping, logger):
    """The first rule whose every pattern matches the signal's grouping facts, or None."""
    subjects = {
        "exception_type": grouping.exception_type or "",
        "message": grouping.message_template or "",
        "module": grouping.module or "",
        "logger": logger or "",
    }
    subjects = {key: value[:MAX_SUBJECT_CHARS].lower() for key, value in subjects.items()}
    for rule, patterns in compiled:
        if all(regex.fullmatch(subjects[key]) for key, regex in patterns.items()):
            return rule
    return None


def rule_fingerprint(group_as):
    """The incident key of a rule's group: the same name groups together, whatever the rule."""
    return hashlib.sha1(f"rule\x1f{group_as.strip()}".encode("utf-8", "surrogatepass")).hexdigest()
