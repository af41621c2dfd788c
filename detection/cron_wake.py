"""Wake the cron workers of every Odoo process: the NOTIFY they LISTEN for on the postgres database.

Odoo's ir.cron sends it after a trigger due now; a trigger due later is only
found at a worker's next poll (up to a minute), hence the timed variant.
Failures are left to that poll: the trigger row is there either way.
"""

import logging
import os
import threading
from datetime import datetime, timezone

from psycopg2 import sql

from .connection import direct_cursor

_logger = logging.getLogger(__name__)


def notify_cron_workers(dbname):
    function = os.getenv("ODOO_NOTIFY_FUNCTION", "pg_notify")
    try:
        # Not a pooled connection: the prefork master's capture calls this too.
        with direct_cursor("postgres") as cr:
            cr.execute(
                sql.SQL("SELECT {}('cron_trigger', %s)").format(sql.Identifier(function)),
                [dbname],
                log_exceptions=False,
            )
    except Exception:  # noqa: BLE001 - the next poll finds the trigger
        _logger.debug("could not notify the cron workers of %s", dbname, exc_info=True)


def notify_cron_workers_at(dbname, when):
    """``notify_cron_workers(dbname)`` at ``when`` (naive UTC), from a timer thread of this process."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    timer = threading.Timer(max((when - now).total_seconds(), 0.0), notify_cron_workers, [dbname])
    timer.daemon = True
    timer.start()
    return timer
