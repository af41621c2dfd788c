"""The autonomy ladder of a guardrail: observe (dry run) -> approve -> auto.

Risk decides where a guardrail starts: a critical one on "approve" (and never
higher), any other on "auto", because each fix is diagnosed live, replayed and
reversible before the policy lets it run alone. Outcomes then move it: a
failure, a rollback or a recurrence takes it one step down at once; a run of
successes takes an "observe" or "approve" guardrail one step up. A step pinned
by an administrator never moves.
"""

from dataclasses import dataclass

from .policy import APPROVE, AUTO, AUTONOMY_STEPS, OBSERVE

HEALED = "healed"
FAILED = "failed"
ROLLED_BACK = "rolled_back"
RECURRED = "recurred"
# A dry run whose diagnosis held and whose plan was computed: the observe step's success.
PLANNED = "planned"
EVENTS = (HEALED, FAILED, ROLLED_BACK, RECURRED, PLANNED)
SETBACKS = (FAILED, ROLLED_BACK, RECURRED)

# Successes in a row that earn one step up.
DEFAULT_PROMOTE_AFTER = 3


def start_step(critical):
    """Where a guardrail starts when nobody has set its step."""
    return APPROVE if critical else AUTO


def highest_step(critical):
    return APPROVE if critical else AUTO


@dataclass(frozen=True)
class Move:
    step: str
    streak: int
    # Empty when the step did not change.
    reason: str = ""

    @property
    def moved(self):
        return bool(self.reason)


def after(step, event, streak=0, pinned=False, critical=False, promote_after=DEFAULT_PROMOTE_AFTER, detail=""):
    """The ladder after one outcome: the new step, the success streak and why it moved."""
    if step not in AUTONOMY_STEPS:
        raise ValueError(f"unknown autonomy step {step!r}; known: {', '.join(AUTONOMY_STEPS)}")
    if event not in EVENTS:
        raise ValueError(f"unknown outcome {event!r}; known: {', '.join(EVENTS)}")
    if promote_after < 1:
        raise ValueError("promote_after must be 1 or more")
    index = AUTONOMY_STEPS.index(step)
    top = AUTONOMY_STEPS.index(highest_step(critical))
    if index > top and not pinned:
        # A critical guardrail found above its ceiling (edited by SQL, made critical later) goes back.
        return Move(AUTONOMY_STEPS[top], 0, f"a critical guardrail never goes beyond {AUTONOMY_STEPS[top]}")
    what = {FAILED: "its fix failed", ROLLED_BACK: "its fix was rolled back", RECURRED: "the fault came back"}
    if event in SETBACKS:
        if pinned or index == 0:
            return Move(step, 0)
        because = what[event] + (f" ({detail})" if detail else "")
        return Move(AUTONOMY_STEPS[index - 1], 0, f"{because}: one step down, from {step}")
    counts = (event == PLANNED and step == OBSERVE) or (event == HEALED and step in (OBSERVE, APPROVE))
    if not counts:
        return Move(step, streak + 1 if event == HEALED else streak)
    streak += 1
    if pinned or index >= top or streak < promote_after:
        return Move(step, streak)
    return Move(AUTONOMY_STEPS[index + 1], 0, f"{streak} successes in a row: one step up, from {step}")
