"""Draft guardrails learned from incidents fixed by hand (engine/guardrail_candidate.py)."""

import re

import pytest

from engine.detect import normalize
from engine.learn import guardrail_candidate
from engine.library import guardrails as library
from engine.match import classifier

CHECK_VIOLATION = (
    'psycopg2.errors.CheckViolation: new row for relation "stock_quant" violates check '
    'constraint "stock_quant_qty_check"\nDETAIL: Failing row contains (12, 4).'
)


def test_the_pattern_matches_the_same_message_with_other_values():
    template = normalize.message_template("ValueError: Wrong value for stock.move.state: 'closed' on move 4821")
    pattern = guardrail_candidate.pattern_from_template(template)
    compiled = re.compile(pattern)
    assert compiled.search("ValueError: Wrong value for stock.move.state: 'open' on move 77")
    assert not compiled.search("ValueError: Wrong value for sale.order.state: 'open' on move 77")
    assert guardrail_candidate.pattern_from_template("<n> <str>") is None
    assert guardrail_candidate.pattern_from_template("") is None
    long = guardrail_candidate.pattern_from_template("x" * 500 + " <n> tail")
    assert re.compile(long).search("x" * 500) and len(long) <= 200


def test_codes_count_up_from_the_learned_ones():
    assert guardrail_candidate.next_learned_code([]) == "GR-LRN-001"
    assert guardrail_candidate.next_learned_code(["GR-LRN-001", "GR-LRN-007", "GR-SEQ-009"]) == "GR-LRN-008"
    with pytest.raises(ValueError):
        guardrail_candidate.next_learned_code(["GR-LRN-999"])


def test_a_candidate_with_a_class_passes_the_library_checks_and_classifies_its_incident():
    template = normalize.message_template(CHECK_VIOLATION)
    entry = guardrail_candidate.candidate_entry(
        code="GR-LRN-001",
        title="Stock quantity check fails",
        error_class="VALIDATION_ERROR",
        exception_type="psycopg2.errors.CheckViolation",
        message_template=template,
        problem="A negative quantity hit the check constraint.",
        solution="Fix the move\n\nRe-run it",
        module="stock",
        odoo_version="18.0",
    )
    assert entry["signals"]["exception_types"] == ["CheckViolation"]
    assert entry["fix_steps"] == ["Fix the move", "Re-run it"]
    assert entry["odoo_versions"] == ["18.0"] and entry["critical"] is False
    checked = library.check_entry(entry)
    answer = classifier.Classifier(library.library_from_entries([checked.as_dict()])).classify(
        CHECK_VIOLATION.replace("(12, 4)", "(99, 1)")
    )
    assert (answer.guardrail, answer.error_class) == ("GR-LRN-001", "VALIDATION_ERROR")


def test_accounting_modules_make_a_critical_candidate():
    entry = guardrail_candidate.candidate_entry(
        code="GR-LRN-002",
        title="t",
        error_class="ACCOUNT_SEQUENCE",
        exception_type="UserError",
        message_template="The sequence of journal <str> is broken",
        problem="p",
        solution="s",
        module="account_edi",
        odoo_version="saas~18.2",
    )
    assert entry["critical"] is True and entry["odoo_versions"] == []
