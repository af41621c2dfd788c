"""Request lines as Odoo 18 logs them through werkzeug, with query count and timings."""

import io
import logging
import threading
import time

import pytest

from engine.detect.access_log import AccessEntry, is_slow, parse_access_line

LINE = (
    "2024-05-01 10:00:00,123 4242 INFO mydb werkzeug: 127.0.0.1 - - [01/May/2024 10:00:00] "
    '"POST /web/dataset/call_kw/res.partner/web_search_read?debug=1 HTTP/1.1" 200 - 35 0.021 0.110'
)


def test_full_odoo_line_is_parsed():
    entry = parse_access_line(LINE)
    assert entry == AccessEntry(
        method="POST",
        path="/web/dataset/call_kw/res.partner/web_search_read",
        query_string="debug=1",
        protocol="HTTP/1.1",
        status=200,
        remote_addr="127.0.0.1",
        query_count=35,
        sql_time=0.021,
        python_time=0.110,
        total_time=0.131,
        cursor_mode=None,
        dbname="mydb",
        logged_at="2024-05-01 10:00:00,123",
        pid=4242,
    )


def test_19_rpc_annotation_is_not_part_of_the_path():
    # Odoo 19.0's CommonRequestHandler appends "#<model>.<method>" to RPC request paths.
    entry = parse_access_line(
        LINE.replace("web_search_read?debug=1", "web_search_read?debug=1#res.partner.web_search_read")
    )
    assert (entry.path, entry.query_string) == ("/web/dataset/call_kw/res.partner/web_search_read", "debug=1")
    line = '127.0.0.1 - - [01/May/2024 10:00:00] "POST /web/dataset/call_kw/res.partner/read#res.partner.read HTTP/1.1" 200 - 3 0.001 0.002'
    assert parse_access_line(line).path == "/web/dataset/call_kw/res.partner/read"


def test_message_without_odoo_header_and_request_without_figures():
    entry = parse_access_line('10.0.0.5 - - [01/May/2024 10:00:00] "GET /web/login HTTP/1.1" 303 1234 - - -')
    assert (entry.method, entry.path, entry.status, entry.dbname) == ("GET", "/web/login", 303, None)
    assert entry.query_count is None and entry.total_time is None
    assert not is_slow(entry, max_seconds=0.0, max_queries=0)


def test_replica_cursor_mode_and_decoded_spaces_in_path():
    entry = parse_access_line(
        '127.0.0.1 - - [01/May/2024 10:00:00] "GET /web/content/12/my report.pdf HTTP/1.1" 200 - 3 0.001 0.002 ro->rw'
    )
    assert entry.path == "/web/content/12/my report.pdf"
    assert entry.cursor_mode == "ro->rw"
    assert entry.query_count == 3


def test_other_lines_are_not_access_lines():
    assert (
        parse_access_line("2024-05-01 10:00:00,123 4242 INFO mydb odoo.modules.loading: loading 1 modules...") is None
    )
    assert parse_access_line("") is None
    assert parse_access_line("127.0.0.1 - - [x] not a request") is None


def test_is_slow_by_time_or_query_count():
    entry = parse_access_line(LINE)
    assert is_slow(entry, max_seconds=0.1)
    assert not is_slow(entry, max_seconds=0.5)
    assert is_slow(entry, max_queries=30)
    assert not is_slow(entry, max_seconds=0.5, max_queries=100)
    assert not is_slow(entry)
    assert not is_slow(None, max_seconds=0)


@pytest.fixture
def odoo_werkzeug_logger():
    """The werkzeug logger set up the way odoo.netsvc.init_logger does, writing to a buffer."""
    netsvc = pytest.importorskip("odoo.netsvc")
    serving = pytest.importorskip("werkzeug.serving")

    def setup(colored):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        log_format = "%(asctime)s %(pid)s %(levelname)s %(dbname)s %(name)s: %(message)s %(perf_info)s"
        # 18.0 fills pid/dbname in DBFormatter; 19.0 dropped it for its LogRecord and a plain Formatter.
        plain = getattr(netsvc, "DBFormatter", logging.Formatter)
        handler.setFormatter((netsvc.ColoredFormatter if colored else plain)(log_format))
        logger = logging.getLogger("werkzeug")
        perf_filter = (netsvc.ColoredPerfFilter if colored else netsvc.PerfFilter)()
        logger.addHandler(handler)
        logger.addFilter(perf_filter)
        cleanup.append((logger, handler, perf_filter))
        serving._log_add_style = colored
        return stream

    cleanup = []
    werkzeug_logger = logging.getLogger("werkzeug")
    # Inside a running Odoo, init_logger already put a PerfFilter here; it would consume the
    # thread's counters before the one under test sees them.
    saved_filters = list(werkzeug_logger.filters)
    for existing in saved_filters:
        werkzeug_logger.removeFilter(existing)
    saved = (werkzeug_logger.propagate, werkzeug_logger.level, serving._log_add_style)
    saved_factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(netsvc.LogRecord)
    logging.getLogger("werkzeug").propagate = False
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    yield setup, serving
    for logger, handler, perf_filter in cleanup:
        logger.removeHandler(handler)
        logger.removeFilter(perf_filter)
    logging.setLogRecordFactory(saved_factory)
    werkzeug_logger.propagate, werkzeug_logger.level, serving._log_add_style = saved
    for existing in saved_filters:
        werkzeug_logger.addFilter(existing)


def _log_request(serving, path, status, query_count, query_time, elapsed):
    """Let werkzeug's own request handler log a request as Odoo's HTTP thread would."""

    class Request(serving.WSGIRequestHandler):
        def __init__(self):  # no socket: only what log_request reads
            self.path, self.command, self.request_version = path, "POST", "HTTP/1.1"
            self.client_address = ("127.0.0.1", 50000)

    thread = threading.current_thread()
    thread.query_count, thread.query_time, thread.perf_t0 = query_count, query_time, time.time() - elapsed
    thread.dbname = "prod"
    try:
        Request().log_request(status, "-")
    finally:
        del thread.dbname


@pytest.mark.parametrize("colored", [False, True])
def test_lines_written_by_odoo_perf_filter_and_werkzeug(odoo_werkzeug_logger, colored):
    setup, serving = odoo_werkzeug_logger
    stream = setup(colored)
    _log_request(serving, "/web/dataset/call_kw/sale.order/action_confirm", 500, 1450, 2.5, 7.0)
    _log_request(serving, "/web/webclient/version_info", 200, 2, 0.001, 0.01)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    slow, fast = (parse_access_line(line) for line in lines)
    assert slow.path == "/web/dataset/call_kw/sale.order/action_confirm" and slow.status == 500
    assert slow.query_count == 1450 and slow.sql_time == 2.5 and slow.dbname == "prod"
    assert 6.9 < slow.total_time < 7.5
    assert is_slow(slow, max_seconds=5, max_queries=1000)
    assert fast.query_count == 2 and not is_slow(fast, max_seconds=5, max_queries=1000)
