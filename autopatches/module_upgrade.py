"""UNDEFINED_COLUMN: the code declares a stored field whose column the database lacks.

The cure is ``-u <module>``; until someone runs it, the missing columns are
created the way the update would create them (``init_models`` on that one
model), and the outcome says that the full upgrade is still due.
"""

from .base import AutoPatch, register
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

    def applicable(self, env, params):
        model, detail = self._target(env, params)
        if model is None:
            return False, detail
        return True, f"{model._name} ({model._original_module}) lacks column(s) {', '.join(detail)}"

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

    def validate(self, ctx):
        model = ctx.env[ctx.memo["model"]].with_context(active_test=False)
        still_missing = missing_columns(ctx.env, model)
        if still_missing:
            return False, f"{model._table} still lacks {', '.join(still_missing)}"
        # The statement that failed: reading every stored field.
        stored = [name for name, field in model._fields.items() if field.store and field.column_type]
        with ctx.env.cr.savepoint():
            model.search_read([], stored, limit=1)
        return True, f"created {', '.join(ctx.memo['added'])} in {model._table}; reading {model._name} works"
