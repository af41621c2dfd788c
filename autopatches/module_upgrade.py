"""UNDEFINED_COLUMN: the code declares a stored field whose column the database lacks.

The cure is ``-u <module>``; until someone runs it, the missing columns are
created the way the update would create them (``init_models`` on that one
model), and the outcome says that the full upgrade is still due.
"""

from .base import AutoPatch, Diagnosis, register, replayed
from .journal import table_columns
from .sequence_resync import TABLE_PATTERN


def model_of_table(env, table):
    """The registry model stored in ``table`` (not abstract, not a SQL view), or None."""
    for name, model_class in env.registry.items():
        if model_class._table == table and model_class._auto and not model_class._abstract:
            return env[name]
    return None


def missing_columns(env, model):
    """{column: SQL type} of the model's stored column fields that the table lacks."""
    present = table_columns(env.cr, model._table)
    return {
        name: field.column_type[1]
        for name, field in model._fields.items()
        if field.store and field.column_type and name not in present
    }


@register
class ModuleUpgrade(AutoPatch):
    """Create a model's missing columns as a module update would, and ask for the full upgrade."""

    code = "module_upgrade"
    title = "Create missing columns of a model"
    error_classes = ("UNDEFINED_COLUMN",)
    guardrails = ("GR-COL-001", "GR-COL-002")
    params = {
        "table": {
            "pattern": TABLE_PATTERN,
            "required": True,
            "description": "Table named in 'column <table>.<column> does not exist'.",
        },
        "column": {"pattern": TABLE_PATTERN, "required": True, "description": "The missing column."},
    }
    scope_tables = ("{table}",)
    risk = "medium"
    needs_upgrade = True
    replays = "reading every stored field of the model (the SELECT that met the missing column)"

    def _target(self, env, params):
        model = model_of_table(env, params["table"])
        if model is None:
            return None, f"no installed model is stored in table {params['table']}"
        field = model._fields.get(params["column"])
        if field is None or not field.store or not field.column_type:
            return None, f"{model._name} declares no stored field {params['column']}: an upgrade would not create it"
        missing = missing_columns(env, model)
        if params["column"] not in missing:
            return None, f"column {params['table']}.{params['column']} exists"
        return model, missing

    def diagnose(self, env, params):
        table, column = params["table"], params["column"]
        evidence = {"table": table, "column": column, "column_in_table": column in table_columns(env.cr, table)}
        model = model_of_table(env, table)
        if model is not None:
            declared = (
                env["ir.model.fields"]
                .sudo()
                .search_read([("model", "=", model._name), ("name", "=", column)], ["store", "ttype"], limit=1)
            )
            evidence.update(
                model=model._name,
                module=model._original_module,
                declared_in_ir_model_fields=bool(declared and declared[0]["store"]),
            )
        target, detail = self._target(env, params)
        if target is None:
            return Diagnosis(False, detail, evidence)
        evidence["missing"] = detail
        return Diagnosis(
            True,
            f"{target._name} ({target._original_module}) declares stored field(s) {', '.join(detail)}"
            f" that {table} lacks"
            + ("" if evidence["declared_in_ir_model_fields"] else " (new code not yet reflected by an upgrade)"),
            evidence,
            rows=len(detail),
        )

    def plan(self, env, params):
        model, detail = self._target(env, params)
        if model is None:
            return f"Nothing to do: {detail}."
        lines = [f"Model {model._name} of module {model._original_module}, table {model._table}:"]
        lines += [f"  ALTER TABLE {model._table} ADD COLUMN {column} {sql_type}" for column, sql_type in detail.items()]
        lines.append("(through init_models, as '-u' does, so defaults, indexes and constraints follow)")
        lines.append(f"Still recommended afterwards: odoo-bin -u {model._original_module}")
        lines.append("Rollback drops exactly these columns, refused once data was written into them.")
        return "\n".join(lines)

    def apply(self, ctx):
        model, _missing = self._target(ctx.env, ctx.params)
        added = ctx.create_missing_columns(model._name)
        ctx.memo.update(model=model._name, added=added)
        ctx.note(
            f"Run '-u {model._original_module}' at the next maintenance window: only the columns of"
            f" {model._name} were created, other changes of the module's new code are not applied yet."
        )

    def replay(self, env, params):
        """The statement that failed: reading every stored field of the model."""
        model = model_of_table(env, params["table"])
        if model is None:
            return False, f"no installed model is stored in table {params['table']}"
        model = model.with_context(active_test=False)
        stored = [name for name, field in model._fields.items() if field.store and field.column_type]

        def read():
            rows = model.search_read([], stored, limit=1)
            return f"reading {model._name} works ({len(stored)} stored fields, {len(rows)} row read)"

        return replayed(env, f"reading {model._name}", read)

    def validate(self, ctx):
        model = ctx.env[ctx.memo["model"]].with_context(active_test=False)
        still_missing = missing_columns(ctx.env, model)
        if still_missing:
            return False, f"{model._table} still lacks {', '.join(still_missing)}"
        ok, detail = self.replay(ctx.env, ctx.params)
        return ok, (f"created {', '.join(ctx.memo['added'])} in {model._table}; " + detail) if ok else detail
