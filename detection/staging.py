"""The staging table rows: one INSERT statement for a whole batch of signal dicts.

The sink (its own connection) and the models (the ORM's cursor) write the same
rows, so the statement is built here once. Texts are cut to a bounded size
and cleaned of what PostgreSQL refuses in text columns, because one bad
character would otherwise fail the whole batch.
"""

import json

from psycopg2 import sql

from ..engine.detect.signal import as_utc

TABLE = "self_healing_signal"
COLUMNS = ("source", "level", "logger", "message", "traceback", "dbname", "uid", "request_path", "occurred_at", "extra")
MAX_MESSAGE_CHARS = 20000
MAX_TRACEBACK_CHARS = 100000
MAX_EXTRA_CHARS = 20000

_ROW = sql.SQL("(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, now() at time zone 'UTC', now() at time zone 'UTC')")


def clip_text(text, limit):
    """``text`` cut to ``limit`` characters; a long limit keeps the head and the tail around a marker.

    The end of an error text matters as much as its start: PostgreSQL's error
    closes a "bad query" line, the root exception closes a traceback.
    """
    if len(text) <= limit:
        return text
    marker = f"\n[... cut here: {len(text)} characters in all ...]\n"
    if limit < 4 * len(marker):
        return text[:limit]
    head = (limit - len(marker)) // 2
    return text[:head] + marker + text[len(text) - (limit - len(marker) - head) :]


def clean_text(text, limit):
    if text is None:
        return None
    text = clip_text(str(text), limit)
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return text


def strict_text(text, limit):
    """``clean_text`` that also replaces lone surrogates, for the retry after an encoding failure."""
    text = clean_text(text, limit)
    if text is None:
        return None
    return text.encode("utf-8", "replace").decode("utf-8")


def row_values(signal, clean=clean_text):
    """The column values of one signal dict (``Signal.to_dict`` shape), in ``COLUMNS`` order."""
    try:
        # The column is a naive UTC timestamp, as Odoo stores datetimes.
        occurred_at = as_utc(signal["occurred_at"]).replace(tzinfo=None)
    except (KeyError, TypeError, ValueError):
        occurred_at = None
    # jsonb refuses the NUL escape that json.dumps writes for "\x00".
    extra = json.dumps(signal.get("extra") or {}, default=str).replace("\\u0000", "\\ufffd")
    if len(extra) > MAX_EXTRA_CHARS:
        extra = json.dumps({"truncated": True, "size": len(extra)})
    uid = signal.get("uid")
    return (
        clean(signal.get("source") or "log", 32),
        clean(signal.get("level") or "ERROR", 32),
        clean(signal.get("logger"), 256),
        clean(signal.get("message") or "", MAX_MESSAGE_CHARS),
        clean(signal.get("traceback") or "", MAX_TRACEBACK_CHARS),
        clean(signal.get("dbname"), 128),
        uid if isinstance(uid, int) and not isinstance(uid, bool) else None,
        clean(signal.get("request_path"), 2048),
        occurred_at,
        clean(extra, MAX_EXTRA_CHARS),
    )


def insert_statement(signals, clean=clean_text):
    """(query, params) inserting every signal dict of ``signals`` in one statement."""
    params = []
    for signal in signals:
        params.extend(row_values(signal, clean))
    query = sql.SQL("INSERT INTO {} ({}, create_date, write_date) VALUES {}").format(
        sql.Identifier(TABLE),
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
        sql.SQL(", ").join([_ROW] * len(signals)),
    )
    return query, params
