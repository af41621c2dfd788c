"""`self-healing demo`: a demo database served on http://127.0.0.1:8069 until Ctrl-C."""

import subprocess

from . import pg
from .errors import UsageError
from .odoo_config import ensure_port_free, write_config
from .odoo_db import addon_state, install_addon
from .odoo_locate import locate_odoo
from .paths import PG_DATA

DEMO_DB = "self_healing_demo"


def add_arguments(parser):
    parser.add_argument("--db", default=DEMO_DB, help=f"database name (default {DEMO_DB})")
    parser.add_argument("--port", type=int, default=8069, help="HTTP port on 127.0.0.1 (default 8069)")
    parser.add_argument("--reset", action="store_true", help="drop and recreate the demo database first")
    parser.add_argument("--pg", metavar="URI", help="use this PostgreSQL instead of the embedded one")


def run(args):
    odoo = locate_odoo()
    ensure_port_free(args.port)
    cluster = pg.from_uri(args.pg) if args.pg else pg.start_embedded(PG_DATA)
    config = write_config("demo", odoo, cluster, args.db, http_port=args.port, extra={"max_cron_threads": "1"})
    if args.reset:
        cluster.drop_database(args.db)
    if cluster.database_exists(args.db):
        state = addon_state(cluster, args.db)
        if state != "installed":
            raise UsageError(
                f"database {args.db} exists without self_healing installed (state: {state or 'absent'}): "
                f"pass --reset to recreate it, or --db NAME for another one"
            )
    else:
        print(f"self-healing: creating {args.db} with the addon and its demo data (about a minute)", flush=True)
        install_addon(odoo, config, args.db, demo=True, log_name="demo-install")
    print(f"self-healing: serving http://127.0.0.1:{args.port}/odoo (admin/admin); Ctrl-C stops it", flush=True)
    server = subprocess.Popen(odoo.command("server", "-c", str(config), "-d", args.db), env=odoo.environment())
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        server.wait(timeout=30)
        print("\nself-healing: stopped Odoo; stopping the database", flush=True)
        return 0
