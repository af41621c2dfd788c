"""Typed failures of the auto-patch engine, so callers can tell them apart."""


class AutoPatchError(Exception):
    """Base of every refusal or failure the auto-patch engine raises on purpose."""


class ScopeViolation(AutoPatchError):
    """A patch tried to touch a model, table or file outside its declared scope."""


class IrreversibleWrite(AutoPatchError):
    """A write the backup could not undo, so it was refused before it happened."""


class NotApplicable(AutoPatchError):
    """The patch does not apply: unknown code, bad parameters, or no fault to fix."""


class ValidationFailed(AutoPatchError):
    """The patch ran but the fault is still there; everything was rolled back."""


class RollbackRefused(AutoPatchError):
    """A rollback cannot be done safely: backup expired, or the data moved on since."""


class AttemptBusy(AutoPatchError):
    """Another worker holds this fix attempt right now."""


class NotRunnable(AutoPatchError):
    """The fix attempt is not in a state that allows running it."""
