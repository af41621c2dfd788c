"""`self-healing import-knowledge FILE --db NAME`: solved cases into a database's knowledge base.

The file (JSON Lines or CSV, schema in data/knowledge_import.schema.json) is
imported by the addon's own code in a child process that opens the database
with Odoo, so the command applies exactly what the wizard applies. Good rows
are kept even when others are rejected; the exit code is 0 when every row was
accepted, 1 when some were rejected, 2 when nothing could be imported.
"""

import json
import subprocess
import sys
from pathlib import Path

from . import pg
from .errors import UsageError
from .odoo_config import write_config
from .odoo_db import addon_state
from .odoo_locate import locate_odoo
from .paths import ADDON_ROOT, PG_DATA

RESULT_MARK = "SELF_HEALING_IMPORT_RESULT "
CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from selfhealing_cli import cmd_import; sys.exit(cmd_import.child_main(sys.argv[2:]))"
)


def add_arguments(parser):
    parser.add_argument("file", help="a .jsonl or .csv file of solved cases")
    parser.add_argument("--db", required=True, help="database with self_healing installed")
    parser.add_argument(
        "--pg",
        metavar="URI",
        help="PostgreSQL as postgresql://user:password@host:port (default: the embedded server of `self-healing demo`)",
    )
    parser.add_argument("--format", choices=("jsonl", "csv"), help="override the format guessed from the file")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args):
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{args.file}: no such file")
    odoo = locate_odoo()
    cluster = pg.from_uri(args.pg) if args.pg else pg.start_embedded(PG_DATA)
    if not cluster.database_exists(args.db):
        raise UsageError(f"database {args.db} does not exist")
    state = addon_state(cluster, args.db)
    if state != "installed":
        raise UsageError(f"self_healing is not installed in {args.db} (state: {state or 'absent'})")
    config = write_config(f"import-{args.db}", odoo, cluster, args.db)
    command = [
        sys.executable,
        "-c",
        CHILD,
        str(ADDON_ROOT / "bin"),
        str(config),
        args.db,
        str(path.resolve()),
        args.format or "",
    ]
    child = subprocess.run(command, env=odoo.environment(), capture_output=True, text=True, check=False)
    summary = next(
        (json.loads(line[len(RESULT_MARK) :]) for line in child.stdout.splitlines() if line.startswith(RESULT_MARK)),
        None,
    )
    if summary is None:
        tail = "\n".join((child.stderr or child.stdout).strip().splitlines()[-15:])
        raise UsageError(f"the import did not run (exit code {child.returncode}):\n{tail}")
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        print(describe(summary, path.name))
    if summary.get("fatal"):
        return 2
    return 1 if summary["errors"] else 0


def describe(summary, name):
    """The summary in plain words, one rejected row per line."""
    if summary.get("fatal"):
        return f"{name}: nothing imported: {summary['fatal']}"
    lines = [
        f"{name} ({summary['format']}): {summary['created']} created, {summary['updated']} updated, "
        f"{summary['skipped']} unchanged, {len(summary['errors'])} rejected"
    ]
    if summary["ignored_columns"]:
        lines.append(f"ignored columns: {', '.join(summary['ignored_columns'])}")
    lines += [f"  line {error['line']}: {error['reason']}" for error in summary["errors"]]
    return "\n".join(lines)


def child_main(argv):
    """In the child: open the database with Odoo, import, commit, print the summary."""
    config_path, dbname, file_path, fmt = argv
    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(["-c", config_path, "-d", dbname, "--log-level=warn", "--no-http"])
    content = Path(file_path).read_bytes()
    registry = Registry(dbname)
    from odoo.addons.self_healing.engine.library import knowledge_import

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        try:
            summary = env["self_healing.knowledge.entry"]._import_knowledge_file(
                content, filename=Path(file_path).name, fmt=fmt or None
            )
        except knowledge_import.ImportFileError as exc:
            summary = {"fatal": str(exc)}
        summary.pop("entry_ids", None)
        cr.commit()
    sys.stdout.write(RESULT_MARK + json.dumps(summary) + "\n")
    return 0
