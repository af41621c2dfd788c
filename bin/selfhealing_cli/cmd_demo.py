"""`self-healing demo`: a database where real faults break and the addon heals them while you watch.

The database is prepared exactly as `self-healing chaos` prepares its own (the
addon without demo data, the chaos addon for its fault injectors, the autopilot
on *Auto*, a local SMTP server, nobody approving). Once Odoo serves it, the
command injects the faults of DEMO_FAULTS one after the other through the chaos
wizard, provokes each the way production meets it (a JSON-RPC call, a page
request, a scheduled action run) and waits until the addon's healing loop is
done with it. Most heal alone; the record rule is in a critical scope and waits
for an approver; the server action written for one record and run on two is a
fault no patch should touch (its code is a person's to change), so it is an alert
with the guardrail's steps. The command prints what
became of each and what to click, then serves the database until Ctrl-C.

``--check`` is the same run for CI on a database of its own: each fault must
end as the chaos run requires (chaos_run.ScenarioResult.passed), the chatter
and the dashboard must show it, all of it within DEMO_WINDOW_S of Odoo
answering; the exit code says whether it did.
"""

import contextlib
import html
import re
import signal
import sys
import time

from . import pg
from .chaos_rpc import OdooSession, RpcError
from .chaos_run import ChaosDriver
from .chaos_server import OdooServer
from .cmd_chaos import _load_by_path, local_smtp_class, prepare_database, write_chaos_config
from .errors import UsageError
from .odoo_config import ensure_port_free, free_port
from .odoo_db import LOG_DIR, addon_state
from .odoo_locate import locate_odoo
from .paths import CHAOS_ADDON, PG_DATA
from .requirements import ensure_requirements

DEMO_DB = "self_healing_demo"
CHECK_DB = "self_healing_demo_check"  # --check drops its database: never the one a person is exploring
# In injection order: the healed ones first, so the dashboard fills while the last two settle. Each needs
# nothing but the database and the local SMTP server (no addons folder, no quiet window).
DEMO_FAULTS = (
    "pkey_sequence_drift",
    "asset_bundle",
    "saved_filter",
    "missing_column",
    "mail_stuck",
    "view_anchor_missing",
    "record_rule",
    "singleton_action",
)
DEMO_WINDOW_S = 60  # issue #10: healed live within the first minute
FIX_STEPS_MARK = "Suggested steps"  # incident_healing._alert, in the database's language (English here)
HEALED_SUBTYPE = ("self_healing", "mt_incident_healed")  # the chatter note of an automatic healing
WHAT_TO_CLICK = {
    "healed": "healed by the autopilot: open it, the chatter says what ran; Fix Attempts shows the plan, "
    "the backup and Roll back",
    "awaiting_approval": "waits for you: Fix Attempts > the proposed fix > Review > Approve or Reject",
    "escalated": "an alert: its chatter lists the guardrail's steps to carry out by hand",
}


def add_arguments(parser):
    parser.add_argument("--db", help=f"database name (default {DEMO_DB}; {CHECK_DB} with --check)")
    parser.add_argument("--port", type=int, help="HTTP port on 127.0.0.1 (default 8069; with --check a free one)")
    parser.add_argument("--reset", action="store_true", help="drop and recreate the demo database first")
    parser.add_argument("--pg", metavar="URI", help="use this PostgreSQL instead of the embedded one")
    parser.add_argument(
        "--check",
        action="store_true",
        help="for CI: build a fresh demo database, inject the faults, check what became of them, stop and drop "
        "it; exit code 1 when the demo does not show what it must",
    )
    parser.add_argument("--keep", action="store_true", help="with --check: keep the database afterwards")


def run(args):
    if args.keep and not args.check:
        raise UsageError("--keep only goes with --check (the demo database is always kept)")
    ensure_requirements()
    odoo = locate_odoo()
    if args.db is None:
        args.db = CHECK_DB if args.check else DEMO_DB
    if args.port is None:
        args.port = free_port() if args.check else 8069
    ensure_port_free(args.port)
    started = time.monotonic()
    cluster = pg.from_uri(args.pg) if args.pg else pg.start_embedded(PG_DATA)
    fresh = args.reset or args.check or not cluster.database_exists(args.db)
    if not fresh:
        check_existing(cluster, args.db)
    smtp = local_smtp_class()().start()
    server = None
    try:
        if fresh:
            config = prepare_database(odoo, cluster, args.db, smtp.port, say, http_port=args.port)["path"]
        else:
            config = write_chaos_config(odoo, cluster, args.db, args.port)[0]
            point_mail_server_at(cluster, args.db, smtp.port)
        server = OdooServer(odoo, config, args.db, args.port, LOG_DIR / f"demo-server-{args.db}.log")
        server.start()
        if fresh:
            served = time.monotonic()
            say(f"self-healing: Odoo answers on {server.base_url} ({served - started:.0f} s); injecting real faults")
            admin = OdooSession(server.base_url, args.db).login("admin", "admin")
            results = inject_faults(admin, smtp, cluster, args.db)
            settled = time.monotonic() - served
            say(f"self-healing: every fault injected and settled {settled:.0f} s after Odoo answered")
            if args.check:
                return check(admin, results, settled)
        say(
            f"self-healing: open {server.base_url}/odoo/self-healing (admin/admin): the dashboard counts the "
            f"faults, Self-Healing > Incidents lists them. Ctrl-C stops Odoo. Server log: {server.log_path}"
        )
        return wait_for_ctrl_c(server)
    finally:
        if server is not None:
            server.stop()
        smtp.stop()
        if args.check and not args.keep:
            with contextlib.suppress(Exception):
                cluster.drop_database(args.db)


def say(text):
    print(text, flush=True)


def check_existing(cluster, dbname):
    """An existing database is served again only when it is a demo database: the addon in it, set up for chaos."""
    state = addon_state(cluster, dbname)
    if state != "installed":
        raise UsageError(
            f"database {dbname} exists without self_healing installed (state: {state or 'absent'}): "
            f"pass --reset to recreate it, or --db NAME for another one"
        )
    if mail_server_id(cluster, dbname) is None:
        raise UsageError(
            f"database {dbname} has self_healing but was not created by this command (no chaos set-up): "
            f"pass --reset to recreate it, or --db NAME for another one"
        )


def mail_server_id(cluster, dbname):
    with contextlib.closing(cluster.connect(dbname)) as conn, conn.cursor() as cr:
        cr.execute("SELECT value FROM ir_config_parameter WHERE key = %s", [chaos_names().MAIL_SERVER_PARAM])
        row = cr.fetchone()
    return int(row[0]) if row and row[0].isdigit() else None


def point_mail_server_at(cluster, dbname, smtp_port):
    """The local SMTP server gets a new port each run: the demo's outgoing mail server follows it.

    Plain SQL before Odoo serves the database, so no process holds the old port in a cache."""
    server_id = mail_server_id(cluster, dbname)
    with contextlib.closing(cluster.connect(dbname)) as conn, conn.cursor() as cr:
        cr.execute("UPDATE ir_mail_server SET smtp_port = %s WHERE id = %s", [smtp_port, server_id])


def chaos_names():
    return _load_by_path("names", CHAOS_ADDON / "names.py")


def inject_faults(admin, smtp, cluster, dbname):
    """Each fault of DEMO_FAULTS injected, provoked and watched until the healing loop settled it."""
    catalog = {scenario["name"]: scenario for scenario in admin.call("self_healing.chaos", "catalog")}
    driver = ChaosDriver(admin, smtp, lambda: cluster.connect(dbname))
    results = []
    for name in DEMO_FAULTS:
        scenario = catalog[name]
        try:
            result = driver.run(scenario)
        except RpcError as exc:
            raise UsageError(f"the demo could not inject {name}: {exc}") from exc
        results.append(result)
        incident = result.rounds[0].incident_id
        say(f"  {scenario['title']}{f' (incident #{incident})' if incident else ''}: {result.outcome}")
        say(f"    -> {WHAT_TO_CLICK.get(result.outcome, result.detail)}")
    return results


def check(admin, results, settled):
    """What issue #10 asks the demo to show, checked in the database the way a person would see it."""
    problems = [result.line() for result in results if not result.passed]
    if settled > DEMO_WINDOW_S:
        problems.append(f"the faults settled {settled:.0f} s after Odoo answered, not within {DEMO_WINDOW_S} s")
    by_outcome = {}
    for result in results:
        by_outcome.setdefault(result.outcome, []).append(result.rounds[0].incident_id)
    for outcome in WHAT_TO_CLICK:
        if not by_outcome.get(outcome):
            problems.append(f"no demo fault ended {outcome}")
    healed_subtype = admin.search_read(
        "ir.model.data", [("module", "=", HEALED_SUBTYPE[0]), ("name", "=", HEALED_SUBTYPE[1])], ["res_id"]
    )[0]["res_id"]
    for incident in by_outcome.get("healed", []):
        if not chatter(admin, incident, [("subtype_id", "=", healed_subtype)]):
            problems.append(f"incident #{incident} healed without saying so in its chatter")
    for incident in by_outcome.get("awaiting_approval", []):
        pending = admin.search_read(
            "self_healing.fix.attempt",
            [("incident_id", "=", incident), ("state", "=", "proposed"), ("review_state", "=", "pending")],
            ["id"],
        )
        if not pending:
            problems.append(f"incident #{incident} awaits approval without a proposed fix to review")
    for incident in by_outcome.get("escalated", []):
        if not any(FIX_STEPS_MARK in text for text in chatter(admin, incident)):
            problems.append(f"incident #{incident} is an alert without the guardrail's fix steps in its chatter")
    problems += dashboard_problems(admin, by_outcome)
    counts = ", ".join(f"{len(ids)} {outcome}" for outcome, ids in sorted(by_outcome.items()))
    say(f"self-healing: demo check: {counts}, settled {settled:.0f} s after Odoo answered")
    if problems:
        print("self-healing: demo check FAILED:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    say("self-healing: demo check passed")
    return 0


def chatter(admin, incident, domain=()):
    rows = admin.search_read(
        "mail.message", [("model", "=", "self_healing.incident"), ("res_id", "=", incident), *domain], ["body"]
    )
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", row["body"] or "")).split()) for row in rows]


def dashboard_problems(admin, by_outcome):
    """The dashboard of the last 7 days: the healed faults in what Auto-Fixed opens, the others in the alerts."""
    data = admin.call("self_healing.dashboard", "get_dashboard_data", 7)
    target = data["targets"]["auto_fixed"]
    auto_fixed = set(admin.call(target["model"], "search", target["domain"]))
    problems = [
        f"incident #{incident} healed but not in the dashboard's Auto-Fixed list"
        for incident in by_outcome.get("healed", [])
        if incident not in auto_fixed
    ]
    if data["current"]["auto_fixed"] != len(auto_fixed):
        problems.append(f"Auto-Fixed shows {data['current']['auto_fixed']}, its list holds {len(auto_fixed)}")
    alerts = {row["id"] for row in data["alerts"]["incidents"]}
    problems += [
        f"incident #{incident} ({outcome}) missing from the dashboard's alerts"
        for outcome in ("awaiting_approval", "escalated")
        for incident in by_outcome.get(outcome, [])
        if incident not in alerts
    ]
    return problems


def wait_for_ctrl_c(server):
    def interrupted(_signum, _frame):
        raise KeyboardInterrupt

    # A service manager or a CI timeout stops it with SIGTERM: Odoo must stop with it, not outlive it.
    signal.signal(signal.SIGTERM, interrupted)
    try:
        return server.process.wait()
    except KeyboardInterrupt:
        say("\nself-healing: stopping Odoo")
        return 0
