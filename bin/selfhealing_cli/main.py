"""Entry point of ``bin/self-healing``."""

import argparse
import sys

from . import cmd_bench, cmd_chaos, cmd_classify, cmd_demo, cmd_import, cmd_pot, cmd_readme, cmd_stress, cmd_test
from .errors import UsageError

COMMANDS = {
    "demo": (cmd_demo, "serve a demo database on http://127.0.0.1:8069 where real faults break and heal live"),
    "test": (cmd_test, "run the engine and Odoo tests in a fresh database"),
    "classify": (cmd_classify, "classify JSON Lines of error texts from stdin (no database needed)"),
    "readme": (cmd_readme, "render readme/*.md fragments into README.rst"),
    "pot": (cmd_pot, "export the translation template i18n/self_healing.pot from a fresh database"),
    "import-knowledge": (cmd_import, "import solved cases (JSON Lines or CSV) into a database's knowledge base"),
    "chaos": (cmd_chaos, "inject real faults into a live Odoo and measure detection and healing (--json)"),
    "stress": (cmd_stress, "a multi-worker Odoo under a burst of failing requests, with and without the addon"),
    "bench": (cmd_bench, "run the benchmarks and print their figures (--json for one JSON object)"),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="self-healing", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command_parser)
        command_parser.set_defaults(handler=module.run)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except UsageError as exc:
        print(f"self-healing: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
