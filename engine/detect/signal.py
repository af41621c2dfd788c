"""One observation that something went wrong, before it is grouped into an incident."""

from dataclasses import dataclass, field, fields
from datetime import datetime, timezone

# Where observations come from, with the label an administrator reads: the one
# list of sources (the incident's selection is built from it).
SOURCE_LABELS = {
    "log": "Server Log",
    "ir_logging": "ir.logging",
    "cron": "Scheduled Action",
    "mail": "Mail Delivery",
    "performance": "Performance",
    "user_report": "User Report",
    "manual": "Manual",
}
SOURCES = tuple(SOURCE_LABELS)
# Sources that a person writes: evidence for a human, never server observations.
HUMAN_SOURCES = ("user_report", "manual")


def utc_now():
    return datetime.now(timezone.utc)


def as_utc(value):
    """A timezone-aware UTC datetime from a datetime or an ISO 8601 string.

    Naive values are taken as UTC because that is how Odoo stores datetimes.
    """
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        raise TypeError(f"occurred_at must be a datetime or an ISO string, got {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


@dataclass
class Signal:
    """A fault observation from one of ``SOURCES``.

    ``extra`` holds what only some sources know (cron id, mail id, duration,
    query count, the logging call site); it must stay JSON-serialisable.
    """

    source: str
    message: str = ""
    level: str = "ERROR"
    logger: str = ""
    traceback: str = ""
    dbname: str | None = None
    uid: int | None = None
    request_path: str | None = None
    occurred_at: datetime = field(default_factory=utc_now)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"unknown signal source {self.source!r}; expected one of {', '.join(SOURCES)}")
        self.occurred_at = as_utc(self.occurred_at)
        if self.extra is None:
            self.extra = {}

    @property
    def text(self):
        """Message and traceback as one text, the way ir_logging stores them."""
        if self.traceback:
            return f"{self.message}\n{self.traceback}" if self.message else self.traceback
        return self.message

    def to_dict(self):
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        data["occurred_at"] = self.occurred_at.isoformat()
        data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data):
        """Build a Signal from ``to_dict`` output; unknown keys are ignored so newer writers stay readable."""
        return cls(**{key: value for key, value in data.items() if key in _FIELD_NAMES})


_FIELD_NAMES = tuple(f.name for f in fields(Signal))
