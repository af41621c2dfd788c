"""Odoo's "bad query" log line and the traceback of the same failure: one fault, not two.

When a statement fails, odoo.sql_db logs ``bad query: <SQL>\nERROR: <error>``
and the exception then travels up to the request or the scheduled action,
which logs it again with its traceback a few milliseconds later. Both group
to the same exception type and message, but only the traceback has frames,
so their fingerprints differ. The SQL line is folded into its traceback's
occurrence (its statement is kept there); a line whose traceback never came
(the error was caught) stays a signal of its own.
"""

from datetime import timedelta

SQL_LOGGER = "odoo.sql_db"
BAD_QUERY_PREFIX = "bad query:"
# Both are logged by one thread within milliseconds; a flush batch spans about a second.
WINDOW = timedelta(seconds=5)


def is_bad_query_line(signal):
    return signal.logger == SQL_LOGGER and not signal.traceback and (signal.message or "").startswith(BAD_QUERY_PREFIX)


def _failure(signal, grouping):
    """What must be equal for two records to describe one failure: where, who, which process, what error."""
    return (
        signal.dbname,
        signal.request_path,
        signal.uid,
        (signal.extra or {}).get("pid"),
        grouping.exception_type,
        grouping.message_template,
    )


def pair_with_tracebacks(items, window=WINDOW):
    """``{index of a bad query line: index of its traceback}`` among ``items``, pairs of (signal, grouping).

    Closest in time first: each traceback takes at most one line and each line one traceback.
    """
    tracebacks = {}
    for index, (signal, grouping) in enumerate(items):
        if signal.traceback and grouping.exception_type:
            tracebacks.setdefault(_failure(signal, grouping), []).append(index)
    candidates = []
    for index, (signal, grouping) in enumerate(items):
        if not is_bad_query_line(signal) or not grouping.exception_type:
            continue
        for traceback in tracebacks.get(_failure(signal, grouping), ()):
            gap = abs(items[traceback][0].occurred_at - signal.occurred_at)
            if gap <= window:
                candidates.append((gap, index, traceback))
    pairs, taken = {}, set()
    for _gap, line, traceback in sorted(candidates):
        if line not in pairs and traceback not in taken:
            pairs[line] = traceback
            taken.add(traceback)
    return pairs
