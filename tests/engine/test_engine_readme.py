"""README.rst is generated from readme/*.md: it must not drift from them."""

import sys
from pathlib import Path

ADDON_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ADDON_ROOT / "bin"))

from selfhealing_cli import readme  # noqa: E402


def test_readme_is_rendered_from_the_fragments():
    assert (ADDON_ROOT / "README.rst").read_text() == readme.render(), "run bin/self-healing readme"


def test_markdown_constructs():
    rst = "\n".join(
        readme.markdown_to_rst(
            "# Title\n\nRun `bin/self-healing test` and see [docs](https://example.org).\n\n"
            "- one\n- two\n\n```bash\necho hi\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
            level_offset=1,
        )
    )
    assert "Title\n~~~~~" in rst
    assert "``bin/self-healing test``" in rst
    assert "`docs <https://example.org>`_" in rst
    assert ".. code-block:: bash\n\n   echo hi" in rst
    assert ".. list-table::" in rst and "   * - a\n     - b" in rst


def test_readme_is_valid_restructuredtext():
    import docutils.core

    docutils.core.publish_string(
        (ADDON_ROOT / "README.rst").read_text(),
        writer_name="null",
        settings_overrides={"report_level": 2, "halt_level": 2},
    )
