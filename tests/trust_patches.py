"""The shipped sequence_resync with its declarations varied, for tests of the decision.

One subclass really replays the user's failing insert in its validation, one declares no
replay, one counts a wide blast radius. They are registered only for the block of
``guardrail_patch``, which points the shipped guardrail GR-SEQ-001 at them.
"""

import contextlib

from odoo.tools import SQL

from ..autopatches import base as autopatch_base
from ..autopatches.sequence_resync import SequenceResync, sequence_state


class _UndoReplay(Exception):
    """Raised inside the replay's savepoint so that the replayed insert leaves nothing behind."""


class ReplayedSequenceResync(SequenceResync):
    """sequence_resync whose validation replays what failed for the user: an insert into the table."""

    code = "test_replayed_resync"
    guardrails = ("GR-SEQ-001",)
    replays = "insert a row into the table, as the user's create did"

    def validate(self, ctx):
        ok, detail = super().validate(ctx)
        if not ok:
            return ok, detail
        cr = ctx.env.cr
        # An insert draws from the sequence even when rolled back: put it back where the fix left it,
        # or the fix's rollback would see a sequence that moved on.
        before = sequence_state(cr, ctx.params["table"])
        with contextlib.suppress(_UndoReplay), cr.savepoint():
            cr.execute(
                SQL(
                    "INSERT INTO %s (name) VALUES (%s) RETURNING id",
                    SQL.identifier(ctx.params["table"]),
                    '{"en_US": "replayed"}',
                )
            )
            replayed = cr.fetchone()[0]
            raise _UndoReplay
        cr.execute("SELECT setval(%s::regclass, %s, true)", [before["sequence"], before["last_value"]])
        return True, f"{detail}; the replayed insert got id {replayed}"


class UnreplayedSequenceResync(SequenceResync):
    code = "test_unreplayed_resync"
    guardrails = ("GR-SEQ-001",)
    replays = ""


class WideSequenceResync(ReplayedSequenceResync):
    """The replayed patch, with a diagnosis that counts a blast radius past what runs alone."""

    code = "test_wide_resync"

    def diagnose(self, env, params):
        found = super().diagnose(env, params)
        return autopatch_base.Diagnosis(found.holds, found.reason, rows=300)


@contextlib.contextmanager
def guardrail_patch(env, patch_class, code="GR-SEQ-001"):
    """Point a shipped guardrail at ``patch_class`` for the duration of a block."""
    with autopatch_base.registered(patch_class):
        guardrail = env["self_healing.guardrail"].search([("code", "=", code)])
        previous = guardrail.autopatch_code
        guardrail.autopatch_code = patch_class.code
        try:
            yield guardrail
        finally:
            guardrail.autopatch_code = previous
