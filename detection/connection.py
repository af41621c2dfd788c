"""The capture's own database connections: opened for one delivery, closed after, never pooled.

Odoo's prefork master empties its connection pool once, before it forks the
workers, and forks again whenever a worker dies. A pooled connection opened
later by the master's capture flusher (the master logs worker timeouts on a
thread that still carries the preloaded database's name) would be inherited
by every worker forked after it: two processes on one socket. A fork while
the flusher held the pool's lock would leave the child's lock taken forever.
Here the connection comes from psycopg2 directly, with the pool's connection
parameters but not its lock, and lives only as long as one batch: a process
forked in the meantime inherits at most a socket it never uses (the copy's
owner, the flusher thread, does not exist in the child, so the copy is
never closed there and never talks on the parent's socket).
"""

import contextlib
import os

import psycopg2

from odoo import sql_db

APPLICATION_SUFFIX = "self_healing-capture"
CONNECT_TIMEOUT = 5  # seconds: an unreachable server must not hold the flusher


class DirectCursor:
    """The few Odoo cursor methods the sink's SQL uses, over a plain psycopg2 cursor."""

    def __init__(self, cursor):
        self._cursor = cursor

    def execute(self, query, params=None, log_exceptions=False):
        return self._cursor.execute(query, params)

    def fetchone(self):
        return self._cursor.fetchone()

    def fetchall(self):
        return self._cursor.fetchall()

    @property
    def rowcount(self):
        return self._cursor.rowcount


@contextlib.contextmanager
def direct_cursor(dbname):
    """A cursor on a connection of its own to ``dbname``; committed when the block succeeds, then closed."""
    _name, info = sql_db.connection_info_for(dbname)
    params = dict(info)
    params.setdefault("connect_timeout", CONNECT_TIMEOUT)
    # Odoo names its connections odoo-<pid>; ours say what they are (an administrator can find them).
    params["application_name"] = f"odoo-{os.getpid()}-{APPLICATION_SUFFIX}"
    connection = psycopg2.connect(**params)
    try:
        with connection.cursor() as cursor:
            yield DirectCursor(cursor)
        connection.commit()
    except BaseException:
        with contextlib.suppress(Exception):
            connection.rollback()
        raise
    finally:
        connection.close()
