"""Parse the request lines Odoo logs through werkzeug, with Odoo's performance figures.

Odoo 18 logs each HTTP request on the ``werkzeug`` logger; its log format
ends with ``%(perf_info)s``, which odoo.netsvc.PerfFilter fills with three
figures taken from the request thread: the number of SQL queries, the time
spent in them and the remaining (Python) time, both in seconds with three
decimals. A fourth field, the cursor mode, follows when a read replica is
configured; ``- - -`` stands for a request without figures. A full line::

    2024-05-01 10:00:00,123 4242 INFO mydb werkzeug: 127.0.0.1 - - [01/May/2024 10:00:00]
    "POST /web/dataset/call_kw/res.partner/web_search_read HTTP/1.1" 200 - 35 0.021 0.110

(one line in the log, wrapped here).

The parser also accepts the line without the Odoo header (the record's
message followed by its perf_info) and colour codes from a terminal log.
"""

import re
from dataclasses import asdict, dataclass

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ODOO_HEADER = re.compile(
    r"(?P<logged_at>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) (?P<pid>\d+) (?P<level>\S+) (?P<dbname>\S+) werkzeug: "
)
_ACCESS = re.compile(
    r"(?P<remote_addr>\S+) - - \[(?P<request_time>[^\]]*)\] \"(?P<request>.*)\" (?P<status>\d{3}|-) (?P<size>\S+)"
    r"(?: (?P<query_count>\d+|-) (?P<sql_time>\d+(?:\.\d+)?|-)"
    r" (?P<python_time>-?\d+(?:\.\d+)?|-)(?: (?P<cursor_mode>\S+))?)?"
    r"\s*"
)


@dataclass(frozen=True)
class AccessEntry:
    """One parsed request line; figures are None when Odoo did not log them."""

    method: str | None
    path: str
    query_string: str
    protocol: str | None
    status: int | None
    remote_addr: str
    query_count: int | None
    sql_time: float | None
    python_time: float | None
    total_time: float | None
    cursor_mode: str | None = None
    dbname: str | None = None
    logged_at: str | None = None
    pid: int | None = None

    def to_dict(self):
        return asdict(self)


def _number(text, kind):
    if text is None or text == "-":
        return None
    return kind(text)


def _split_request(request):
    """Method, path, query string and protocol of a request line such as 'GET /web?x=1 HTTP/1.1'."""
    method, protocol = None, None
    target = request
    head, space, rest = request.partition(" ")
    if space and head.isalpha() and head.isupper():
        method, target = head, rest
    before, space, last = target.rpartition(" ")
    if space and last.startswith("HTTP/"):
        target, protocol = before, last
    # Odoo 19.0 appends "#<model>.<method>" to RPC paths in its access log; browsers never send a
    # fragment, so a "#" can only be that annotation, and the request's path is what precedes it.
    target = target.partition("#")[0]
    path, _, query_string = target.partition("?")
    return method, path, query_string, protocol


def parse_access_line(line):
    """An AccessEntry for a werkzeug request line, or None when the line is something else."""
    if not line:
        return None
    if "\x1b" in line:
        line = _ANSI.sub("", line)
    line = line.rstrip("\r\n")
    header = _ODOO_HEADER.match(line)
    start = header.end() if header else 0
    match = _ACCESS.match(line, start)
    if match is None or match.end() != len(line):
        return None
    method, path, query_string, protocol = _split_request(match.group("request"))
    query_count = _number(match.group("query_count"), int)
    sql_time = _number(match.group("sql_time"), float)
    python_time = _number(match.group("python_time"), float)
    total_time = None
    if sql_time is not None and python_time is not None:
        total_time = round(sql_time + python_time, 6)
    dbname = header.group("dbname") if header else None
    cursor_mode = match.group("cursor_mode")
    return AccessEntry(
        method=method,
        path=path,
        query_string=query_string,
        protocol=protocol,
        status=_number(match.group("status"), int),
        remote_addr=match.group("remote_addr"),
        query_count=query_count,
        sql_time=sql_time,
        python_time=python_time,
        total_time=total_time,
        cursor_mode=None if cursor_mode in (None, "-") else cursor_mode,
        dbname=None if dbname in (None, "?") else dbname,
        logged_at=header.group("logged_at") if header else None,
        pid=int(header.group("pid")) if header else None,
    )


def is_slow(entry, max_seconds=None, max_queries=None):
    """True when the request took longer than ``max_seconds`` or ran more than ``max_queries`` queries.

    A limit left as None is not checked; a figure Odoo did not log never
    makes a request slow.
    """
    if entry is None:
        return False
    if max_seconds is not None and entry.total_time is not None and entry.total_time > max_seconds:
        return True
    if max_queries is not None and entry.query_count is not None and entry.query_count > max_queries:
        return True
    return False
