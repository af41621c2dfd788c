"""ACCOUNT_SEQUENCE: business numbering (an ir.sequence) lags behind numbers already used.

Invoices, orders and any record numbered by an ``ir.sequence`` collide once
the sequence hands out a number that already exists (after an import, a
restore, or a manual renumbering). The repair moves the sequence's next
number past the highest number found in the numbered field. It is written
for any sequence and (model, field) pair; for accounting it is critical, so
a human approves every run.
"""

import re

from odoo import fields
from odoo.tools import SQL

from .base import AutoPatch, Diagnosis, register, replayed

MODEL_PATTERN = r"[a-z0-9_]+(\.[a-z0-9_]+)*"


def _like_escape(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def numbering(env, params):
    """Where the numbering stands, as a dict, or a sentence saying why it cannot be read."""
    sequences = env["ir.sequence"].with_context(active_test=False)
    if params.get("sequence_id"):
        sequence = sequences.browse(int(params["sequence_id"])).exists()
    else:
        sequence = sequences.search([("code", "=", params["sequence_code"])], limit=2)
    if len(sequence) != 1:
        return "no single sequence matches " + str(params.get("sequence_id") or params.get("sequence_code"))
    model_name, field_name = params["model"], params["field"]
    if model_name not in env:
        return f"model {model_name} is not installed"
    field = env[model_name]._fields.get(field_name)
    if field is None or not field.store or field.type not in ("char", "text"):
        return f"{model_name}.{field_name} is not a stored text field"
    target = sequence
    if sequence.use_date_range:
        today = fields.Date.context_today(sequence)
        target = env["ir.sequence.date_range"].search(
            [("sequence_id", "=", sequence.id), ("date_from", "<=", today), ("date_to", ">=", today)], limit=1
        )
        if not target:
            return f"sequence {sequence.name!r} has no date range for today yet: its numbering starts afresh"
        sequence = sequence.with_context(ir_sequence_date_range=target.date_from)
    prefix, suffix = sequence._get_prefix_suffix()
    pattern = re.compile(re.escape(prefix) + r"(\d+)" + re.escape(suffix))
    rows = (
        env[model_name]
        .with_context(active_test=False)
        .search_read([(field_name, "=like", _like_escape(prefix) + "%" + _like_escape(suffix))], [field_name])
    )
    numbers = [int(match.group(1)) for row in rows if (match := pattern.fullmatch(row[field_name] or ""))]
    target.invalidate_recordset(["number_next_actual"])
    pg_sequence = "ir_sequence_%03d" % sequence.id
    if target._name == "ir.sequence.date_range":
        pg_sequence += "_%03d" % target.id
    return {
        "sequence": sequence,
        "target": target,
        "prefix": prefix,
        "suffix": suffix,
        "highest": max(numbers, default=0),
        "next": target.number_next_actual,
        "increment": sequence.number_increment or 1,
        "pg_sequence": pg_sequence,
        "standard": sequence.implementation == "standard",
    }


@register
class SequenceNumberResync(AutoPatch):
    """Move a numbering sequence past the highest number already used, so new numbers stop colliding."""

    code = "sequence_number_resync"
    title = "Resynchronise a numbering sequence"
    error_classes = ("ACCOUNT_SEQUENCE",)
    guardrails = ("GR-ACS-002",)
    params = {
        "sequence_id": {"pattern": r"\d{1,10}", "required": False, "description": "Id of the ir.sequence."},
        "sequence_code": {"pattern": r"[\w.\-/]{1,64}", "required": False, "description": "Code of the ir.sequence."},
        "model": {"pattern": MODEL_PATTERN, "required": True, "description": "Model whose records carry the numbers."},
        "field": {
            "pattern": r"[a-z0-9_]{1,64}",
            "required": True,
            "description": "Field holding the number, e.g. name.",
        },
    }
    one_of = (("sequence_id", "sequence_code"),)
    scope_models = ("ir.sequence", "ir.sequence.date_range")
    scope_tables = ("ir_sequence_[0-9]*",)
    risk = "high"
    critical = True
    replays = "drawing the next number as a new document does, looked up in the numbered field (given back)"

    def diagnose(self, env, params):
        state = numbering(env, params)
        if isinstance(state, str):
            return Diagnosis(False, state, {key: params.get(key) for key in ("sequence_id", "sequence_code")})
        following = self._format(state, state["next"])
        model, field = params["model"], params["field"]
        taken = env[model].with_context(active_test=False).search_count([(field, "=", following)])
        evidence = {
            "sequence_id": state["sequence"].id,
            "implementation": state["sequence"].implementation,
            "next": state["next"],
            "next_number": following,
            "highest_used": state["highest"],
            "highest_number": self._format(state, state["highest"]),
            "next_number_taken": bool(taken),
            "numbered": f"{model}.{field}",
        }
        if state["next"] > state["highest"]:
            return Diagnosis(
                False, f"the next number {state['next']} is already past the highest used {state['highest']}", evidence
            )
        return Diagnosis(
            True,
            f"the next number {following!r} is not past the highest used {evidence['highest_number']!r}",
            evidence,
            rows=1,
        )

    def _format(self, state, number):
        return state["prefix"] + "%%0%sd" % state["sequence"].padding % number + state["suffix"]

    def plan(self, env, params):
        state = numbering(env, params)
        if isinstance(state, str):
            return f"Nothing to do: {state}."
        new = state["highest"] + state["increment"]
        return (
            f"Sequence #{state['sequence'].id} {state['sequence'].name!r} ({state['sequence'].implementation}):"
            f" next number {state['next']} ({self._format(state, state['next'])!r}), but"
            f" {params['model']}.{params['field']} already uses up to {self._format(state, state['highest'])!r}.\n"
            f"Set the next number to {new} ({self._format(state, new)!r}); numbers in between stay unused.\n"
            "Critical: numbering of legal documents; a human approves this fix."
        )

    def apply(self, ctx):
        state = numbering(ctx.env, ctx.params)
        new = state["highest"] + state["increment"]
        ctx.memo["expected"] = new
        if state["standard"]:
            # The truth of a standard sequence is its PostgreSQL sequence, not the number_next column.
            cr = ctx.env.cr
            cr.execute(SQL("SELECT last_value, is_called FROM %s", SQL.identifier(state["pg_sequence"])))
            last_value, is_called = cr.fetchone()
            ctx.execute(
                SQL("SELECT setval(%s::regclass, %s, false)", state["pg_sequence"], new),
                tables=(state["pg_sequence"],),
                undo=SQL("SELECT setval(%s::regclass, %s, %s)", state["pg_sequence"], last_value, is_called),
                probe=SQL("SELECT last_value, is_called FROM %s", SQL.identifier(state["pg_sequence"])),
                label=f"{state['pg_sequence']} restarted at {new}",
            )
        else:
            ctx.write(state["target"], {"number_next": new})

    def replay(self, env, params):
        """Draw the next number as a new document does and look it up; the draw is given back."""
        state = numbering(env, params)
        if isinstance(state, str):
            return False, state
        model, field = params["model"], params["field"]
        cr = env.cr
        pg_sequence = SQL.identifier(state["pg_sequence"])
        if state["standard"]:
            cr.execute(SQL("SELECT last_value, is_called FROM %s", pg_sequence))
            last_value, is_called = cr.fetchone()

        def draw():
            try:
                number = state["sequence"]._next()
            finally:
                # A standard sequence ignores the savepoint's rollback: give the draw back unless
                # another transaction drew after it.
                if state["standard"]:
                    cr.execute(SQL("SELECT last_value FROM %s", pg_sequence))
                    drawn = cr.fetchone()[0]
                    cr.execute(
                        SQL(
                            "SELECT setval(%s::regclass, %s, %s) FROM %s WHERE last_value = %s",
                            state["pg_sequence"],
                            last_value,
                            is_called,
                            pg_sequence,
                            drawn,
                        )
                    )
            if env[model].with_context(active_test=False).search_count([(field, "=", number)]):
                raise ValueError(f"the next number {number!r} is already used in {model}.{field}")
            return f"a new {model} gets the free number {number!r}"

        return replayed(env, "drawing the next number", draw)

    def validate(self, ctx):
        state = numbering(ctx.env, ctx.params)
        if state["next"] <= state["highest"]:
            return False, f"the next number {state['next']} still collides (highest used {state['highest']})"
        return self.replay(ctx.env, ctx.params)
