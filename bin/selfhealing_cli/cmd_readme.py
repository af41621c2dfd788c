"""`self-healing readme`: render readme/*.md into README.rst (``--check`` only compares)."""

from . import readme
from .paths import ADDON_ROOT


def add_arguments(parser):
    parser.add_argument("--check", action="store_true", help="exit 1 if README.rst is not up to date")


def run(args):
    target = ADDON_ROOT / "README.rst"
    if args.check:
        current = target.read_text() if target.exists() else ""
        if current != readme.render():
            print("README.rst is out of date: run bin/self-healing readme")
            return 1
        return 0
    readme.write()
    print(f"wrote {target}")
    return 0
