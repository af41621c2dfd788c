"""Detection: what capturing an error costs the code that logged it, and grouping speed.

1. Capture cost: the time an ERROR record with a typical traceback (30
   frames) costs the logging thread, through our BufferedCaptureHandler
   versus Odoo's own odoo.netsvc.PostgreSQLHandler (what ``--log-db`` uses),
   both writing to the same real database. As in Odoo, where the stream
   handler runs first and leaves the formatted traceback on the record, both
   handlers get records whose traceback text is already there; our cost on a
   record nobody formatted yet is reported too. Our sink runs for real
   meanwhile (multi-row INSERT on its own connection), and every row written
   by either handler is counted afterwards, so a handler that silently
   failed cannot look fast.
2. Burst: 10,000 ERROR records (with exception info) from 4 threads, once
   with a queue large enough, once with a small one: captured + dropped must
   equal what was logged, and nothing is dropped while the bound holds.
3. Fingerprints per second on one core, for Odoo-like tracebacks of 25-40
   frames over five kinds of fault with varying ids, values and line numbers.
"""

import contextlib
import importlib.util
import logging
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from engine.detect import fingerprint

from .common import addon_module

FRAME_COUNT = 30
BURST_RECORDS = 10000
BURST_THREADS = 4
SMALL_BOUND = 200

IR_LOGGING_TABLE = """
CREATE TABLE ir_logging (
    id SERIAL PRIMARY KEY,
    create_uid INTEGER,
    create_date TIMESTAMP,
    write_uid INTEGER,
    write_date TIMESTAMP,
    name VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    dbname VARCHAR,
    level VARCHAR,
    message TEXT NOT NULL,
    path VARCHAR NOT NULL,
    func VARCHAR NOT NULL,
    line VARCHAR NOT NULL
);
CREATE INDEX ir_logging_type_index ON ir_logging (type);
CREATE INDEX ir_logging_dbname_index ON ir_logging (dbname);
CREATE INDEX ir_logging_level_index ON ir_logging (level);
"""

SIGNAL_TABLE = """
CREATE TABLE bench_signal (
    id SERIAL PRIMARY KEY,
    dbname VARCHAR,
    source VARCHAR NOT NULL,
    level VARCHAR,
    logger VARCHAR,
    message TEXT,
    traceback TEXT,
    occurred_at TIMESTAMPTZ,
    extra JSONB
);
"""


def run(ctx):
    results = {}
    results.update(_fingerprint_speed(ctx))
    dbname = ctx.scratch_database("detection")
    cluster = ctx.cluster()
    with contextlib.closing(cluster.connect(dbname)) as conn, conn.cursor() as cr:
        cr.execute(IR_LOGGING_TABLE)
        cr.execute(SIGNAL_TABLE)
    with tempfile.TemporaryDirectory(prefix="bench_detection_") as folder:
        exc_info = _typical_exception(Path(folder))
        results.update(_capture_cost(ctx, cluster, dbname, exc_info))
        results.update(_burst(ctx, cluster, dbname, exc_info))
    return results


# --- a typical exception -----------------------------------------------------


def _typical_exception(folder):
    """exc_info of a real exception raised FRAME_COUNT frames deep in an addon-like file."""
    source = folder / "addons" / "bench_mod" / "models" / "sale_order.py"
    source.parent.mkdir(parents=True)
    lines = [f"def step_{i}(record_id):\n    return step_{i + 1}(record_id)\n" for i in range(FRAME_COUNT - 1)]
    lines.append(
        f"def step_{FRAME_COUNT - 1}(record_id):\n    raise KeyError(f'serial_id of sale.order.line({{record_id}},)')\n"
    )
    source.write_text("".join(lines))
    spec = importlib.util.spec_from_file_location("bench_detection_chain", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.step_0(4242)
    except KeyError:
        return sys.exc_info()
    raise AssertionError("the chain did not raise")


def _records(logger, exc_info, count, preformatted):
    formatter = logging.Formatter()
    records = []
    for index in range(count):
        record = logger.makeRecord(
            logger.name,
            logging.ERROR,
            __file__,
            1,
            "Exception during request handling (%s).",
            (index,),
            exc_info,
            func="_records",  # ir_logging.func is NOT NULL: a record without it would be silently lost
        )
        if preformatted:
            # What Odoo's stream handler, registered first, leaves on the record.
            record.message = record.getMessage()
            record.exc_text = formatter.formatException(exc_info)
        records.append(record)
    return records


class TableSink:
    """The shape of the Odoo-side sink: one multi-row INSERT per batch on a connection of its own."""

    def __init__(self, cluster, dbname):
        self.conn = cluster.connect(dbname)

    def __call__(self, dbname, signals):
        import json

        from psycopg2.extras import execute_values

        rows = [
            (
                s["dbname"],
                s["source"],
                s["level"],
                s["logger"],
                s["message"],
                s["traceback"],
                s["occurred_at"],
                json.dumps(s["extra"]),
            )
            for s in signals
        ]
        with self.conn.cursor() as cr:
            execute_values(
                cr,
                "INSERT INTO bench_signal (dbname, source, level, logger, message, traceback, occurred_at, extra)"
                " VALUES %s",
                rows,
                page_size=1000,
            )

    def close(self):
        self.conn.close()


def _count(cluster, dbname, table):
    with contextlib.closing(cluster.connect(dbname)) as conn, conn.cursor() as cr:
        cr.execute(f"SELECT count(*) FROM {table}")
        return cr.fetchone()[0]


def _truncate(cluster, dbname, table):
    with contextlib.closing(cluster.connect(dbname)) as conn, conn.cursor() as cr:
        cr.execute(f"TRUNCATE {table}")


def _private_logger(name):
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


# --- 1. capture cost versus Odoo's PostgreSQLHandler -------------------------


@contextlib.contextmanager
def _odoo_log_db(cluster, dbname):
    """Odoo's config pointed at the scratch database, restored afterwards."""
    from odoo import sql_db
    from odoo.tools import config

    keys = ("log_db", "db_host", "db_port", "db_user", "db_password")
    saved = {key: config[key] for key in keys}
    config["log_db"] = dbname
    config["db_host"] = cluster.host
    config["db_port"] = int(cluster.port)
    config["db_user"] = cluster.user
    config["db_password"] = cluster.password or False
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sql_db.close_db(dbname)
        for key, value in saved.items():
            config[key] = value


def _time_handler(handler, records):
    """Wall and CPU seconds the calling thread spent handing ``records`` to ``handler``."""
    started_cpu = time.thread_time()
    started = time.perf_counter()
    for record in records:
        handler.handle(record)
    return time.perf_counter() - started, time.thread_time() - started_cpu


def _capture_cost(ctx, cluster, dbname, exc_info):
    from odoo import netsvc

    logdb_count = 200 if ctx.quick else 1000
    capture_count = 2000 if ctx.quick else 10000
    logger = _private_logger("bench.detection.cost")

    with _odoo_log_db(cluster, dbname):
        logdb_handler = netsvc.PostgreSQLHandler()
        logdb_handler.setLevel(logging.ERROR)
        _time_handler(logdb_handler, _records(logger, exc_info, 20, True))  # opens the pooled connection
        _truncate(cluster, dbname, "ir_logging")
        logdb_seconds, logdb_cpu = _time_handler(logdb_handler, _records(logger, exc_info, logdb_count, True))
    logdb_rows = _count(cluster, dbname, "ir_logging")
    if logdb_rows != logdb_count:
        raise RuntimeError(f"PostgreSQLHandler wrote {logdb_rows} rows for {logdb_count} records")

    sink = TableSink(cluster, dbname)
    # The cost on the logging thread is measured with every record kept: neither the count bound
    # nor the size bound (each record carries a long traceback) may drop one while the flusher
    # catches up on a loaded machine. Drops under bounds are what the burst phase measures.
    handler = addon_module("detection.capture").BufferedCaptureHandler(
        sink, capacity=capture_count * 3, max_queue_chars=capture_count * 3 * 20_000
    )
    try:
        _time_handler(handler, _records(logger, exc_info, 20, True))  # starts the flusher thread
        handler.flush(timeout=30)
        _truncate(cluster, dbname, "bench_signal")
        capture_seconds, capture_cpu = _time_handler(handler, _records(logger, exc_info, capture_count, True))
        unformatted_seconds, _ = _time_handler(handler, _records(logger, exc_info, capture_count, False))
        delivered = handler.flush(timeout=120)
        stats = handler.stats()
    finally:
        handler.close(timeout=30)
        sink.close()
    signal_rows = _count(cluster, dbname, "bench_signal")
    if not delivered or signal_rows != 2 * capture_count or stats["dropped"]:
        raise RuntimeError(f"capture delivered {signal_rows} rows of {2 * capture_count}: {stats}")

    logdb_us = logdb_seconds / logdb_count * 1e6
    capture_us = capture_seconds / capture_count * 1e6
    unformatted_us = unformatted_seconds / capture_count * 1e6
    ratio = capture_us / logdb_us
    logdb_cpu_us = logdb_cpu / logdb_count * 1e6
    capture_cpu_us = capture_cpu / capture_count * 1e6
    print(
        f"Capture cost on the logging thread, ERROR record with a {FRAME_COUNT}-frame traceback:"
        f" Odoo's PostgreSQLHandler {logdb_us:.1f} us/record ({logdb_count} records, {logdb_rows} rows written);"
        f" our BufferedCaptureHandler {capture_us:.2f} us/record ({capture_count} records, all {signal_rows // 2}"
        f" delivered by the flusher's multi-row INSERTs) -> ratio {ratio:.4f} (target <= 0.1)."
        f" CPU time of the logging thread: {logdb_cpu_us:.1f} us versus {capture_cpu_us:.2f} us."
    )
    print(
        f"On a record whose traceback nobody formatted yet, our handler costs {unformatted_us:.1f} us"
        " (it captures the frames and leaves reading source lines to its flusher thread)."
    )
    return {
        "capture_cost_ratio_vs_logdb": round(ratio, 4),
        "capture_us_per_record": round(capture_us, 2),
        "capture_us_per_record_unformatted": round(unformatted_us, 2),
        "logdb_us_per_record": round(logdb_us, 1),
        "capture_cpu_us_per_record": round(capture_cpu_us, 2),
        "logdb_cpu_us_per_record": round(logdb_cpu_us, 1),
    }


# --- 2. burst ---------------------------------------------------------------


def _burst_once(cluster, dbname, exc_info, capacity):
    sink = TableSink(cluster, dbname)
    handler = addon_module("detection.capture").BufferedCaptureHandler(
        sink, capacity=capacity, batch_size=500, flush_interval=0.2
    )
    logger = _private_logger(f"bench.detection.burst.{capacity}")
    logger.addHandler(handler)
    per_thread = BURST_RECORDS // BURST_THREADS
    barrier = threading.Barrier(BURST_THREADS + 1)

    def emit_burst():
        barrier.wait()
        for index in range(per_thread):
            logger.error("order %d could not be confirmed", index, exc_info=exc_info)

    threads = [threading.Thread(target=emit_burst, name=f"burst-{n}") for n in range(BURST_THREADS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    emitting = time.perf_counter() - started
    drained = handler.flush(timeout=300)
    draining = time.perf_counter() - started
    stats = handler.stats()
    logger.removeHandler(handler)
    handler.close(timeout=30)
    sink.close()
    return stats, emitting, draining, drained


def _burst(ctx, cluster, dbname, exc_info):
    raised = BURST_THREADS * (BURST_RECORDS // BURST_THREADS)
    _truncate(cluster, dbname, "bench_signal")
    stats, emitting, draining, drained = _burst_once(cluster, dbname, exc_info, capacity=2 * BURST_RECORDS)
    rows = _count(cluster, dbname, "bench_signal")
    print(
        f"Burst of {raised} ERROR records (with traceback) from {BURST_THREADS} threads, queue bound"
        f" {2 * BURST_RECORDS}: logged in {emitting:.3f} s ({raised / emitting:,.0f} records/s),"
        f" captured {stats['captured']}, dropped {stats['dropped']},"
        f" all in the database after {draining:.2f} s ({rows} rows, drained={drained})."
    )
    if stats["captured"] + stats["dropped"] != raised or rows != stats["flushed"]:
        raise RuntimeError(f"burst accounting is off: {stats}, {rows} rows")

    small, small_emitting, _small_draining, _ = _burst_once(cluster, dbname, exc_info, capacity=SMALL_BOUND)
    print(
        f"Same burst with a bound of {SMALL_BOUND}: captured {small['captured']}, dropped {small['dropped']}"
        f" (sum {small['captured'] + small['dropped']}), logged in {small_emitting:.3f} s."
    )
    if small["captured"] + small["dropped"] != raised:
        raise RuntimeError(f"small-bound burst accounting is off: {small}")
    return {
        "burst_raised": raised,
        "burst_captured": stats["captured"],
        "burst_dropped": stats["dropped"],
        "burst_seconds": round(emitting, 4),
        "burst_drain_seconds": round(draining, 3),
        "burst_small_bound": SMALL_BOUND,
        "burst_small_bound_captured": small["captured"],
        "burst_small_bound_dropped": small["dropped"],
    }


# --- 3. fingerprint speed ----------------------------------------------------

CORE_FRAMES = (
    ("odoo/http.py", "__call__", "response = request._serve_db()"),
    ("odoo/http.py", "_serve_db", "return service_model.retrying(self._serve_ir_http, self.env)"),
    ("odoo/service/model.py", "retrying", "result = func()"),
    ("odoo/http.py", "_serve_ir_http", "response = self.dispatcher.dispatch(rule.endpoint, args)"),
    ("odoo/http.py", "dispatch", "result = self.request.registry['ir.http']._dispatch(endpoint)"),
    ("odoo/addons/base/models/ir_http.py", "_dispatch", "result = endpoint(**request.params)"),
    ("odoo/http.py", "route_wrapper", "result = endpoint(self, *args, **params_ok)"),
    ("addons/web/controllers/dataset.py", "call_kw", "return call_kw(request.env[model], method, args, kwargs)"),
    ("odoo/api.py", "call_kw", "result = getattr(recs, name)(*args, **kwargs)"),
    ("odoo/models.py", "write", "real_recs._validate_fields(vals, inverse_fields)"),
    ("odoo/models.py", "_validate_fields", "check(self)"),
    ("odoo/fields.py", "__get__", "self.compute_value(recs)"),
    ("odoo/fields.py", "compute_value", "records._compute_field_value(self)"),
    ("odoo/models.py", "_compute_field_value", "fields.determine(field.compute, self)"),
    ("odoo/fields.py", "determine", "return needle(*args)"),
    ("odoo/models.py", "_fetch_field", "self.fetch(fnames)"),
    ("odoo/models.py", "fetch", "fetched = self._fetch_query(query, fields_to_fetch)"),
    ("odoo/models.py", "_fetch_query", "rows = self.env.execute_query(query.select(*sql_terms))"),
    ("odoo/api.py", "execute_query", "self.cr.execute(query)"),
    ("odoo/sql_db.py", "execute", "res = self._obj.execute(query, params)"),
)
ADDON_FRAMES = (
    ("my_sale/models/sale_order.py", "action_confirm", "res = super().action_confirm()"),
    ("my_sale/models/sale_order.py", "_prepare_delivery", "self._check_serials()"),
    ("my_sale/models/sale_order_line.py", "_check_serials", "for line in self.order_line:"),
    ("my_stock/models/stock_move.py", "_action_done", "moves.write({'state': 'done'})"),
)
FAULTS = (
    (
        'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "res_partner_pkey"\n'
        "DETAIL:  Key (id)=({n}) already exists."
    ),
    (
        "psycopg2.errors.UndefinedColumn: column res_partner.x_studio_serial does not exist\n"
        'LINE 1: SELECT "res_partner"."x_studio_serial" FROM "res_partner" WHERE "res_partner"."id" IN ({n})\n'
        "                ^"
    ),
    "ValueError: Expected singleton: sale.order.line({n}, {m})",
    "ValueError: Invalid field res.partner.x_legacy_code in leaf ('x_legacy_code', '=', 'CUST-{n}')",
    "KeyError: 'serial_id'",
)


ENTRY_FRAME_COUNT = 9  # CORE_FRAMES up to api.call_kw: how a JSON-RPC call reaches model code
LAST_FRAME_COUNT = 3  # CORE_FRAMES ending in sql_db.execute: where the query fails


def _typical_traceback(rng, fault_index):
    """A 25-40 frame traceback: request entry, addon code, ORM layers, the failing query.

    The addon frames depend on the fault only; ids, values, line numbers and
    the depth of the ORM part vary from one occurrence to the next.
    """
    depth = rng.randint(25, 40)
    addon_frames = [ADDON_FRAMES[(k + fault_index) % len(ADDON_FRAMES)] for k in range(2 + fault_index % 3)]
    orm_middle = CORE_FRAMES[ENTRY_FRAME_COUNT:-LAST_FRAME_COUNT]
    middle_count = depth - ENTRY_FRAME_COUNT - len(addon_frames) - LAST_FRAME_COUNT
    stack = [("/usr/lib/python3/dist-packages/", frame) for frame in CORE_FRAMES[:ENTRY_FRAME_COUNT]]
    stack += [("/mnt/extra-addons/", frame) for frame in addon_frames]
    stack += [("/usr/lib/python3/dist-packages/", orm_middle[k % len(orm_middle)]) for k in range(middle_count)]
    stack += [("/usr/lib/python3/dist-packages/", frame) for frame in CORE_FRAMES[-LAST_FRAME_COUNT:]]
    lines = ["Exception during request handling.", "Traceback (most recent call last):"]
    for root, (relative, function, code) in stack:
        lines.append(f'  File "{root}{relative}", line {rng.randint(10, 6000)}, in {function}')
        lines.append(f"    {code}")
    lines.append(FAULTS[fault_index].format(n=rng.randint(1, 10**6), m=rng.randint(1, 10**6)))
    return "\n".join(lines) + "\n"


def _fingerprint_speed(ctx):
    rng = random.Random(20250601)
    texts = [_typical_traceback(rng, index % len(FAULTS)) for index in range(1000)]
    calls = 10000 if ctx.quick else 50000
    for text in texts:  # warm the per-path frame cache, as a running server would have it
        fingerprint.fingerprint(text)
    groups = set()
    started_cpu = time.thread_time()
    started = time.perf_counter()
    for index in range(calls):
        groups.add(fingerprint.fingerprint(texts[index % len(texts)]).fingerprint)
    elapsed = time.perf_counter() - started
    cpu = time.thread_time() - started_cpu
    # CPU time of this thread is what one core delivers; wall time also counts
    # the moments other processes on a shared machine held the core.
    per_second = calls / cpu
    average_frames = sum(text.count('  File "') for text in texts) / len(texts)
    print(
        f"Fingerprinting: {per_second:,.0f} tracebacks per CPU second on one core ({cpu / calls * 1e6:.1f} us each;"
        f" {calls / elapsed:,.0f}/s by the wall clock), {average_frames:.1f} frames on average;"
        f" {len(texts)} distinct texts of {len(FAULTS)} faults (other ids, values, lines, depths)"
        f" fell into {len(groups)} groups."
    )
    return {
        "fingerprints_per_s": round(per_second),
        "fingerprint_us": round(cpu / calls * 1e6, 2),
        "fingerprints_per_s_wall": round(calls / elapsed),
        "fingerprint_distinct_groups": len(groups),
    }
