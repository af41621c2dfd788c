"""When a webhook delivery counts as done, and when a failed one is tried again."""

import hashlib
import hmac

# Seconds to wait before try n+1 after try n failed: one minute, then doubling, capped at six hours.
BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 6 * 3600
DEFAULT_MAX_TRIES = 6
# A receiver that asks us to slow down, or is down: worth another try. Other 4xx say the request is wrong.
RETRY_STATUSES = frozenset({408, 425, 429})
SIGNATURE_HEADER = "X-Self-Healing-Signature"


def backoff_seconds(tries, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_MAX_SECONDS):
    """The wait after ``tries`` failed tries (1 -> base, 2 -> 2*base, ...), never above ``cap``."""
    if tries < 1:
        return 0
    return min(cap, base * 2 ** (tries - 1))


def outcome(status):
    """``"sent"``, ``"retry"`` or ``"refused"`` for an HTTP status (None: no answer at all)."""
    if status is None:
        return "retry"
    if 200 <= status < 300:
        return "sent"
    if status >= 500 or status in RETRY_STATUSES:
        return "retry"
    return "refused"


def signature(secret, body):
    """``sha256=<hex>`` HMAC of the exact bytes sent, for receivers that check who is calling."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
