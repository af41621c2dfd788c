import pytest

from engine.patching import domain_refs


def test_leaves_of_a_domain_with_runtime_names():
    text = "['|', ('x_ghost', '=', uid), '&', ('partner_id.name', 'ilike', 'a'), (1, '=', 1)]"
    found = domain_refs.leaves(text)
    assert [leaf.path for leaf in found] == [("x_ghost",), ("partner_id", "name")]
    assert found[0].operator == "="
    assert found[0].source == "('x_ghost', '=', uid)"


def test_value_lists_are_not_leaves_and_any_subdomains_are_prefixed():
    text = "[('state', 'in', ['a', '=', 'b']), ('line_ids', 'any', [('product_id.x_old', '=', 1)])]"
    paths = [leaf.path for leaf in domain_refs.leaves(text)]
    assert paths == [("state",), ("line_ids",), ("line_ids", "product_id", "x_old")]


def test_broken_leaves_and_mentions():
    known = {("name",), ("partner_id",), ("partner_id", "name")}
    text = "[('name', '=', 'a'), ('x_ghost', '!=', False), ('partner_id.x_ghost', '=', 1)]"
    broken = domain_refs.broken_leaves(text, lambda path: path in known)
    assert [leaf.dotted for leaf in broken] == ["x_ghost", "partner_id.x_ghost"]
    assert all(domain_refs.mentions(leaf, "x_ghost") for leaf in broken)
    assert not domain_refs.mentions(broken[0], "x_other")


def test_syntax_error_is_a_value_error():
    with pytest.raises(ValueError):
        domain_refs.leaves("[('a', '=', ")
    assert domain_refs.leaves("") == []
