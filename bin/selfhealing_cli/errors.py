"""The one exception type the commands raise for a user mistake.

``bin/self-healing`` prints its message on one line and exits with status 2:
no traceback for things the user can fix.
"""


class UsageError(Exception):
    """Something the user can fix; the message says what to do."""
