"""The anchor quoted by Odoo's "cannot be located in parent view": parsed, never run, xpaths kept to a whitelist."""

import pytest

from engine.patching.view_anchor import MAX_EXPR_CHARS, AnchorError, check_expr, parse_anchor


def test_odoo_18_and_19_wordings_of_an_xpath_anchor():
    # '%s' form (the attributes without position, values escaped by Odoo), as logged and as unescaped.
    for text in (
        '<xpath expr="//field[@name=&#39;x_gone&#39;]">',
        "<xpath expr=\"//field[@name='x_gone']\">",
    ):
        anchor = parse_anchor(text)
        assert anchor.tag == "xpath"
        assert anchor.expr == "//field[@name='x_gone']"
        assert anchor.words() == "x_gone"
    assert parse_anchor('<xpath expr="//div[hasclass(&#34;o_title&#34;)]">').expr == '//div[hasclass("o_title")]'


def test_field_and_element_anchors_and_moved_nodes():
    field = parse_anchor('<field name="x_gone">')
    assert (field.tag, field.attrs) == ("field", (("name", "x_gone"),))
    assert field.same_as("field", {"name": "x_gone", "position": "after"})
    assert not field.same_as("field", {"name": "x_gone", "invisible": "1"})
    assert not field.same_as("label", {"name": "x_gone"})
    moved = parse_anchor('<field name="x_gone" position="move"/>')
    assert moved.attrs == (("name", "x_gone"),)
    group = parse_anchor('<group name="sale_info">')
    assert group.label() == '<group name="sale_info">'


@pytest.mark.parametrize(
    "expr",
    [
        "/*",
        "//field[@name='partner_id']",
        "//sheet/group[1]/field[@name='x']/..",
        "//div[hasclass('oe_title')]/h1",
        "//page[@name='misc']//field[@name='ref' and not(@invisible)]",
        "//field[@name='a']/following-sibling::field[1]",
        "//label[contains(text(), 'Tags')]",
        "//notebook/page[last()]",
        "//form/*[position() = 2] | //form",
    ],
)
def test_xpaths_odoo_views_use_are_accepted(expr):
    assert check_expr(expr) == expr


@pytest.mark.parametrize(
    "expr",
    [
        "$variable",
        "//field[@name=$x]",
        "document('/etc/passwd')",
        "//*[exsl:node-set(.)]",
        "//*[php:function('system', 'id')]",
        "//field[@name='a'",
        "//field[@name='a']]",
        "namespace::*",
        "//{http://example.com}field",
        "//field[string-length(@name) > 1]",
        "//a" + "/a" * MAX_EXPR_CHARS,
        "",
    ],
)
def test_anything_else_is_refused(expr):
    with pytest.raises(AnchorError):
        check_expr(expr)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not an element",
        '<xpath expr="$x">',
        "<field>",
        "<field name='single quotes'>",
        '<field name="a"><field name="b"/></field>',
        "<" + "x" * 700 + ">",
    ],
)
def test_malformed_anchors_are_refused(text):
    with pytest.raises(AnchorError):
        parse_anchor(text)
