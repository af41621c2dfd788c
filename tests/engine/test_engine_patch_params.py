import pytest

from engine.patching import params as patch_params
from engine.patching.params import ParamError

DECLARED = {
    "table": {"pattern": r"[a-z_][a-z0-9_]*", "required": True, "description": "table"},
    "view_id": {"pattern": r"\d+", "required": False, "description": "view id"},
    "view_name": {"pattern": r"[^\n]{1,50}", "required": False, "description": "view name"},
}


def test_accepts_declared_values_and_keeps_their_type():
    accepted = patch_params.check_params(DECLARED, {"table": "res_partner", "view_id": 12})
    assert accepted == {"table": "res_partner", "view_id": 12}


def test_pattern_must_match_the_whole_value():
    with pytest.raises(ParamError, match="does not match"):
        patch_params.check_params(DECLARED, {"table": "res_partner; DROP TABLE x"})


def test_refuses_undeclared_and_missing_and_odd_types():
    with pytest.raises(ParamError, match="undeclared"):
        patch_params.check_params(DECLARED, {"table": "a", "sql": "DELETE"})
    with pytest.raises(ParamError, match="missing required"):
        patch_params.check_params(DECLARED, {"view_id": 3})
    with pytest.raises(ParamError, match="text or an integer"):
        patch_params.check_params(DECLARED, {"table": ["a"]})
    with pytest.raises(ParamError, match="text or an integer"):
        patch_params.check_params(DECLARED, {"table": True})


def test_one_of_groups():
    groups = (("view_id", "view_name"),)
    with pytest.raises(ParamError, match="one of"):
        patch_params.check_params(DECLARED, {"table": "a"}, groups)
    assert patch_params.check_params(DECLARED, {"table": "a", "view_name": "x"}, groups)["view_name"] == "x"


def test_scope_placeholders_are_exact_and_patterns_are_globs():
    scope = patch_params.expand_scope(("{table}", "ir_sequence_[0-9]*", "{absent}"), {"table": "res_*"})
    assert patch_params.in_scope("res_*", scope)
    assert not patch_params.in_scope("res_partner", scope)  # a value never acts as a wildcard
    assert patch_params.in_scope("ir_sequence_012", scope)
    assert not patch_params.in_scope("ir_sequence_date_range", scope)
