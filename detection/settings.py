"""Detection settings of one database, read straight from ir_config_parameter.

The sink runs on a connection of its own without any registry, and the models
read the same keys through the ORM's cursor: both go through ``read(cr)`` so
defaults and parsing live in one place.
"""

import logging
from dataclasses import dataclass

from ..engine.detect.fingerprint import DEFAULT_BUSINESS_EXCEPTIONS

PREFIX = "self_healing."
LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


@dataclass(frozen=True)
class DetectionSettings:
    """Limits are None when switched off (a zero or negative value in the settings)."""

    capture_level: int = logging.ERROR
    business_exceptions: frozenset = DEFAULT_BUSINESS_EXCEPTIONS
    slow_request_seconds: float | None = 5.0
    slow_request_queries: int | None = 1000
    slow_cron_seconds: float | None = 600.0
    occurrence_keep_count: int | None = 50
    occurrence_keep_days: int | None = 90


DEFAULTS = DetectionSettings()
KEYS = tuple(
    PREFIX + name
    for name in (
        "capture_level",
        "business_exceptions",
        "slow_request_seconds",
        "slow_request_queries",
        "slow_cron_seconds",
        "occurrence_keep_count",
        "occurrence_keep_days",
    )
)


def _positive(text, kind, default):
    if text in (None, "", False):
        return default
    try:
        value = kind(text)
    except (TypeError, ValueError):
        return default
    return value if value > 0 else None


def from_params(params):
    """Settings from a {key: value} mapping of ir_config_parameter rows; missing or bad values take defaults."""

    def get(name):
        return params.get(PREFIX + name)

    level = LEVELS.get(str(get("capture_level") or "").strip().upper(), DEFAULTS.capture_level)
    names = get("business_exceptions")
    if names is None or not str(names).strip():
        business = DEFAULTS.business_exceptions
    else:
        business = frozenset(name.strip() for name in str(names).split(",") if name.strip())
    return DetectionSettings(
        capture_level=level,
        business_exceptions=business,
        slow_request_seconds=_positive(get("slow_request_seconds"), float, DEFAULTS.slow_request_seconds),
        slow_request_queries=_positive(get("slow_request_queries"), int, DEFAULTS.slow_request_queries),
        slow_cron_seconds=_positive(get("slow_cron_seconds"), float, DEFAULTS.slow_cron_seconds),
        occurrence_keep_count=_positive(get("occurrence_keep_count"), int, DEFAULTS.occurrence_keep_count),
        occurrence_keep_days=_positive(get("occurrence_keep_days"), int, DEFAULTS.occurrence_keep_days),
    )


def read(cr):
    """The settings of the database ``cr`` is connected to (an Odoo cursor)."""
    cr.execute("SELECT key, value FROM ir_config_parameter WHERE key IN %s", [KEYS], log_exceptions=False)
    return from_params(dict(cr.fetchall()))


def level_number(name, default=logging.ERROR):
    """A logging level number for a level name as stored by Odoo ('error', 'WARNING', 'WARN')."""
    text = str(name or "").strip().upper()
    if text == "WARN":
        text = "WARNING"
    return LEVELS.get(text, default)


def logging_name(level):
    """'ERROR' for logging.ERROR; levels between the named ones take the name just below."""
    for name in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
        if level >= LEVELS[name]:
            return name
    return "DEBUG"
