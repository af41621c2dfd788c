"""`self-healing stress`: a real multi-worker Odoo under a burst of failing requests, with and without the addon.

Two databases are created: one with the addon installed and loaded server-wide
(the capture on), one without it. Each is served in turn by a real Odoo in
prefork mode (two HTTP workers) on 127.0.0.1. While a bounded burst of
requests that fail with a server error runs from several threads, one thread
times healthy requests. The command prints the healthy-request latency with
the addon against without it (the goal: within 2 %), and, with the addon,
that every error raised was captured or counted as lost. Request counts
and run time are bounded; nothing leaves the machine.

Healthy requests are timed only while the failing burst runs, in both runs,
so the two figures compare like with like; both kinds are paced, each request
at its own moment of the round, the same schedule on both sides. Both servers
run side by side and the bursts alternate in rounds (A/B, then B/A): on a
machine shared with other jobs the load drifts, and a ratio is only meaningful
between runs close in time. The figure is the median of the per-round ratios;
the goal is shown when a distribution-free 95 % interval for that median stays
under it. Captured counts every occurrence
an incident has seen (``occurrence_count``: retention keeps only the newest
occurrence rows) plus the signals still staged. With ``--cut-connections``,
a fault thread also cuts the capture's database connections again and again
(``pg_terminate_backend``, as a PostgreSQL restart or a network cut would):
the requests must not notice, and each signal the sink could not write must
be counted as lost. The thread runs in the run without the addon too, where
it finds nothing to cut: its own cost weighs on both sides alike.
"""

import contextlib
import json
import math
import shutil
import statistics
import sys
import threading
import time

from . import pg
from .chaos_rpc import OdooSession, RpcError
from .chaos_server import OdooServer
from .errors import UsageError
from .odoo_config import free_port, write_config
from .odoo_db import LOG_DIR, install_addon
from .odoo_locate import locate_odoo
from .paths import PG_DATA, RUN_DIR

WITH_DB = "self_healing_stress"
WITHOUT_DB = "self_healing_stress_base"
# The field is unknown on purpose: Odoo logs the ValueError at ERROR with its traceback,
# as it does for any server error in a JSON-RPC call.
FAILING_FIELD = "x_self_healing_stress_missing"
MAX_SECONDS = 600
# How the capture's own connections end their application_name (detection/connection.py).
CAPTURE_APPLICATION = "%-self_healing-capture"
CUT_INTERVAL = 0.05
WARM_UP_REQUESTS = 10
RUNS = (("without", WITHOUT_DB, False), ("with", WITH_DB, True))
# Requests in all, spread over rounds; each round times both sides back to back, and within a
# round every request has its time (``round_seconds`` long): a paced burst, the same on both
# sides, rather than one that goes as fast as each server answers. A server run flat out
# queues the healthy request behind however many failing ones happen to be ahead of it, and
# that queue, not the addon, would make the figure.
QUICK = {"errors": 320, "healthy": 960, "threads": 4, "rounds": 16, "round_seconds": 2.0}
FULL = {"errors": 4000, "healthy": 4800, "threads": 8, "rounds": 40, "round_seconds": 4.0}
GOAL = 1.02  # healthy-request latency with the addon within 2 % of without it
CONFIDENCE = 0.95
SETTINGS = ("threads", "rounds", "round_seconds")  # the rest of QUICK and FULL are request counts


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help="the short form CI runs (fewer requests)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--pg", metavar="URI", help="use this PostgreSQL instead of the embedded one")
    parser.add_argument("--keep", action="store_true", help="keep the two databases afterwards")
    parser.add_argument(
        "--cut-connections",
        action="store_true",
        help="during the bursts, keep terminating the capture's database connections (the same cutting "
        "thread runs without the addon, where it finds none, so both sides carry its cost)",
    )


def run(args):
    odoo = locate_odoo()
    cluster = pg.from_uri(args.pg) if args.pg else pg.start_embedded(PG_DATA)
    sizes = QUICK if args.quick else FULL
    say = (
        (lambda text: print(text, file=sys.stderr, flush=True)) if args.json else (lambda text: print(text, flush=True))
    )
    started = time.monotonic()
    figures = {
        "odoo": odoo.version,
        **{key if key in SETTINGS else f"{key}_requests": value for key, value in sizes.items()},
    }
    servers = {}
    try:
        prepared = {}
        for label, dbname, with_addon in RUNS:
            say(f"self-healing: stress {label} the addon: creating {dbname}")
            prepared[label] = _prepare(odoo, cluster, dbname, with_addon)
        # Started once both are installed: the copy of the first database needs it without sessions.
        for label, server in prepared.items():
            servers[label] = server.start()
        per_round = {
            "errors": sizes["errors"] // sizes["rounds"],
            "healthy": sizes["healthy"] // sizes["rounds"],
            "threads": sizes["threads"],
            "seconds": sizes["round_seconds"],
        }
        sessions = {}
        for label, dbname, _with in RUNS:
            _warm_up(servers[label], dbname)
            # Logged in once: a login hashes the password, far more work than the requests timed.
            sessions[label] = [
                OdooSession(servers[label].base_url, dbname, timeout=60).login("admin", "admin")
                for _ in range(sizes["threads"] + 1)
            ]
        runs = {label: [] for label, _db, _with in RUNS}
        bursts_started = time.monotonic()
        for number in range(sizes["rounds"]):
            # A/B then B/A: a drift of the shared machine's load weighs on both sides alike.
            order = RUNS if number % 2 == 0 else RUNS[::-1]
            say(f"self-healing: stress round {number + 1}/{sizes['rounds']}")
            for label, _dbname, _with_addon in order:
                runs[label].append(
                    _burst(
                        sessions[label],
                        per_round,
                        deadline=bursts_started + MAX_SECONDS,
                        cut=cluster if args.cut_connections else None,
                    )
                )
        for label, results in runs.items():
            figures.update({f"{label}_{key}": value for key, value in _pooled(results).items()})
        figures.update(_ratios(runs))
        baseline95 = figures["without_healthy_p95_ms"]
        figures["healthy_p95_ratio"] = round(figures["with_healthy_p95_ms"] / baseline95, 3) if baseline95 else None
        # The capture's counters are read while the server still runs: its flusher writes what it owes.
        figures.update(_accounting(cluster, WITH_DB, figures["with_errors_raised"]))
        figures["seconds"] = round(time.monotonic() - started, 1)
    finally:
        for server in servers.values():
            server.stop()
        if not args.keep:
            for dbname in (WITH_DB, WITHOUT_DB):
                with contextlib.suppress(Exception):
                    cluster.drop_database(dbname)
    print(json.dumps(figures, sort_keys=True) if args.json else describe(figures), flush=True)
    return 0 if figures["accounted"] and not figures["with_healthy_failed"] else 1


def _warm_up(server, dbname, requests=WARM_UP_REQUESTS):
    """Untimed requests first: each worker's first ones load caches and would weigh on round one only."""
    session = OdooSession(server.base_url, dbname, timeout=60).login("admin", "admin")
    for _ in range(requests):
        with contextlib.suppress(RpcError):
            # Healthy only: a failing one would be captured and unbalance the accounts.
            session.call("res.partner", "search_read", [], ["name"], limit=5)


def _pooled(results):
    """One side's figures over its rounds: sums of the counts, percentiles of every healthy request."""
    healthy = sorted(value for result in results for value in result.pop("healthy_ms"))
    pooled = {key: sum(result[key] for result in results) for key in results[0]}
    pooled["burst_seconds"] = round(pooled["burst_seconds"], 2)
    pooled["healthy_p50_ms"] = round(statistics.median(healthy), 2)
    pooled["healthy_p95_ms"] = round(healthy[int(0.95 * (len(healthy) - 1))], 2)
    pooled["round_p50_ms"] = [result["p50_ms"] for result in results]
    del pooled["p50_ms"]
    return pooled


def _ratios(runs):
    """The p50 ratio with/without per round (each round runs both sides back to back), and their spread."""
    paired = [
        round(with_run["p50_ms"] / without_run["p50_ms"], 3)
        for without_run, with_run in zip(runs["without"], runs["with"], strict=True)
        if without_run["p50_ms"]
    ]
    figures = {"paired_p50_ratios": paired}
    if paired:
        figures["healthy_p50_ratio"] = round(statistics.median(paired), 3)
        figures["paired_ratio_min"] = min(paired)
        figures["paired_ratio_max"] = max(paired)
        # Half the interquartile range of the paired ratios: the noise the median is judged against.
        quartiles = statistics.quantiles(paired, n=4) if len(paired) > 1 else [paired[0]] * 3
        figures["paired_ratio_half_iqr"] = round((quartiles[2] - quartiles[0]) / 2, 3)
        low, high, coverage = median_interval(paired, CONFIDENCE)
        figures.update(ratio_interval_low=low, ratio_interval_high=high, ratio_interval_coverage=coverage)
        figures["goal_shown"] = high <= GOAL if coverage >= CONFIDENCE else None
    return figures


def median_interval(values, confidence=CONFIDENCE):
    """``(low, high, coverage)``: a distribution-free interval for the median of ``values``.

    The k-th smallest and k-th largest values hold the true median between them with
    probability P(k <= B <= n - k), B binomial(n, 1/2), whatever the distribution; k is the
    largest for which that reaches ``confidence``. Too few values for it: the extremes, with
    the coverage they have.
    """
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        raise ValueError("no values")

    def coverage(k):
        return sum(math.comb(n, i) for i in range(k, n - k + 1)) / 2**n

    k = 1
    while k + 1 <= n // 2 and coverage(k + 1) >= confidence:
        k += 1
    return ordered[k - 1], ordered[n - k], round(coverage(k), 4)


def _prepare(odoo, cluster, dbname, with_addon):
    """Create and install ``dbname``; return its server, not started."""
    cluster.drop_database(dbname)
    port = free_port()
    extra = {"workers": "2", "max_cron_threads": "1", "gevent_port": str(free_port())}
    if not with_addon:
        extra["server_wide_modules"] = "base,web"
    config = write_config(f"stress-{dbname}", odoo, cluster, dbname, http_port=port, extra=extra)
    if with_addon:
        # The database without the addon, copied, then the addon on top: the two differ by the addon
        # alone, and the second install does not redo base and mail (half the command's time in CI).
        _clone(cluster, WITHOUT_DB, dbname)
    install_addon(
        odoo,
        config,
        dbname,
        demo=False,
        log_name=f"stress-install-{dbname}",
        modules=("self_healing",) if with_addon else ("mail",),
    )
    return OdooServer(odoo, config, dbname, port, LOG_DIR / f"stress-server-{dbname}.log", script=_launcher())


def _clone(cluster, source, target):
    """Copy database ``source`` (no session on it may be open) and its filestore to ``target``."""
    with contextlib.closing(cluster.connect()) as conn, conn.cursor() as cr:
        cr.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [source],
        )
        cr.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    filestore = RUN_DIR / "data" / "filestore"
    shutil.rmtree(filestore / target, ignore_errors=True)
    if (filestore / source).is_dir():
        shutil.copytree(filestore / source, filestore / target)


def _launcher():
    """A script path for Odoo's prefork master, which re-executes ``sys.argv[0]`` for its gevent worker."""
    path = RUN_DIR / "odoo-launcher"
    path.write_text("#!/usr/bin/env python3\nimport odoo.cli\n\nodoo.cli.main()\n")
    path.chmod(0o755)
    return path


def _burst(sessions, sizes, deadline, cut=None):
    """One side's round: ``sessions`` (one per failing thread, then the timer's) send the paced requests."""
    errors_raised = []
    healthy = []
    healthy_failed = []
    cuts = []
    stop = threading.Event()
    per_thread = sizes["errors"] // sizes["threads"]
    start = time.monotonic() + 0.05

    def fail_requests(number):
        session = sessions[number]
        raised = 0
        # The threads take turns: request i of thread k at slot i * threads + k of the round.
        for slot in schedule(sizes["seconds"], sizes["threads"] * per_thread)[number :: sizes["threads"]]:
            if not wait_until(start + slot):
                break
            try:
                session.call("res.partner", "read", [1], [FAILING_FIELD])
            except RpcError:
                raised += 1
        errors_raised.append(raised)

    def wait_until(moment):
        """False when the burst must stop instead."""
        delay = moment - time.monotonic()
        if delay > 0 and stop.wait(delay):
            return False
        return not stop.is_set() and time.monotonic() <= deadline

    def healthy_requests():
        session = sessions[-1]
        for slot in schedule(sizes["seconds"], sizes["healthy"], offset=0.5):
            if not wait_until(start + slot):
                break
            begin = time.perf_counter()
            try:
                session.call("res.partner", "search_read", [], ["name"], limit=5)
            except RpcError as exc:
                healthy_failed.append(str(exc)[:200])
                continue
            healthy.append((time.perf_counter() - begin) * 1000)

    def cut_capture_connections():
        while not stop.wait(CUT_INTERVAL):
            with contextlib.suppress(Exception), contextlib.closing(cut.connect("postgres")) as conn:
                conn.autocommit = True
                with conn.cursor() as cr:
                    cr.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE %s",
                        [CAPTURE_APPLICATION],
                    )
                    cuts.append(cr.fetchone()[0])

    threads = [threading.Thread(target=fail_requests, args=(number,)) for number in range(sizes["threads"])]
    timer = threading.Thread(target=healthy_requests)
    cutter = threading.Thread(target=cut_capture_connections) if cut is not None else None
    begin = time.perf_counter()
    for thread in (*threads, timer, *([cutter] if cutter else [])):
        thread.start()
    # The healthy requests are timed under the burst only: the burst stops when they are done.
    timer.join()
    stop.set()
    for thread in threads:
        thread.join()
    if cutter is not None:
        cutter.join()
    elapsed = time.perf_counter() - begin
    if not healthy:
        raise UsageError("no healthy request completed under the burst")
    return {
        "errors_raised": sum(errors_raised),
        "healthy_done": len(healthy),
        "healthy_failed": len(healthy_failed),
        "capture_connections_cut": sum(cuts),
        "p50_ms": round(statistics.median(healthy), 2),
        "healthy_ms": healthy,
        "burst_seconds": elapsed,
    }


def schedule(seconds, count, offset=0.0):
    """``count`` moments spread evenly over ``seconds`` (from the round's start), ``offset`` of a step in."""
    step = seconds / count if count else 0.0
    return [(index + offset) * step for index in range(count)]


def _accounting(cluster, dbname, raised, timeout=90):
    """Errors raised = signals captured (counted by their incidents, or still staged) + what the capture counted lost.

    The capture's counters reach the database with its deliveries (at once
    after a loss, else every 30 s per process) or, when a loss had no later
    delivery, from the flusher's next idle pass; so this waits for them, up to
    ``timeout``, with the server still running.
    """
    pattern = f"%{FAILING_FIELD}%"
    deadline = time.monotonic() + timeout
    captured = dropped = lost = 0
    while True:
        with contextlib.closing(cluster.connect(dbname)) as conn, conn.cursor() as cr:
            cr.execute(
                "SELECT COALESCE(SUM(occurrence_count), 0) FROM self_healing_incident incident"
                " WHERE EXISTS (SELECT 1 FROM self_healing_occurrence o WHERE o.incident_id = incident.id"
                "               AND (o.message LIKE %s OR o.traceback LIKE %s))",
                [pattern, pattern],
            )
            grouped = cr.fetchone()[0]
            cr.execute(
                "SELECT count(*) FROM self_healing_signal WHERE message LIKE %s OR traceback LIKE %s",
                [pattern, pattern],
            )
            captured = grouped + cr.fetchone()[0]
            cr.execute(
                "SELECT COALESCE(SUM(dropped), 0), COALESCE(SUM(sink_lost + emit_errors), 0)"
                " FROM self_healing_capture_stat"
            )
            dropped, lost = cr.fetchone()
        if captured + dropped + lost >= raised or time.monotonic() > deadline:
            break
        time.sleep(2)
    return {
        "captured": captured,
        "dropped": dropped,
        "lost": lost,
        "accounted": captured + dropped + lost == raised,
    }


def describe(figures):
    ratio = figures.get("healthy_p50_ratio")
    return "\n".join(
        [
            f"stress (Odoo {figures['odoo']}, 2 HTTP workers, {figures['threads']} failing threads, "
            f"{figures['errors_requests']} failing and {figures['healthy_requests']} healthy requests paced over "
            f"{figures['rounds']} rounds of {figures['round_seconds']} s a side, A/B B/A, "
            f"{figures['seconds']} s in all):",
            f"  healthy request p50, median of the paired per-round ratios with/without the addon: {ratio} "
            f"(goal <= {GOAL}); spread: min {figures.get('paired_ratio_min')}, max {figures.get('paired_ratio_max')}, "
            f"half IQR {figures.get('paired_ratio_half_iqr')}; per round {figures.get('paired_p50_ratios')}",
            f"  the median lies in [{figures.get('ratio_interval_low')}, {figures.get('ratio_interval_high')}] "
            f"with {figures.get('ratio_interval_coverage')} confidence: the goal is "
            + {True: "shown", False: "not shown", None: "not judged (too few rounds)"}[figures.get("goal_shown")],
            f"  healthy request p50 over all rounds: {figures['without_healthy_p50_ms']} ms without the addon, "
            f"{figures['with_healthy_p50_ms']} ms with it",
            f"  healthy request p95: {figures['without_healthy_p95_ms']} ms without, "
            f"{figures['with_healthy_p95_ms']} ms with (ratio {figures.get('healthy_p95_ratio')})",
            f"  errors raised {figures['with_errors_raised']} = captured {figures['captured']} "
            f"+ dropped {figures['dropped']} + lost {figures['lost']}: {'yes' if figures['accounted'] else 'NO'}",
            f"  fault: the capture's database connections cut {figures['with_capture_connections_cut']} times "
            f"during the bursts; healthy requests that failed: {figures['with_healthy_failed']}",
        ]
    )
