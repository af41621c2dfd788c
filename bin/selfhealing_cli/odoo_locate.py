"""Find Odoo the way an Odoo developer expects.

Either ``ODOO_SRC`` names a source tree (the folder holding ``odoo-bin``), or
``odoo`` is importable (pip install -e, a .pth file, a packaged install).
"""

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

SUPPORTED_MAJOR_VERSIONS = (18, 19)
HOW_TO_PROVIDE = (
    "set ODOO_SRC to an Odoo 18.0 or 19.0 source tree (the folder with odoo-bin) whose requirements are "
    "installed, or make the `odoo` package importable"
)


@dataclass
class OdooInstall:
    root: Path  # folder containing the ``odoo`` package
    version: str

    @property
    def addons_paths(self):
        candidates = [self.root / "addons", self.root / "odoo" / "addons"]
        return [path for path in candidates if path.is_dir()]

    def environment(self):
        """Environment for child processes, so they import this very Odoo."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.root), env.get("PYTHONPATH")]))
        return env

    def command(self, *args):
        """An odoo-bin command line run with the current interpreter."""
        return [sys.executable, "-c", "import odoo.cli; odoo.cli.main()", *args]


def _root_from_env():
    source = os.environ.get("ODOO_SRC")
    if not source:
        return None
    root = Path(source).expanduser().resolve()
    if not (root / "odoo" / "release.py").is_file():
        raise UsageError(f"ODOO_SRC={source} is not an Odoo source tree (no odoo/release.py): {HOW_TO_PROVIDE}")
    return root


def _root_from_import():
    spec = importlib.util.find_spec("odoo")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"Odoo was not found: {HOW_TO_PROVIDE}")
    package_dir = Path(list(spec.submodule_search_locations)[0]).resolve()
    return package_dir.parent


def locate_odoo():
    root = _root_from_env() or _root_from_import()
    install = OdooInstall(root=root, version="?")
    probe = subprocess.run(
        [sys.executable, "-c", "import odoo.release as r, odoo.http; print(r.version_info[0], r.version)"],
        env=install.environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise UsageError(f"Odoo at {root} cannot be imported ({last}): install its requirements; {HOW_TO_PROVIDE}")
    major, version = probe.stdout.split()
    if int(major) not in SUPPORTED_MAJOR_VERSIONS:
        raise UsageError(f"Odoo {version} at {root} is not supported: self_healing needs 18.0 or 19.0")
    install.version = version
    return install
