from datetime import datetime, timedelta, timezone

from engine.detect import fingerprint as fp
from engine.detect.signal import Signal
from engine.detect.sql_companions import pair_with_tracebacks

AT = datetime(2026, 11, 25, 16, 40, 33, tzinfo=timezone.utc)
PATH = "/web/dataset/call_kw/res.partner.title/web_search_read"
ERROR = (
    "column res_partner_title.shortcut does not exist\n"
    'LINE 1: SELECT "res_partner_title"."id", "res_partner_title"."shortc...\n'
    "                                         ^\n"
)
BAD_QUERY = (
    'bad query: b\'SELECT "res_partner_title"."id", "res_partner_title"."shortcut" '
    'FROM "res_partner_title" LIMIT 80\'\nERROR: ' + ERROR
)
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/opt/odoo/odoo/models.py", line 4164, in _fetch_query\n'
    "    rows = self.env.execute_query(query.select(*sql_terms))\n"
    '  File "/opt/odoo/odoo/sql_db.py", line 354, in execute\n'
    "    res = self._obj.execute(query, params)\n"
    "psycopg2.errors.UndefinedColumn: " + ERROR
)


def line(at=AT, **values):
    data = {
        "source": "log",
        "logger": "odoo.sql_db",
        "message": BAD_QUERY,
        "dbname": "prod",
        "uid": 2,
        "request_path": PATH,
        "occurred_at": at,
        "extra": {"pid": 14514},
    }
    data.update(values)
    return Signal(**data)


def traceback(at=AT + timedelta(milliseconds=5), **values):
    data = {
        "source": "log",
        "logger": "odoo.http",
        "message": "Exception during request handling.",
        "traceback": TRACEBACK,
        "dbname": "prod",
        "uid": 2,
        "request_path": PATH,
        "occurred_at": at,
        "extra": {"pid": 14514},
    }
    data.update(values)
    return Signal(**data)


def items(*signals):
    return [(signal, fp.fingerprint(signal)) for signal in signals]


def test_the_line_and_its_traceback_are_one_failure():
    pairs = items(line(), traceback())
    assert pairs[0][1].exception_type == pairs[1][1].exception_type == "psycopg2.errors.UndefinedColumn"
    assert pairs[0][1].fingerprint != pairs[1][1].fingerprint, "without frames the line alone groups apart"
    assert pair_with_tracebacks(pairs) == {0: 1}


def test_a_line_without_its_traceback_stays_alone():
    assert pair_with_tracebacks(items(line())) == {}
    assert pair_with_tracebacks(items(line(), traceback(at=AT + timedelta(seconds=30)))) == {}
    assert pair_with_tracebacks(items(line(), traceback(request_path="/web/other"))) == {}
    assert pair_with_tracebacks(items(line(), traceback(extra={"pid": 1}))) == {}
    assert pair_with_tracebacks(items(line(), traceback(dbname="other"))) == {}


def test_another_error_is_not_a_companion():
    other = TRACEBACK.replace("shortcut", "name_short")
    assert pair_with_tracebacks(items(line(), traceback(traceback=other))) == {}


def test_each_traceback_takes_the_nearest_line_once():
    first, second = line(), line(at=AT + timedelta(seconds=2))
    later = traceback(at=AT + timedelta(seconds=2, milliseconds=4))
    assert pair_with_tracebacks(items(first, second, later)) == {1: 2}
    assert pair_with_tracebacks(items(first, traceback(), second, later)) == {0: 1, 2: 3}
