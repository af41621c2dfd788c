"""What a captured log record really is: a request line, a cron outcome, or a plain error.

The live handler gives every record the source ``log``. Some records are
better told apart: werkzeug request lines and "Job ... done in" lines are
performance signals, "Job ... failed" lines belong to a scheduled action, and
a few lines repeat what a dedicated detector (the mail and cron hooks)
already reports with more context. A few warnings are all Odoo ever says
about a serious fault: they are captured whatever a database's capture
level (``ALWAYS_CAPTURED``). Pure functions, no Odoo.
"""

import logging
import re
from dataclasses import dataclass, field

from ..engine.detect import access_log

CRON_LOGGER = "odoo.addons.base.models.ir_cron"
MAIL_LOGGER = "odoo.addons.mail.models.mail_mail"
ACCESS_LOGGER = "werkzeug"
# The exact format strings ir.cron logs a finished job with, each with the position of the
# duration among its arguments: 18.0 logs it on its own, 19.0 with the status and the counts.
CRON_DONE_FORMATS = {
    "Job %r (%s) done in %.3fs": 2,
    "Job %r (%s) %s (#loop %s; done %s; remaining %s; duration %.2fs)": 6,
}

SCHEDULER_BLOCKED_FORMAT = "Skipping database %s because of modules to install/upgrade/remove."

_FORMAT_DIRECTIVE = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[sdrfi]")


@dataclass(frozen=True)
class AlwaysCaptured:
    """A record that matters at any capture level: Odoo logs its fault no louder than ``level``.

    ``format`` is the logging call's format string, as Odoo writes it;
    ``source`` is the refinement ingestion gives the signal (not a levelled
    one, so the database's capture level does not drop it either).
    ``blocks_scheduler`` marks the faults that stop every scheduled action
    of the database, the addon's own processing included.
    """

    logger: str
    format: str
    source: str
    level: int = logging.WARNING
    blocks_scheduler: bool = False

    def matches(self, message):
        """Whether a formatted ``message`` was written with this entry's format."""
        return bool(_format_pattern(self.format).match(message or ""))


ALWAYS_CAPTURED = (
    # ir.cron._process_jobs: a module left 'to install', 'to upgrade' or 'to remove'.
    AlwaysCaptured(CRON_LOGGER, SCHEDULER_BLOCKED_FORMAT, "cron", blocks_scheduler=True),
)
ALWAYS_CAPTURED_LEVEL = min(entry.level for entry in ALWAYS_CAPTURED)
_PATTERNS = {}


def _by_logger(entries):
    table = {}
    for entry in entries:
        table.setdefault(entry.logger, {})[entry.format] = entry
    return table


_ALWAYS_CAPTURED_BY_LOGGER = _by_logger(ALWAYS_CAPTURED)


def _format_pattern(text):
    pattern = _PATTERNS.get(text)
    if pattern is None:
        pieces = _FORMAT_DIRECTIVE.split(text)
        pattern = _PATTERNS[text] = re.compile(r"\A" + "(.+?)".join(map(re.escape, pieces)) + r"\Z", re.S)
    return pattern


def always_captured_record(logger, msg, levelno):
    """The ``ALWAYS_CAPTURED`` entry of a log record (its logger, unformatted ``msg`` and level), or None.

    For the logging path: two dictionary look-ups, no formatting.
    """
    formats = _ALWAYS_CAPTURED_BY_LOGGER.get(logger)
    if formats is None or not isinstance(msg, str):
        return None
    entry = formats.get(msg)
    return entry if entry is not None and levelno >= entry.level else None


def always_captured_signal(logger, message):
    """The ``ALWAYS_CAPTURED`` entry a captured signal's formatted ``message`` comes from, or None."""
    for entry in _ALWAYS_CAPTURED_BY_LOGGER.get(logger, {}).values():
        if entry.matches(message):
            return entry
    return None


def blocks_scheduler(signal):
    """Whether a signal dict says the scheduler skips its database (no cron of the database runs)."""
    if signal.get("source") != "log":
        return False
    entry = always_captured_signal(signal.get("logger"), signal.get("message"))
    return entry is not None and entry.blocks_scheduler


_CRON_DONE = re.compile(
    r"Job (?P<name>.+) \((?P<id>\d+)\) (?:done in (?P<seconds>\d+(?:\.\d+)?)s"
    r"|[a-z ]+ \(#loop \d+; done \d+; remaining \d+; duration (?P<seconds_19>\d+(?:\.\d+)?)s\))\Z",
    re.S,
)
_CRON_FAILED = re.compile(
    r"Job (?P<name>.+?) \((?P<id>\d+)\) (?:server action #(?P<action>\d+) failed|timed out)", re.S
)
_PATH_SEGMENT_WITH_DIGIT = re.compile(r"(?<=/)[^/]*\d[^/]*")


@dataclass
class Refinement:
    """How ingestion should treat a signal beyond its fingerprint.

    ``reported_by`` names the detector that already reports this record (the
    record is then skipped, so one fault is counted once); ``facts`` are added
    to the signal's extra.
    """

    source: str
    group_key: str | None = None
    title: str | None = None
    facts: dict = field(default_factory=dict)
    reported_by: str | None = None
    slow_request: object = None
    cron_seconds: float | None = None


def unquote(name):
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "'\"":
        return name[1:-1]
    return name


def masked_path(path):
    """A URL path with every segment holding a digit masked, so one route groups as one."""
    return _PATH_SEGMENT_WITH_DIGIT.sub("<id>", path or "")


def refine(source, logger, message):
    """A Refinement for a signal of ``source`` logged by ``logger`` with ``message``."""
    if source != "log":
        return Refinement(source)
    message = message or ""
    if logger == ACCESS_LOGGER:
        entry = access_log.parse_access_line(message)
        if entry is not None:
            route = f"{entry.method or ''} {masked_path(entry.path)}".strip()
            facts = {
                key: value
                for key, value in (
                    ("method", entry.method),
                    ("path", entry.path),
                    ("status", entry.status),
                    ("query_count", entry.query_count),
                    ("sql_time", entry.sql_time),
                    ("python_time", entry.python_time),
                    ("duration", entry.total_time),
                )
                if value is not None
            }
            return Refinement(
                "performance",
                group_key=f"request {route}",
                title=f"Slow request: {route}",
                facts=facts,
                slow_request=entry,
            )
    elif logger == CRON_LOGGER:
        done = _CRON_DONE.match(message)
        if done:
            name = unquote(done.group("name"))
            seconds = float(done.group("seconds") or done.group("seconds_19"))
            return Refinement(
                "performance",
                group_key=f"cron {name}",
                title=f"Slow scheduled action: {name}",
                facts={"cron_id": int(done.group("id")), "cron_name": name, "duration": seconds},
                cron_seconds=seconds,
            )
        failed = _CRON_FAILED.match(message)
        if failed:
            facts = {"cron_id": int(failed.group("id")), "cron_name": unquote(failed.group("name"))}
            if failed.group("action"):
                facts["server_action_id"] = int(failed.group("action"))
            return Refinement("cron", facts=facts)
        if "has been deactivated after failing" in message:
            return Refinement("cron", reported_by="ir.cron._notify_admin")
    notable = always_captured_signal(logger, message)
    if notable is not None:
        return Refinement(notable.source, facts={"scheduler_blocked": True} if notable.blocks_scheduler else {})
    if logger == MAIL_LOGGER and message.startswith("failed sending mail"):
        return Refinement("mail", reported_by="mail.mail._postprocess_sent_message")
    return Refinement(source)


def is_slow(refinement, settings):
    """For performance refinements: does the signal cross this database's limits?"""
    if refinement.slow_request is not None:
        return access_log.is_slow(refinement.slow_request, settings.slow_request_seconds, settings.slow_request_queries)
    if refinement.cron_seconds is not None:
        return settings.slow_cron_seconds is not None and refinement.cron_seconds > settings.slow_cron_seconds
    return True
