"""SEQ_PKEY_DRIFT: a table's id sequence lags behind max(id), so inserts hit the primary key."""

from odoo.tools import SQL

from .base import AutoPatch, Diagnosis, register

TABLE_PATTERN = r"[a-z_][a-z0-9_]{0,62}"


def sequence_state(cr, table):
    """The id sequence of ``table`` and where it stands, or None when there is none."""
    cr.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
    if not cr.fetchone()[0]:
        return None
    cr.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cr.fetchone()[0]
    if not sequence:
        return None
    cr.execute(
        "SELECT seqincrement, seqstart, pg_sequence_last_value(seqrelid)"
        " FROM pg_sequence WHERE seqrelid = %s::regclass",
        [sequence],
    )
    increment, start, last_value = cr.fetchone()
    cr.execute(SQL("SELECT max(id) FROM %s", SQL.identifier(table)))
    max_id = cr.fetchone()[0] or 0
    next_id = start if last_value is None else last_value + increment
    return {
        "sequence": sequence,
        "last_value": last_value,
        "start": start,
        "increment": increment,
        "max_id": max_id,
        "next_id": next_id,
    }


@register
class SequenceResync(AutoPatch):
    """Move a table's id sequence past max(id) so new rows get free ids."""

    code = "sequence_resync"
    title = "Resynchronise an id sequence"
    error_classes = ("SEQ_PKEY_DRIFT",)
    guardrails = ("GR-SEQ-001", "GR-SEQ-002")
    params = {
        "table": {
            "pattern": TABLE_PATTERN,
            "required": True,
            "description": "Table whose <table>_pkey was violated, e.g. res_partner.",
        },
    }
    scope_tables = ("{table}",)
    risk = "low"
    replays = "the id draw of an insert: nextval of the sequence, checked free in the table (the draw is given back)"

    def diagnose(self, env, params):
        table = params["table"]
        state = sequence_state(env.cr, table)
        if state is None:
            return Diagnosis(False, f"table {table} does not exist or has no id sequence", {"table": table})
        evidence = {"table": table, **state}
        if state["increment"] <= 0:
            return Diagnosis(
                False, f"{state['sequence']} counts down; only ascending sequences are resynchronised", evidence
            )
        if state["next_id"] > state["max_id"]:
            return Diagnosis(
                False,
                f"{state['sequence']} already hands out {state['next_id']}, past max(id) {state['max_id']}",
                evidence,
            )
        env.cr.execute(SQL("SELECT count(*) FROM %s WHERE id >= %s", SQL.identifier(table), state["next_id"]))
        evidence["ids_ahead"] = env.cr.fetchone()[0]
        return Diagnosis(
            True,
            f"{state['sequence']} would hand out {state['next_id']} but max(id) is {state['max_id']}"
            f" ({evidence['ids_ahead']} existing id(s) lie ahead of it)",
            evidence,
            rows=1,
        )

    def plan(self, env, params):
        state = sequence_state(env.cr, params["table"])
        if state is None:
            return f"Nothing to do: {params['table']} has no id sequence."
        return (
            f"Table {params['table']}: max(id) = {state['max_id']}, "
            f"{state['sequence']} next value = {state['next_id']}.\n"
            f"SELECT setval('{state['sequence']}', {state['max_id']}, true)"
            f"  -> next id {state['max_id'] + state['increment']}\n"
            f"Undo: setval back to {state['last_value'] if state['last_value'] is not None else state['start']}"
            f" ({'called' if state['last_value'] is not None else 'not called'})."
        )

    def apply(self, ctx):
        table = ctx.params["table"]
        state = sequence_state(ctx.env.cr, table)
        if state["last_value"] is None:
            undo = SQL("SELECT setval(%s::regclass, %s, false)", state["sequence"], state["start"])
        else:
            undo = SQL("SELECT setval(%s::regclass, %s, true)", state["sequence"], state["last_value"])
        ctx.execute(
            SQL("SELECT setval(%s::regclass, %s, true)", state["sequence"], state["max_id"]),
            tables=(table,),
            undo=undo,
            probe=SQL("SELECT pg_sequence_last_value(%s::regclass)", state["sequence"]),
            label=f"{state['sequence']} moved to {state['max_id']}",
        )

    def replay(self, env, params):
        """The id draw of an insert: nextval, then is that id free? The drawn id is given back."""
        table = params["table"]
        state = sequence_state(env.cr, table)
        if state is None:
            return False, f"{table} has no id sequence to draw from"
        cr = env.cr
        cr.execute("SELECT nextval(%s::regclass)", [state["sequence"]])
        drawn = cr.fetchone()[0]
        # Sequences ignore rollbacks: put it back unless another transaction drew after us meanwhile.
        if state["last_value"] is None:
            cr.execute(
                "SELECT setval(%s::regclass, %s, false) WHERE pg_sequence_last_value(%s::regclass) = %s",
                [state["sequence"], state["start"], state["sequence"], drawn],
            )
        else:
            cr.execute(
                "SELECT setval(%s::regclass, %s, true) WHERE pg_sequence_last_value(%s::regclass) = %s",
                [state["sequence"], state["last_value"], state["sequence"], drawn],
            )
        cr.execute(SQL("SELECT 1 FROM %s WHERE id = %s", SQL.identifier(table), drawn))
        if cr.fetchone():
            return (
                False,
                f"an insert into {table} still collides: {state['sequence']} hands out id {drawn}, already used",
            )
        return True, f"an insert into {table} gets the free id {drawn}"

    def validate(self, ctx):
        state = sequence_state(ctx.env.cr, ctx.params["table"])
        if state["next_id"] <= state["max_id"]:
            return False, f"{state['sequence']} still hands out {state['next_id']} <= max(id) {state['max_id']}"
        return self.replay(ctx.env, ctx.params)
