"""`self-healing chaos`: inject real faults into a live Odoo and measure how the addon heals them.

A fresh database (self_healing_chaos) gets the addon without demo data, is
marked for chaos and has the autopilot turned on: nothing is imported and
nobody approves, as on a real administrator's first day. A real Odoo server
(threaded, two cron workers, the addon loaded server-wide) serves it; the
command drives it over JSON-RPC like a browser would, runs a local SMTP server
for the mail scenarios, and prints one line per scenario (outcome, fix
attempts, timings) and a summary (median and max). It exits 1 when a
non-critical scenario is not healed on its first attempt, or a critical one
was fixed without an approval.
"""

import contextlib
import importlib.util
import json
import shutil
import subprocess
import sys

from . import pg
from .chaos_rpc import OdooSession
from .chaos_run import ChaosDriver, summary
from .chaos_server import OdooServer
from .errors import UsageError
from .odoo_config import free_port, write_config
from .odoo_db import LOG_DIR, install_addon
from .odoo_locate import locate_odoo
from .paths import ADDON_ROOT, CHAOS_ADDON, PG_DATA, RUN_DIR, addon_link, dev_addons_link

CHAOS_DB = "self_healing_chaos"
RESULT_MARK = "SELF_HEALING_CHAOS_SETUP "
CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from selfhealing_cli import cmd_chaos; sys.exit(cmd_chaos.child_main(sys.argv[2:]))"
)


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="one JSON object per scenario, then a summary object")
    parser.add_argument("--keep", action="store_true", help=f"keep the {CHAOS_DB} database afterwards")
    parser.add_argument("--pg", metavar="URI", help="use this PostgreSQL instead of the embedded one")
    parser.add_argument("--only", metavar="NAME", action="append", help="run only this scenario (repeat for several)")
    parser.add_argument("--db", default=CHAOS_DB, help=f"database name (default {CHAOS_DB}; recreated)")


def _load_by_path(name, path):
    """A plain-Python file of the addons, loaded by path: this process does not import Odoo or the addon."""
    spec = importlib.util.spec_from_file_location(f"self_healing_cli_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def local_smtp_class():
    return _load_by_path("smtp", CHAOS_ADDON / "smtp.py").LocalSMTPServer


def check_arguments(args):
    """Refuse bad input before a database is created for nothing."""
    known = _load_by_path("names", CHAOS_ADDON / "names.py").SCENARIO_NAMES
    unknown = [name for name in args.only or () if name not in known]
    if unknown:
        raise UsageError(f"unknown scenario(s) {', '.join(unknown)} for --only; known: {', '.join(known)}")


def run(args):
    check_arguments(args)
    odoo = locate_odoo()
    cluster = pg.from_uri(args.pg) if args.pg else pg.start_embedded(PG_DATA)
    say = (
        (lambda text: print(text, file=sys.stderr, flush=True)) if args.json else (lambda text: print(text, flush=True))
    )
    smtp = local_smtp_class()().start()
    server = None
    try:
        config = prepare_database(odoo, cluster, args.db, smtp.port, say)
        server = OdooServer(odoo, config["path"], args.db, config["port"], LOG_DIR / f"chaos-server-{args.db}.log")
        say(f"self-healing: starting Odoo on {server.base_url} (threaded, 2 cron workers; log {server.log_path})")
        server.start()
        admin = OdooSession(server.base_url, args.db).login("admin", "admin")
        catalog = admin.call("self_healing.chaos", "catalog")
        chosen = select(catalog, args.only)
        driver = ChaosDriver(admin, smtp, lambda: cluster.connect(args.db), progress=lambda text: say(f"  {text}"))
        results = []
        for scenario in chosen:
            say(f"self-healing: scenario {scenario['name']}: {scenario['title']}")
            result = driver.run(scenario)
            results.append(result)
            print(json.dumps(result.as_json()) if args.json else result.line(), flush=True)
        figures = summary(results)
        print(json.dumps(figures) if args.json else describe(figures), flush=True)
        return 0 if all(result.passed for result in results) else 1
    finally:
        if server is not None:
            server.stop()
        smtp.stop()
        if not args.keep:
            with contextlib.suppress(Exception):
                cluster.drop_database(args.db)


def select(catalog, only):
    """The scenarios of ``--only`` (checked against the chaos addon's names.py already), in the order asked."""
    if not only:
        return catalog
    known = {scenario["name"]: scenario for scenario in catalog}
    return [known[name] for name in only]


NEIGHBOUR_MANIFEST = repr(
    {
        "name": "Self-Healing Chaos: a well-formed neighbour",
        "version": "1.0.0",
        "author": "self_healing developers",
        "license": "LGPL-3",
        "depends": ["base"],
        "installable": False,
    }
)


def write_chaos_config(odoo, cluster, dbname, http_port=None):
    """The chaos server's config and its empty customer addons folder; returns (config path, port, folder)."""
    # Per database, so that two runs on one machine (two --db) keep out of each other's way.
    chaos_addons = RUN_DIR / f"chaos_addons_{dbname}"
    if chaos_addons.exists():
        shutil.rmtree(chaos_addons)
    chaos_addons.mkdir(parents=True)
    # A customer's addons folder holds addons already: Odoo 19.0 drops a configured folder that
    # has none ("invalid addons directory"), and the broken manifests go there later.
    neighbour = chaos_addons / "self_healing_chaos_neighbour"
    neighbour.mkdir()
    (neighbour / "__init__.py").write_text("", encoding="utf-8")
    (neighbour / "__manifest__.py").write_text(NEIGHBOUR_MANIFEST, encoding="utf-8")
    port = http_port or free_port()
    addons_path = ",".join(
        str(path) for path in [*odoo.addons_paths, addon_link().parent, dev_addons_link().parent, chaos_addons]
    )
    config = write_config(
        f"chaos-{dbname}",
        odoo,
        cluster,
        dbname,
        http_port=port,
        extra={
            "addons_path": addons_path,
            "max_cron_threads": "2",
            "workers": "0",
        },
    )
    return config, port, chaos_addons


def prepare_database(odoo, cluster, dbname, smtp_port, say, http_port=None):
    """Create ``dbname`` with the addon, mark it for chaos and set it up; returns the config facts."""
    config, port, chaos_addons = write_chaos_config(odoo, cluster, dbname, http_port)
    cluster.drop_database(dbname)
    say(f"self-healing: creating {dbname} with the addon (about a minute)")
    install_addon(
        odoo, config, dbname, demo=False, log_name=f"chaos-install-{dbname}", modules=("self_healing", CHAOS_ADDON.name)
    )
    command = [
        sys.executable,
        "-c",
        CHILD,
        str(ADDON_ROOT / "bin"),
        str(config),
        dbname,
        str(smtp_port),
        str(chaos_addons),
    ]
    child = subprocess.run(command, env=odoo.environment(), capture_output=True, text=True, check=False)
    result = next(
        (json.loads(line[len(RESULT_MARK) :]) for line in child.stdout.splitlines() if line.startswith(RESULT_MARK)),
        None,
    )
    if result is None:
        tail = "\n".join((child.stderr or child.stdout).strip().splitlines()[-15:])
        raise UsageError(f"setting up {dbname} for chaos failed (exit code {child.returncode}):\n{tail}")
    changed = ", ".join(f"{key} = {value}" for key, value in result["settings"].items())
    say(f"self-healing: {dbname} marked for chaos; fresh install, nothing imported, no approver; set: {changed}")
    return {"path": config, "port": port}


def child_main(argv):
    """In the child: open the new database with Odoo, mark it for chaos and prepare it, commit."""
    config_path, dbname, smtp_port, addons_path = argv
    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(["-c", config_path, "-d", dbname, "--log-level=warn", "--no-http"])
    registry = Registry(dbname)
    from odoo.addons.self_healing_chaos import scenarios

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        # Only this command (for itself or the demo) marks a database for chaos, and only one it just created.
        env["ir.config_parameter"].set_param(scenarios.CHAOS_ALLOWED_PARAM, "True")
        prepared = env["self_healing.chaos"]._prepare_chaos_database(int(smtp_port), addons_path)
        cr.commit()
    sys.stdout.write(RESULT_MARK + json.dumps(prepared) + "\n")
    return 0


def describe(figures):
    outcomes = ", ".join(f"{count} {outcome}" for outcome, count in sorted(figures["outcomes"].items()))

    def pair(key):
        median, maximum = figures[f"{key}_median"], figures[f"{key}_max"]
        return "n/a" if median is None else f"median {median:.1f} s, max {maximum:.1f} s"

    failing = figures["not_passed"]
    return "\n".join(
        [
            f"summary: {figures['scenarios']} scenarios: {outcomes}"
            + (f"; NOT AS REQUIRED: {', '.join(failing)}" if failing else "; every scenario as required"),
            f"  fix attempts per healed scenario: {figures['attempts_max'] or 'n/a'} at most (target: 1)",
            f"  provoked -> detected:           {pair('detected_after_s')}",
            f"  provoked -> healed (automatic): {pair('healed_after_s')}",
            f"  detected -> healed (automatic): {pair('detect_to_healed_s')}  (targets: median <= 10 s, max <= 60 s)",
        ]
    )
