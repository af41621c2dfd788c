"""`self-healing test`: the project's whole test suite in a fresh database."""

import contextlib
import os
import subprocess
import sys

from . import pg
from .odoo_config import write_config
from .odoo_db import install_addon, loader_complaints
from .odoo_locate import locate_odoo
from .paths import CHAOS_ADDON, PG_DATA, RUN_DIR, addon_link, dev_addons_link, runtime_dir
from .requirements import ensure_requirements
from .uninstall_check import check_uninstall

TEST_DB = "self_healing_test"


def add_arguments(parser):
    parser.add_argument("--pg", metavar="URI", help="run against this PostgreSQL (postgresql://user:pw@host:port)")
    parser.add_argument("--db", default=TEST_DB, help=f"test database name (default {TEST_DB}; recreated)")
    parser.add_argument("--keep", action="store_true", help="keep the test database afterwards")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")


def run(args):
    ensure_requirements()
    odoo = locate_odoo()
    cluster = pg.from_uri(args.pg) if args.pg else pg.start_embedded(PG_DATA)
    print(
        f"self-healing: Odoo {odoo.version} from {odoo.root}; PostgreSQL at {cluster.host}:{cluster.port} "
        f"(pgvector {'available' if cluster.has_vector else 'absent: exact search fallback'})",
        flush=True,
    )
    cluster.drop_database(args.db)
    config = write_config(f"test-{args.db}", odoo, cluster, args.db, http_port=free_http_port(), dev_addons=True)
    # The chaos addon's tests run here too; the uninstall check removes both (it depends on self_healing).
    lines = install_addon(
        odoo,
        config,
        args.db,
        demo=False,
        log_name=f"test-install-{args.db}",
        modules=("self_healing", CHAOS_ADDON.name),
    )
    complaints = loader_complaints(lines)
    if complaints:
        print("self-healing: the loader complained about the addon while installing it:", *complaints, sep="\n")
        return 1
    print("self-healing: installed cleanly; checking that it uninstalls cleanly on a copy", flush=True)
    if not check_uninstall(odoo, config, cluster, args.db):
        return 1
    env = odoo.environment()
    env["SELF_HEALING_TEST_PG_DSN"] = cluster.dsn(args.db)
    env["SELF_HEALING_TEST_HAS_VECTOR"] = "1" if cluster.has_vector else "0"
    env.setdefault("XDG_RUNTIME_DIR", str(runtime_dir()))
    link = addon_link()
    # The chaos tests first: they expect a database no other test has committed incidents to.
    tests = [dev_addons_link() / "tests", link / "tests"]
    command = [
        sys.executable,
        "-m",
        "pytest",
        *map(str, tests),
        "-p",
        "no:cacheprovider",
        "-q",
        f"--odoo-config={config}",
        f"--odoo-database={args.db}",
        "--odoo-http",
        *args.pytest_args,
    ]
    try:
        return subprocess.run(command, env=env, check=False, cwd=str(RUN_DIR)).returncode
    finally:
        if not args.keep:
            with contextlib.suppress(Exception):
                cluster.drop_database(args.db)


def free_http_port():
    from .odoo_config import free_port

    return int(os.environ.get("SELF_HEALING_TEST_HTTP_PORT") or free_port())
