"""`self-healing demo`: a database where real faults break and the addon heals them while you watch.

The database gets the addon and the chaos addon (for its fault injectors only:
no simulated approver, no chaos settings). Once Odoo serves it, the command
injects a few real faults through the chaos wizard, provokes each the way it
shows up in production (a JSON-RPC call, a scheduled action run) and waits
until the addon's own healing loop, with the settings of a fresh install, is
done with it. It prints what became of each and what to click, then serves
the database on http://127.0.0.1:8069 until Ctrl-C.

``--check`` is the same run for CI: a fresh database, the faults, then the
outcomes compared with EXPECTED; the exit code says whether they matched.
"""

import contextlib
import signal
import sys
import time

from . import pg
from .chaos_rpc import OdooSession, RpcError
from .chaos_run import ChaosDriver
from .chaos_server import OdooServer
from .errors import UsageError
from .odoo_config import ensure_port_free, free_port, write_config
from .odoo_db import LOG_DIR, addon_state, install_addon
from .odoo_locate import locate_odoo
from .paths import CHAOS_ADDON, PG_DATA
from .requirements import ensure_requirements

DEMO_DB = "self_healing_demo"
CHECK_DB = "self_healing_demo_check"  # --check drops its database: never the one a person is exploring
CHAOS_ALLOWED_PARAM = "self_healing.chaos_allowed"  # the chaos addon's scenarios.py: its wizard refuses without it
# The faults of the demo, in the order they are injected, and what the addon does with each on first sight
# with the settings of a fresh install. On main today every one is an alert with its fix steps: no fix has
# a track record yet, so even with the 614 shipped solved cases the confidence (0.32 to 0.47 measured)
# stays below the 0.60 of a proposal. When the addon heals or proposes on first sight, change the lines
# here: --check compares the run with them.
EXPECTED = {
    "pkey_sequence_drift": "escalated",
    "saved_filter": "escalated",
    "asset_bundle": "escalated",
    "record_rule": "escalated",  # critical scope: never fixed without an approver
    "missing_column": "escalated",
}
FIX_STEPS_MARK = "Suggested steps"
NO_FIX_STEPS = "alerted without fix steps in the chatter"
WHAT_TO_CLICK = {
    "healed": "healed by the autopilot: open it and read the chatter (backup, validation, rollback button)",
    "awaiting_approval": "Fix Attempts > the proposed fix > Review > Approve (or Reject) in the wizard",
    "escalated": "an alert: the chatter lists the fix steps to carry out by hand",
}


def add_arguments(parser):
    parser.add_argument("--db", help=f"database name (default {DEMO_DB}; {CHECK_DB} with --check)")
    parser.add_argument("--port", type=int, help="HTTP port on 127.0.0.1 (default 8069; with --check a free one)")
    parser.add_argument("--reset", action="store_true", help="drop and recreate the demo database first")
    parser.add_argument("--pg", metavar="URI", help="use this PostgreSQL instead of the embedded one")
    parser.add_argument(
        "--check",
        action="store_true",
        help="for CI: build a fresh demo database, inject the faults, compare the outcomes with the expected "
        "ones, stop and drop it; exit code 1 on a mismatch",
    )
    parser.add_argument("--keep", action="store_true", help="with --check: keep the database afterwards")


def run(args):
    ensure_requirements()
    odoo = locate_odoo()
    if args.db is None:
        args.db = CHECK_DB if args.check else DEMO_DB
    if args.port is None:
        args.port = free_port() if args.check else 8069
    ensure_port_free(args.port)
    started = time.monotonic()
    cluster = pg.from_uri(args.pg) if args.pg else pg.start_embedded(PG_DATA)
    config = write_config(
        f"demo-{args.db}", odoo, cluster, args.db, http_port=args.port, extra={"max_cron_threads": "2"}, dev_addons=True
    )
    if args.reset or args.check:
        cluster.drop_database(args.db)
    fresh = not cluster.database_exists(args.db)
    if fresh:
        print(f"self-healing: creating {args.db} with the addon (about a minute)", flush=True)
        install_addon(
            odoo, config, args.db, demo=False, log_name="demo-install", modules=("self_healing", CHAOS_ADDON.name)
        )
        allow_fault_injection(cluster, args.db)
    else:
        state = addon_state(cluster, args.db)
        if state != "installed":
            raise UsageError(
                f"database {args.db} exists without self_healing installed (state: {state or 'absent'}): "
                f"pass --reset to recreate it, or --db NAME for another one"
            )
    server = OdooServer(odoo, config, args.db, args.port, LOG_DIR / f"demo-server-{args.db}.log")
    server.start()
    try:
        outcomes = {}
        if fresh:
            print(f"self-healing: Odoo answers on {server.base_url}; injecting real faults", flush=True)
            served = time.monotonic()
            outcomes = inject_faults(server, args.db, cluster)
            now = time.monotonic()
            print(
                f"self-healing: faults injected and settled {now - served:.0f} s after Odoo answered "
                f"({now - started:.0f} s after the command started)",
                flush=True,
            )
        if args.check:
            return check(outcomes)
        print(
            f"self-healing: open {server.base_url}/odoo/self-healing (admin/admin): the dashboard counts the "
            f"faults; Self-Healing > Incidents lists them. Ctrl-C stops Odoo. Server log: {server.log_path}",
            flush=True,
        )
        return wait_for_ctrl_c(server)
    finally:
        server.stop()
        if args.check and not args.keep:
            with contextlib.suppress(Exception):
                cluster.drop_database(args.db)


def allow_fault_injection(cluster, dbname):
    """Mark the database the command just created, so that the chaos wizard agrees to break it.

    Plain SQL, before Odoo serves the database: no process has the parameter cached yet."""
    with contextlib.closing(cluster.connect(dbname)) as conn, conn.cursor() as cr:
        cr.execute(
            "INSERT INTO ir_config_parameter (key, value, create_date, write_date) VALUES (%s, 'True', now(), now()) "
            "ON CONFLICT (key) DO UPDATE SET value = 'True'",
            [CHAOS_ALLOWED_PARAM],
        )
        conn.commit()


def inject_faults(server, dbname, cluster):
    """Each fault of EXPECTED injected, provoked and watched until the healing loop settled it."""
    admin = OdooSession(server.base_url, dbname).login("admin", "admin")
    catalog = {scenario["name"]: scenario for scenario in admin.call("self_healing.chaos", "catalog")}
    # No approver: a fault the addon does not fix alone waits for the person watching the demo.
    driver = ChaosDriver(admin, None, None, lambda: cluster.connect(dbname))
    outcomes = {}
    for name in EXPECTED:
        scenario = catalog[name]
        wizard = admin.call("self_healing.chaos", "create", [{"scenario": name}])[0]
        admin.call("self_healing.chaos", "action_prepare", [wizard])
        try:
            result = driver.run_round(scenario, 1)
        except RpcError as exc:
            outcomes[name] = ("error", None, str(exc)[:200])
        else:
            detail = result.detail
            if result.status == "escalated" and not has_fix_steps(admin, result.incident_id):
                detail = NO_FIX_STEPS
            outcomes[name] = (result.status, result.incident_id, detail)
        status, incident_id, detail = outcomes[name]
        where = f" (incident #{incident_id})" if incident_id else ""
        print(f"  {scenario['title']}{where}: {status}", flush=True)
        if status in WHAT_TO_CLICK:
            print(f"    -> {WHAT_TO_CLICK[status]}", flush=True)
        elif detail:
            print(f"    {detail}", flush=True)
    return outcomes


def has_fix_steps(admin, incident_id):
    """An alert is useful only with the guardrail's steps in the chatter (incident_healing._alert posts them)."""
    bodies = admin.search_read(
        "mail.message", [("model", "=", "self_healing.incident"), ("res_id", "=", incident_id)], ["body"]
    )
    return any(FIX_STEPS_MARK in (row["body"] or "") for row in bodies)


def check(outcomes):
    mismatches = [
        f"{name}: expected {expected}, got {outcomes.get(name, ('missing',))[0]}"
        for name, expected in EXPECTED.items()
        if outcomes.get(name, ("missing",))[0] != expected
    ]
    mismatches += [f"{name}: {detail}" for name, (_status, _id, detail) in outcomes.items() if detail == NO_FIX_STEPS]
    counts = {}
    for status, _incident, _detail in outcomes.values():
        counts[status] = counts.get(status, 0) + 1
    print("self-healing: demo check: " + ", ".join(f"{count} {status}" for status, count in sorted(counts.items())))
    if mismatches:
        print("self-healing: demo check FAILED:", *mismatches, sep="\n  ", file=sys.stderr)
        return 1
    print("self-healing: demo check passed")
    return 0


def wait_for_ctrl_c(server):
    def interrupted(_signum, _frame):
        raise KeyboardInterrupt

    # A service manager or a CI timeout stops it with SIGTERM: Odoo must stop with it, not outlive it.
    signal.signal(signal.SIGTERM, interrupted)
    try:
        return server.process.wait()
    except KeyboardInterrupt:
        print("\nself-healing: stopping Odoo", flush=True)
        return 0
