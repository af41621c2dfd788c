"""Pre-images and post-images of what a patch wrote, and how to put them back.

Each journaled write becomes one ``self_healing.backup`` payload (a JSON
dict with an ``op``). Rows are captured as PostgreSQL renders them
(``to_jsonb``) and restored with ``jsonb_populate_recordset``, so a restore
gives back exactly the stored values, whatever their type, without running
ORM constraints that a broken pre-image would fail by definition.

``drift`` compares the database with the post-images: when anything the
patch wrote has changed since, a rollback would overwrite someone else's
work, so it is refused.
"""

import base64
import hashlib
import json
import os
import re

from odoo.tools import SQL

from .errors import ScopeViolation

# The only SQL undo statements the patch context journals: resetting a sequence. A restore
# runs nothing else, whatever a backup row says.
UNDO_SETVAL = re.compile(r"\s*SELECT setval\(%s::regclass, %s, (?:%s|true|false)\)\s*", re.IGNORECASE)
ROW_OPERATIONS = ("write", "create", "delete", "columns")


def _json_safe(value):
    return json.loads(json.dumps(value, default=str))


def sql_parts(statement, params=None):
    """``[code, params]`` for a str or an ``odoo.tools.SQL``, storable as JSON."""
    if statement is None:
        return None
    if isinstance(statement, SQL):
        return [statement.code, _json_safe(list(statement.params))]
    return [statement, _json_safe(list(params or ()))]


def run_probe(cr, probe):
    """The rows a read-only probe returns, JSON-normalised; it runs in a read-only savepoint."""
    code, params = probe
    cr.execute('SAVEPOINT "self_healing_probe"')
    try:
        cr.execute("SET LOCAL transaction_read_only = on")
        cr.execute(code, params)
        rows = cr.fetchall() if cr.description else []
    finally:
        cr.execute('ROLLBACK TO SAVEPOINT "self_healing_probe"')
        cr.execute('RELEASE SAVEPOINT "self_healing_probe"')
    return _json_safe([list(row) for row in rows])


def row_images(cr, table, ids, columns=None):
    """``{str(id): {column: value}}`` as PostgreSQL renders the rows."""
    if not ids:
        return {}
    cr.execute(SQL("SELECT id, to_jsonb(t) FROM %s AS t WHERE id = ANY(%s)", SQL.identifier(table), list(ids)))
    images = {}
    for row_id, row in cr.fetchall():
        if columns is not None:
            row = {column: row.get(column) for column in columns}
        images[str(row_id)] = row
    return images


def table_columns(cr, table):
    cr.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s",
        [table],
    )
    return {name for (name,) in cr.fetchall()}


def restore_columns(cr, table, images):
    """Put back column values captured by ``row_images``."""
    if not images:
        return
    rows = [dict(values, id=int(row_id)) for row_id, values in images.items()]
    columns = sorted({column for row in rows for column in row if column != "id"})
    assignments = SQL(", ").join(SQL("%s = r.%s", SQL.identifier(column), SQL.identifier(column)) for column in columns)
    cr.execute(
        SQL(
            "UPDATE %s AS t SET %s FROM jsonb_populate_recordset(NULL::%s, %s::jsonb) AS r WHERE t.id = r.id",
            SQL.identifier(table),
            assignments,
            SQL.identifier(table),
            json.dumps(rows),
        )
    )


def insert_rows(cr, table, rows):
    """Re-insert whole rows captured with ``to_jsonb`` (ids included)."""
    if not rows:
        return
    cr.execute(
        SQL(
            "INSERT INTO %s SELECT * FROM jsonb_populate_recordset(NULL::%s, %s::jsonb)",
            SQL.identifier(table),
            SQL.identifier(table),
            json.dumps(rows),
        )
    )


def column_digest(cr, table, columns):
    """A digest of the content of some columns, to notice any later change."""
    values = SQL(", ").join(SQL.identifier(column) for column in columns)
    cr.execute(
        SQL(
            "SELECT md5(coalesce(string_agg(ROW(%s)::text, ',' ORDER BY id), '')) FROM %s",
            values,
            SQL.identifier(table),
        )
    )
    return cr.fetchone()[0]


def file_sha256(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return None


def drift(env, payloads):
    """Sentences naming what changed since the patch wrote it; empty when a rollback is safe."""
    cr = env.cr
    env.flush_all()
    expected = {}  # (table, id) -> {column: value}
    deleted = {}  # table -> ids
    probes = {}  # probe key -> (label, value)
    reasons = []
    for payload in payloads:
        op = payload["op"]
        if op == "write":
            for row_id, values in payload["after"].items():
                expected.setdefault((payload["table"], row_id), {}).update(values)
        elif op == "create":
            for row_id, values in payload["after"].items():
                expected.setdefault((payload["table"], row_id), {}).update(values)
        elif op == "delete":
            deleted.setdefault(payload["table"], set()).update(str(row["id"]) for row in payload["rows"])
        elif op in ("sql", "guard"):
            if payload.get("probe"):
                key = json.dumps(payload["probe"])
                probes[key] = (payload.get("label") or payload["statement"][0], payload["probe_after"])
        elif op == "columns":
            present = table_columns(cr, payload["table"])
            missing = [column for column in payload["columns"] if column not in present]
            if missing:
                reasons.append(f"columns {', '.join(missing)} of {payload['table']} were dropped since")
            elif column_digest(cr, payload["table"], payload["columns"]) != payload["digest_after"]:
                reasons.append(
                    f"data was written into {payload['table']}.{', '.join(payload['columns'])} since;"
                    " dropping the columns would lose it"
                )
        elif op == "file":
            if file_sha256(payload["path"]) != payload["after_sha256"]:
                reasons.append(f"{payload['path']} was changed since")
    by_table = {}
    for (table, row_id), values in expected.items():
        by_table.setdefault(table, {})[row_id] = values
    for table, rows in by_table.items():
        current = row_images(cr, table, [int(row_id) for row_id in rows])
        for row_id, values in rows.items():
            if row_id not in current:
                reasons.append(f"{table} row {row_id} was deleted since")
                continue
            changed = sorted(column for column, value in values.items() if current[row_id].get(column) != value)
            if changed:
                reasons.append(f"{table} row {row_id} changed since ({', '.join(changed)})")
    for table, ids in deleted.items():
        back = row_images(cr, table, [int(row_id) for row_id in ids])
        if back:
            reasons.append(f"{table} rows {', '.join(sorted(back))} exist again")
    for key, (label, value) in probes.items():
        if run_probe(cr, json.loads(key)) != value:
            reasons.append(f"{label} moved on since")
    return reasons


def check_restorable(ctx, payload):
    """Refuse (ScopeViolation) a backup whose restore would reach outside the patch's declared scope.

    The patch context checked every write against the scope when it made it; the same
    checks run again here so that a backup row changed since cannot widen what a rollback does.
    """
    env = ctx.env
    op = payload.get("op") if isinstance(payload, dict) else None
    code = ctx.patch.code
    if op in ROW_OPERATIONS:
        model_name, table = payload.get("model"), payload.get("table")
        if model_name not in env.registry.models:
            raise ScopeViolation(f"{code}: the backup names an unknown model {model_name!r}")
        model = env[model_name]
        if op == "columns":
            ctx.check_tables([table])
        else:
            ctx.check_model(model_name)
        if table is not None and table != model._table:
            raise ScopeViolation(f"{code}: the backup names table {table!r}, which is not the table of {model_name}")
    elif op == "sql":
        tables = payload.get("tables") or []
        ctx.check_tables(tables)
        _check_undo(ctx, payload.get("undo"), tables)
    elif op == "file":
        path = payload.get("path")
        if not isinstance(path, str) or os.path.realpath(path) != path:
            raise ScopeViolation(f"{code}: the backup names a file path that is not canonical: {path!r}")
        ctx.check_file(path)
    elif op != "guard":
        raise ScopeViolation(f"{code}: unknown backup operation {op!r}")


def _check_undo(ctx, undo, tables):
    code = ctx.patch.code
    if not (isinstance(undo, list) and len(undo) == 2 and isinstance(undo[0], str) and isinstance(undo[1], list)):
        raise ScopeViolation(f"{code}: the backup's undo statement is unreadable")
    statement, params = undo
    if not UNDO_SETVAL.fullmatch(statement) or not params or not isinstance(params[0], str):
        raise ScopeViolation(f"{code}: the backup's undo statement is not one the patch context journals")
    # The sequence must be one of the declared tables, or owned by one of them (a serial id).
    cr = ctx.env.cr
    cr.execute(
        """
        SELECT 1 FROM pg_class s
         WHERE s.oid = to_regclass(%s) AND s.relkind = 'S'
           AND (s.relname = ANY(%s) OR EXISTS (
                SELECT 1 FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                   AND d.objid = s.oid AND t.relname = ANY(%s)))
        """,
        [params[0], list(tables), list(tables)],
    )
    if not cr.fetchone():
        raise ScopeViolation(f"{code}: the backup's undo statement resets {params[0]!r}, outside {', '.join(tables)}")


def restore(env, payload, files):
    """Undo one journaled write. ``files`` is the context's file journal (files are not transactional)."""
    cr = env.cr
    op = payload["op"]
    if op == "write":
        env.flush_all()
        restore_columns(cr, payload["table"], payload["before"])
        _touched(env, payload["model"], [int(row_id) for row_id in payload["before"]], payload["fields"])
    elif op == "create":
        records = env[payload["model"]].sudo().with_context(active_test=False).browse(payload["ids"]).exists()
        records.unlink()
    elif op == "delete":
        env.flush_all()
        insert_rows(cr, payload["table"], payload["rows"])
        _restore_filestore(env, payload.get("files") or {})
        env[payload["model"]].invalidate_model()
    elif op == "sql":
        env.flush_all()
        code, params = payload["undo"]
        cr.execute(code, params)
        env.invalidate_all()
    elif op == "columns":
        env.flush_all()
        for column in payload["columns"]:
            cr.execute(
                SQL("ALTER TABLE %s DROP COLUMN IF EXISTS %s", SQL.identifier(payload["table"]), SQL.identifier(column))
            )
        env.invalidate_all()
    elif op == "file":
        content = base64.b64decode(payload["content_b64"]) if payload["existed"] else None
        files.put(payload["path"], content, payload.get("mode"))
    elif op != "guard":
        raise ValueError(f"unknown backup operation {op!r}")


def _touched(env, model_name, ids, field_names):
    records = env[model_name].browse(ids)
    records.invalidate_recordset(field_names)
    records.modified(field_names)


def _restore_filestore(env, files):
    """Put back attachment files that are gone; a file still there belongs to a live attachment."""
    attachments = env["ir.attachment"]
    for store_fname, content_b64 in files.items():
        if content_b64 is None:
            continue
        path = attachments._full_path(store_fname)
        if os.path.exists(path):
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(content_b64))
