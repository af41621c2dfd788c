"""What an auto-patch is, and the registry that finds one by its code.

Only classes registered here ever run. Guardrails, knowledge entries and LLM
answers name a patch by its code and fill its declared parameters; nothing
they contain is executed.
"""

import contextlib
import os
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from ..engine.patching import params as patch_params
from .errors import NotApplicable

_REGISTRY = {}
RISKS = ("low", "medium", "high")


def register(cls):
    """Class decorator: make ``cls`` findable by its ``code``."""
    if not cls.code or not isinstance(cls.code, str):
        raise TypeError(f"{cls.__name__} needs a code")
    if cls.risk not in RISKS:
        raise TypeError(f"{cls.__name__}.risk must be one of {RISKS}")
    for name, spec in cls.params.items():
        if not {"pattern", "required", "description"} <= set(spec):
            raise TypeError(f"{cls.__name__}.params[{name!r}] needs pattern, required and description")
    known = _REGISTRY.get(cls.code)
    if known is not None and known is not cls and known.__qualname__ != cls.__qualname__:
        raise ValueError(f"auto-patch code {cls.code!r} is already taken by {known.__qualname__}")
    _REGISTRY[cls.code] = cls
    return cls


@contextlib.contextmanager
def registered(cls):
    """Register ``cls`` for the duration of a block (tests register throwaway patches)."""
    previous = _REGISTRY.get(cls.code)
    register(cls)
    try:
        yield cls
    finally:
        if previous is None:
            _REGISTRY.pop(cls.code, None)
        else:
            _REGISTRY[cls.code] = previous


def get(code):
    """The patch class registered under ``code``; NotApplicable if there is none."""
    try:
        return _REGISTRY[code]
    except KeyError:
        raise NotApplicable(f"no auto-patch is registered under the code {code!r}") from None


def codes():
    return sorted(_REGISTRY)


def for_error_class(error_class):
    """The patch classes that serve an error class, by code."""
    return [_REGISTRY[code] for code in codes() if error_class in _REGISTRY[code].error_classes]


def watches_only(code):
    """True when ``code`` names a registered patch that only watches (see ``AutoPatch.watch_only``)."""
    patch = _REGISTRY.get(code)
    return bool(patch and patch.watch_only)


def describe_all():
    """Every registered patch as plain data (for the LLM menu, the library check, the UI)."""
    return {code: _REGISTRY[code].describe() for code in codes()}


def describe_error(exc, limit=500):
    """``Type: last line of the message``, short enough for an outcome."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}"[:limit]


def replayed(env, label, operation):
    """``(ok, detail)`` of ``operation()`` run in a savepoint that is always rolled back.

    Whatever the operation raises is the failure the user met; caches built on rolled-back
    data are dropped so the caller sees the database as it is.
    """
    try:
        with contextlib.closing(env.cr.savepoint()):
            detail = operation()
            env.flush_all()
    except Exception as exc:  # noqa: BLE001 - any error is the user's failure coming back
        env.invalidate_all()
        return False, f"{label} still fails: {describe_error(exc)}"
    env.invalidate_all()
    return True, detail or f"{label} succeeds"


@dataclass(frozen=True)
class Diagnosis:
    """What a patch found in the live database about the root cause its guardrail claims.

    ``holds`` is the verdict: False means the fault the text match suggests is not there
    (a look-alike), and the fix must not apply whatever the match score says. ``evidence``
    holds JSON-serialisable facts read from the database (ids, values, paths) so that a human
    and the fix attempt see why; ``rows`` and ``files`` are the blast radius the fix would
    have, counted on the objects found.
    """

    holds: bool
    reason: str
    evidence: dict = field(default_factory=dict)
    rows: int = 0
    files: int = 0

    def as_dict(self):
        return {
            "holds": self.holds,
            "reason": self.reason,
            "evidence": dict(self.evidence),
            "rows": self.rows,
            "files": self.files,
        }


class AutoPatch:
    """One repair, written once, reviewed, and run by the runner only.

    Subclasses declare what they serve and may touch, then implement
    ``applicable``, ``plan``, ``apply`` and ``validate``. Every write goes
    through the context (``ctx``) the runner hands to ``backup``, ``apply``
    and ``rollback``: it refuses anything outside the declared scope and keeps
    a backup of whatever it changes, so ``rollback`` rarely needs overriding.
    """

    code = None
    title = ""
    error_classes = ()
    guardrails = ()
    # name -> {"pattern": full-match regex, "required": bool, "description": str}
    params = {}
    # Groups of parameter names of which at least one must be given.
    one_of = ()
    # Entries are fnmatch patterns or "{param}" placeholders standing for one exact name.
    scope_models = ()
    scope_tables = ()
    scope_files = ()
    risk = "low"
    needs_restart = False
    needs_upgrade = False
    # Accounting, security and the like: a human approves every run.
    critical = False
    # Writes nothing and only watches the fault: the incident stays open while
    # it runs, and healing comes later from the fault staying away.
    watch_only = False
    # Every write keeps an exact pre-image through the context, so rollback restores it.
    reversible = True
    # The user-facing operation ``validate`` re-runs inside the fix's savepoint ("" when
    # none can be replayed: the policy then treats the fix as unverified).
    replays = ""

    @classmethod
    def found_on(cls, evidence):
        """The ids of the objects a diagnosis found the fault on, or None when its evidence names none.

        Telling a recurrence from the same fault on another object needs them: Odoo's text may be
        word for word the same for two broken views, while the fix acted on one of them only.
        """
        return None

    @classmethod
    def check_params(cls, params):
        """The accepted parameters; NotApplicable when they do not fit the declaration."""
        try:
            return patch_params.check_params(cls.params, params, cls.one_of)
        except patch_params.ParamError as exc:
            raise NotApplicable(f"{cls.code}: {exc}") from None

    @classmethod
    def scope(cls, params):
        """The declared scope expanded with the parameters: {"models", "tables", "files"}."""
        return {
            "models": patch_params.expand_scope(cls.scope_models, params),
            "tables": patch_params.expand_scope(cls.scope_tables, params),
            "files": patch_params.expand_scope(cls.scope_files, params),
        }

    @classmethod
    def describe(cls):
        return {
            "code": cls.code,
            "title": cls.title,
            "summary": (cls.__doc__ or cls.title).strip().splitlines()[0],
            "error_classes": list(cls.error_classes),
            "guardrails": list(cls.guardrails),
            "params": {name: dict(spec) for name, spec in cls.params.items()},
            "one_of": [list(group) for group in cls.one_of],
            "risk": cls.risk,
            "critical": cls.critical,
            "watch_only": cls.watch_only,
            "reversible": cls.reversible,
            "replays": cls.replays,
            "needs_restart": cls.needs_restart,
            "needs_upgrade": cls.needs_upgrade,
            "scope": {
                "models": list(cls.scope_models),
                "tables": list(cls.scope_tables),
                "files": list(cls.scope_files),
            },
        }

    def file_allowed(self, env, path, params):
        """``(allowed, reason)`` for a file write; by default the declared patterns decide."""
        real = os.path.realpath(path)
        exact, patterns = patch_params.expand_scope(self.scope_files, params)
        if real in exact or any(fnmatchcase(real, pattern) for pattern in patterns):
            return True, ""
        return False, f"{real} is outside the files {self.code} declares"

    def applicable(self, env, params):
        """``(bool, reason)``: is the fault there, and may this patch fix it? The diagnosis decides."""
        if type(self).diagnose is AutoPatch.diagnose:
            raise NotImplementedError(f"{type(self).__name__} implements neither applicable nor diagnose")
        diagnosis = self.diagnose(env, params)
        return diagnosis.holds, diagnosis.reason

    def diagnose(self, env, params):
        """Read-only: is the claimed root cause really in the live database? A ``Diagnosis``.

        The default wraps ``applicable``; patches override it to return their evidence and
        blast radius (and then ``applicable`` wraps it).
        """
        if type(self).applicable is AutoPatch.applicable:
            raise NotImplementedError(f"{type(self).__name__} implements neither applicable nor diagnose")
        holds, reason = self.applicable(env, params)
        return Diagnosis(bool(holds), reason or "")

    def replay(self, env, params):
        """``(ok, detail)``: re-run the user-facing operation named by ``replays``.

        It normally runs in a savepoint of its own that is always rolled back (``replayed``), so it
        may be called before the fix (it then fails, which is how the tests prove it reproduces the
        fault) and from ``validate`` inside the fix's savepoint (it then must pass). A replay whose
        effect leaves the database (a mail the server accepted, a job's run) keeps it instead, and
        its patch is then not ``reversible``.
        """
        raise NotImplementedError(f"{type(self).__name__} replays nothing")

    def plan(self, env, params):
        """A human-readable preview of what ``apply`` would do. No side effect."""
        raise NotImplementedError

    def backup(self, ctx):
        """Keep anything ``apply`` does not write but a human may want back (writes back up by themselves)."""

    def apply(self, ctx):
        raise NotImplementedError

    def validate(self, ctx):
        """``(ok, detail)``: prove the fault is gone, e.g. by re-running what failed."""
        raise NotImplementedError

    def rollback(self, ctx):
        """Undo ``apply`` from the stored backups (the runner checked they are still valid)."""
        ctx.restore_backups()
