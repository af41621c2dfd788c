"""The house rules of the engine, checked on its source: no Odoo, no climb back, no cycles.

The engine is the part of the addon that runs without Odoo (the CLI, the
benchmarks and these tests import it as a top-level package). It may import
the standard library, numpy, the LLM SDKs and itself, never odoo nor the
addon's Odoo-side packages (models, detection, autopatches, wizards).
"""

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
ADDON_PACKAGES = {"models", "detection", "autopatches", "wizards", "tests", "controllers"}


def engine_modules():
    return sorted(path for path in ENGINE.rglob("*.py"))


def module_name(path):
    parts = list(path.relative_to(ENGINE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path):
    """(absolute module names imported, relative imports resolved inside the addon)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append(node.module)
                continue
            base = package.split(".")
            if node.level > 1:
                base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            if not base:
                found.append(f"<above the addon>.{node.module}")
            elif node.module:
                found.append(target)
            else:
                found += [f"{target}.{alias.name}" for alias in node.names]
    return found


def test_the_engine_imports_nothing_from_odoo_nor_the_odoo_side_of_the_addon():
    offenders = []
    for path in engine_modules():
        for name in imports_of(path):
            top = name.split(".")[0]
            if top == "odoo" or top in ADDON_PACKAGES or name.startswith("<above"):
                offenders.append(f"{path.relative_to(ENGINE.parent)} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_every_engine_package_says_what_it_owns():
    for init in ENGINE.rglob("__init__.py"):
        docstring = ast.get_docstring(ast.parse(init.read_text()))
        assert docstring and len(docstring) > 40, f"{init.relative_to(ENGINE.parent)} has no docstring"


def test_engine_modules_import_no_cycle():
    known = {module_name(path): path for path in engine_modules()}
    graph = {}
    for name, path in known.items():
        targets = set()
        for imported in imports_of(path):
            # ``from ..detect import normalize`` names a module, ``from ..detect.signal import X`` a module too.
            while imported and imported not in known:
                imported = imported.rsplit(".", 1)[0] if "." in imported else ""
            if imported and imported != name and not known[imported].name == "__init__.py":
                targets.add(imported)
        graph[name] = targets
    state, cycles = {}, []

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(trail[trail.index(target) :] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)
    assert len(graph) > 20, "the walk found the engine's modules"
