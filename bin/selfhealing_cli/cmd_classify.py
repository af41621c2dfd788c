"""`self-healing classify`: JSON Lines of error texts in, root-cause classes out.

Runs from the repository with no database and no server: only the engine and
the guardrail library under data/ are read.
"""

import sys

from .paths import ADDON_ROOT


def add_arguments(parser):
    parser.add_argument("classify_args", nargs="*", help="options for the classifier (see --help after --)")


def run(args):
    if str(ADDON_ROOT) not in sys.path:
        sys.path.insert(0, str(ADDON_ROOT))
    from . import classify_io

    return classify_io.main(args.classify_args)
