"""Per-database fingerprint rules: what they match, which wins, and what is refused."""

import pytest

from engine.detect import fingerprint as fp
from engine.detect import fingerprint_rules as rules
from engine.detect.fingerprint_rules import FingerprintRule, RuleError

TIMEOUT = """Traceback (most recent call last):
  File "/mnt/extra-addons/shipping_connector/models/carrier.py", line 40, in _send
    raise requests.exceptions.ReadTimeout(url)
requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='api.carrier.example', port=443): Read timed out. (read timeout=30)
"""
KEYERROR = """Traceback (most recent call last):
  File "/mnt/extra-addons/shipping_connector/models/carrier.py", line 52, in _parse
    return data['tracking']
KeyError: 'tracking'
"""


def grouping(text):
    return fp.fingerprint(text)


def test_a_rule_matches_on_every_pattern_it_sets_and_ignores_case():
    compiled = rules.compile_rules(
        [FingerprintRule(group_as="carrier-timeouts", exception_type="*timeout", module="shipping_*")]
    )
    assert rules.first_match(compiled, grouping(TIMEOUT), "odoo.addons.shipping_connector").group_as == (
        "carrier-timeouts"
    )
    assert rules.first_match(compiled, grouping(KEYERROR), "odoo.addons.shipping_connector") is None


def test_the_first_rule_in_order_wins():
    compiled = rules.compile_rules(
        [
            FingerprintRule(group_as="connector", module="shipping_connector"),
            FingerprintRule(group_as="timeouts", exception_type="*Timeout"),
        ]
    )
    assert rules.first_match(compiled, grouping(TIMEOUT), "").group_as == "connector"
    assert rules.first_match(compiled, grouping(KEYERROR), "").group_as == "connector"


def test_message_patterns_see_the_masked_template_and_loggers_the_logger():
    compiled = rules.compile_rules([FingerprintRule(group_as="reads", message="*read timed out*")])
    assert rules.first_match(compiled, grouping(TIMEOUT), "").group_as == "reads"
    by_logger = rules.compile_rules([FingerprintRule(group_as="l", logger="odoo.addons.shipping_*")])
    assert rules.first_match(by_logger, grouping(KEYERROR), "odoo.addons.shipping_connector.carrier").group_as == "l"
    assert rules.first_match(by_logger, grouping(KEYERROR), "odoo.http") is None


def test_one_group_name_is_one_incident_key_whatever_the_rule():
    assert rules.rule_fingerprint("carrier") == rules.rule_fingerprint(" carrier ")
    assert rules.rule_fingerprint("carrier") != rules.rule_fingerprint("carriers")
    assert rules.rule_fingerprint("carrier") != grouping(TIMEOUT).fingerprint


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (FingerprintRule(group_as="", module="x"), "group name"),
        (FingerprintRule(group_as="all"), "at least one pattern"),
        (FingerprintRule(group_as="g", message="x" * 201), "longer than 200"),
        (FingerprintRule(group_as="g", message="*a*b*c*d*e*f*g*h*i"), "more than 8 wildcards"),
    ],
)
def test_unusable_rules_are_refused_with_the_reason(rule, message):
    with pytest.raises(RuleError, match=message):
        rules.compile_rules([rule])


def test_only_the_head_of_a_huge_message_is_compared():
    compiled = rules.compile_rules([FingerprintRule(group_as="g", message="*a*a*a*a*a*a*a*b")])
    huge = fp.Grouping("f", "KeyError", "a" * 1_000_000 + "b", (), "m", "t")
    assert rules.first_match(compiled, huge, "") is None, "the b beyond the bound is not read"
    short = fp.Grouping("f", "KeyError", "a" * (rules.MAX_SUBJECT_CHARS - 1) + "b", (), "m", "t")
    assert rules.first_match(compiled, short, "").group_as == "g"
