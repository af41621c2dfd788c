"""Render readme/*.md fragments into README.rst, in the OCA order.

OCA's oca-gen-addon-readme is not on PyPI; this covers the Markdown the
fragments use: headings, paragraphs, bullet and numbered lists, fenced code,
inline code, links, images and simple pipe tables.
"""

import ast
import re

from .paths import ADDON_ROOT

SECTIONS = [
    ("DESCRIPTION.md", None),
    ("INSTALL.md", "Installation"),
    ("CONFIGURE.md", "Configuration"),
    ("USAGE.md", "Usage"),
    ("BENCHMARKS.md", "Benchmarks"),
    ("DEVELOP.md", "Development: where each part lives"),
    ("ROADMAP.md", "Known issues / Roadmap"),
    ("CONTRIBUTORS.md", "Contributors"),
]
UNDERLINES = {1: "=", 2: "~", 3: "^", 4: '"'}

_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)]+)\)")
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def inline(text):
    parts = re.split(r"(`[^`]+`)", text)
    rendered = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            rendered.append(f"``{part[1:-1]}``")
        else:
            part = _LINK.sub(lambda m: f"`{m.group(1)} <{m.group(2)}>`_", part)
            rendered.append(_BOLD.sub(r"**\1**", part))
    return "".join(rendered)


def heading(text, level):
    return [text, UNDERLINES[level] * len(text), ""]


def table(rows):
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows]
    cells = [row for row in cells if not all(re.fullmatch(r":?-+:?", c) for c in row)]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in cells:
        lines.append("   * - " + inline(row[0]))
        lines.extend("     - " + inline(cell) for cell in row[1:])
    return lines + [""]


def markdown_to_rst(markdown, level_offset=0):
    out = []
    lines = markdown.splitlines()
    index = 0
    continuation = "  "  # indent of a list item's wrapped lines, set by the last marker
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            language = line[3:].strip() or "text"
            out += [f".. code-block:: {language}", ""]
            index += 1
            while index < len(lines) and not lines[index].startswith("```"):
                out.append("   " + lines[index] if lines[index] else "")
                index += 1
            out.append("")
        elif match := re.match(r"(#+)\s+(.*)", line):
            if out and out[-1] != "":
                out.append("")
            out += heading(match.group(2).strip(), min(4, len(match.group(1)) + level_offset))
        elif match := re.match(r"!\[([^\]]*)\]\(([^)]+)\)", line):
            out += [f".. image:: {match.group(2)}", f"   :alt: {match.group(1)}", ""]
        elif line.startswith("|"):
            rows = []
            while index < len(lines) and lines[index].startswith("|"):
                rows.append(lines[index])
                index += 1
            out += table(rows)
            continue
        elif match := re.match(r"(\s*)([-*]|\d+\.)\s+(.*)", line):
            marker = "-" if match.group(2) in "-*" else "#."
            continuation = match.group(1) + " " * (len(marker) + 1)
            out.append(f"{match.group(1)}{marker} {inline(match.group(3))}")
            if index + 1 >= len(lines) or not lines[index + 1].strip():
                out.append("")
        elif not line.strip():
            if out and out[-1] != "":
                out.append("")
        else:
            out.append(inline(line.strip()) if not line.startswith("  ") else continuation + inline(line.strip()))
        index += 1
    return out


def render():
    manifest = ast.literal_eval((ADDON_ROOT / "__manifest__.py").read_text())
    title = manifest["name"]
    out = [
        "=" * len(title),
        title,
        "=" * len(title),
        "",
        f"*{manifest['summary']}*",
        "",
        f".. |version| replace:: {manifest['version']}",
        "",
        f"Version |version|, license {manifest['license']}.",
        "",
    ]
    out.append(".. contents::\n   :local:\n")
    for filename, section in SECTIONS:
        path = ADDON_ROOT / "readme" / filename
        if not path.exists():
            continue
        if section:
            out += heading(section, 1)
        out += markdown_to_rst(path.read_text(), level_offset=1) + [""]
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def write():
    target = ADDON_ROOT / "README.rst"
    target.write_text(render())
    return target
