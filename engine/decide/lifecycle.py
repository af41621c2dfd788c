"""Incident and fix-attempt state machines, as data.

Models ask here whether a move is allowed instead of hard-coding transitions in
button methods, so the rules are tested once without a database.
"""

INCIDENT_STATES = [
    ("new", "New"),
    ("matched", "Matched"),
    ("awaiting_approval", "Awaiting Approval"),
    ("fixing", "Fixing"),
    ("healed", "Healed"),
    ("failed", "Failed"),
    ("escalated", "Escalated"),
    ("ignored", "Ignored"),
]

INCIDENT_TRANSITIONS = {
    # "healed" straight from "new": a human fixed it by hand, or resolved it in the next upgrade of a module.
    "new": {"matched", "escalated", "ignored", "fixing", "awaiting_approval", "healed"},
    "matched": {"awaiting_approval", "fixing", "escalated", "ignored", "healed"},
    "awaiting_approval": {"fixing", "escalated", "ignored", "matched", "healed"},
    "fixing": {"healed", "failed"},
    # A healed incident that recurs is a regression: it goes back to "new". An ignored one only
    # counts its new occurrences; a human may reopen it.
    "healed": {"new", "failed"},
    "failed": {"new", "matched", "awaiting_approval", "fixing", "escalated", "ignored"},
    "escalated": {"new", "matched", "awaiting_approval", "fixing", "healed", "ignored"},
    "ignored": {"new"},
}

ATTEMPT_STATES = [
    ("proposed", "Proposed"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("applied", "Applied"),
    ("validated", "Validated"),
    ("failed", "Failed"),
    ("rolled_back", "Rolled Back"),
]

ATTEMPT_TRANSITIONS = {
    "proposed": {"approved", "rejected", "applied", "failed"},
    "approved": {"applied", "failed"},
    "rejected": set(),
    "applied": {"validated", "failed", "rolled_back"},
    "validated": {"rolled_back"},
    "failed": {"rolled_back"},
    "rolled_back": set(),
}


class TransitionError(ValueError):
    """A state change the lifecycle does not allow."""

    def __init__(self, kind, current, target):
        self.kind, self.current, self.target = kind, current, target
        super().__init__(f"{kind} cannot go from {current!r} to {target!r}")


def _check(table, kind, current, target):
    if target not in table:
        raise TransitionError(kind, current, target)
    if target not in table.get(current, set()):
        raise TransitionError(kind, current, target)


def check_incident_transition(current, target):
    _check(INCIDENT_TRANSITIONS, "incident", current, target)


def check_attempt_transition(current, target):
    _check(ATTEMPT_TRANSITIONS, "fix attempt", current, target)
