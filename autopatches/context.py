"""The only door through which an auto-patch writes.

A ``PatchContext`` checks every write against the patch's declared scope
(raising ScopeViolation before anything happens), captures the pre-image,
performs the write, captures the post-image, and stores both in a
``self_healing.backup`` row of the attempt. A write it cannot undo is
refused with IrreversibleWrite.

Files are not transactional, and the backup row commits with the fix: a
process killed between replacing a file and its commit would leave the file
changed and no backup. So before a file is replaced, its pre-image is written
durably (fsync) to a journal entry of the database under the data
directory; the entry goes when the transaction ends (commit or rollback).
An entry still there at the next registry load belongs to a process that
died: ``recover_file_journal`` puts the file back unless the fix had
committed.

A data fix is one transaction: a process killed in its middle leaves
nothing of it, PostgreSQL rolls it back. But nobody would know it ran: so
each run is marked under the same directory while its transaction lasts
(``mark_run``), and ``recover_interrupted_runs`` tells the attempt (or its
incident, when the attempt itself was rolled back) in its chatter that the
run was interrupted, nothing kept, and what to do next.
"""

import base64
import contextlib
import hashlib
import json
import logging
import os
import socket
import stat
import uuid

from odoo import fields
from odoo.tools import SQL, config

from ..engine.patching import params as patch_params
from . import journal
from .errors import IrreversibleWrite, ScopeViolation

_logger = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".json"
RUN_SUFFIX = ".run"

# Field types whose whole value lives in the record's own column.
COLUMN_TYPES = frozenset(
    {
        "boolean",
        "integer",
        "float",
        "monetary",
        "char",
        "text",
        "html",
        "selection",
        "date",
        "datetime",
        "many2one",
        "many2one_reference",
        "reference",
        "json",
        "properties",
    }
)


class FileJournal:
    """Files are not transactional: remember what each write replaced, to undo it in-process.

    An undo only happens while the file still holds what this journal wrote:
    a file changed since belongs to someone else now.
    """

    def __init__(self, cr):
        self._cr = cr
        self._undo = []

    def put(self, path, content, mode=None, token=None):
        """Write (or delete, when ``content`` is None) a file, remembering what was there.

        With a ``token``, the pre-image is first journaled on disk under that
        name, so that a crash before the transaction ends can be undone.
        """
        previous = _read_file(path)
        journal_path = None
        if token is not None:
            journal_path = _write_journal_entry(self._cr.dbname, token, path, previous, _digest(content))
        try:
            _write_file(path, content, mode)
        except BaseException:
            if journal_path is not None:
                _remove(journal_path)
            raise
        entry = (path, previous, _digest(content))
        self._undo.append(entry)
        # If the transaction that made this write rolls back, the file follows it.
        self._cr.postrollback.add(lambda: _undo_entry(entry))
        if journal_path is not None:
            self._cr.postrollback.add(lambda: _remove(journal_path))
            self._cr.postcommit.add(lambda: _remove(journal_path))

    def undo(self):
        while self._undo:
            _undo_entry(self._undo.pop())


def _digest(content):
    return None if content is None else hashlib.sha256(content).hexdigest()


def _undo_entry(entry):
    path, (content, mode), written = entry
    if not os.path.isdir(os.path.dirname(path)):
        return
    if _digest(_read_file(path)[0]) != written:
        return
    _write_file(path, content, mode)


def _read_file(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(), stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None, None


def _write_file(path, content, mode=None):
    """Replace ``path`` atomically and durably; on any failure the file is as it was and no temporary is left."""
    if content is None:
        if os.path.exists(path):
            os.remove(path)
            _sync_directory(os.path.dirname(path))
        return
    temporary = f"{path}.self_healing.tmp"
    try:
        with open(temporary, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise
    _sync_directory(os.path.dirname(path))


def _sync_directory(directory):
    with contextlib.suppress(OSError):
        descriptor = os.open(directory or ".", os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _remove(path):
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def journal_directory(dbname):
    """Where the pre-images of file writes in flight for ``dbname`` are journaled."""
    return os.path.join(config["data_dir"], "self_healing", "file_journal", dbname)


def _write_journal_entry(dbname, token, path, previous, after_digest):
    content, mode = previous
    entry = {
        "token": token,
        "path": path,
        "existed": content is not None,
        "mode": mode,
        "content_b64": base64.b64encode(content).decode() if content is not None else None,
        "after_sha256": after_digest,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": _process_start(os.getpid()),
    }
    directory = journal_directory(dbname)
    os.makedirs(directory, exist_ok=True)
    journal_path = os.path.join(directory, token + JOURNAL_SUFFIX)
    _write_file(journal_path, json.dumps(entry).encode())
    return journal_path


def _process_start(pid):
    """The start time of process ``pid`` in clock ticks since boot, or None: it tells a reused pid apart."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii", errors="replace") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _writer_alive(entry):
    """True while the process that journaled ``entry`` still runs (then its fix is in progress)."""
    if entry.get("host") != socket.gethostname():
        return True  # another host's entry in a shared data directory: that host recovers it
    try:
        with contextlib.suppress(PermissionError):  # refused: the process exists, under another user
            os.kill(int(entry["pid"]), 0)
    except (ProcessLookupError, ValueError, TypeError, KeyError):
        return False
    started = entry.get("started")
    return started is None or _process_start(entry["pid"]) == started


def recover_file_journal(env):
    """Undo the file writes of fixes whose process died before their transaction ended; returns what was done.

    A write whose backup row committed belongs to a fix that succeeded: its
    entry is only dropped. A file changed since the write is left alone.
    """
    directory = journal_directory(env.cr.dbname)
    try:
        names = sorted(name for name in os.listdir(directory) if name.endswith(JOURNAL_SUFFIX))
    except FileNotFoundError:
        return []
    outcomes = []
    for name in names:
        journal_path = os.path.join(directory, name)
        try:
            with open(journal_path, "rb") as handle:
                entry = json.loads(handle.read())
        except (OSError, ValueError):
            continue
        if _writer_alive(entry):
            continue  # a fix in progress in a live process
        claimed = journal_path + ".recovering"
        try:
            os.rename(journal_path, claimed)  # one process recovers an entry, not two
        except FileNotFoundError:
            continue
        env.cr.execute(
            "SELECT 1 FROM self_healing_backup WHERE payload->>'journal_token' = %s LIMIT 1", [entry.get("token")]
        )
        path = entry.get("path")
        if env.cr.fetchone():
            outcome = "committed"
        elif _digest(_read_file(path)[0]) == entry.get("after_sha256"):
            content = base64.b64decode(entry["content_b64"]) if entry.get("existed") else None
            _write_file(path, content, entry.get("mode"))
            outcome = "restored"
        else:
            outcome = "left alone"  # never written, or changed since by someone else
        # Only a restore changes anything; the other outcomes are housekeeping.
        _logger.log(
            logging.WARNING if outcome == "restored" else logging.INFO,
            "file journal: %s write of %s by process %s: %s",
            name,
            path,
            entry.get("pid"),
            outcome,
        )
        _remove(claimed)
        outcomes.append((path, outcome))
    return outcomes


def mark_run(cr, attempt):
    """Mark that ``attempt`` runs in this process until the transaction of ``cr`` ends; the marker's path.

    Without a writable data directory the run goes on unmarked: the marker
    only serves the chatter note after a crash, the fix's safety does not
    depend on it.
    """
    entry = {
        "attempt_id": attempt.id,
        "incident_id": attempt.incident_id.id,
        "autopatch_code": attempt.autopatch_code,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": _process_start(os.getpid()),
        "at": fields.Datetime.to_string(fields.Datetime.now()),
        # Markers are kept per database name: a database dropped and created again under the
        # same name (a test or staging copy) must not be told about the runs of its predecessor.
        "database_uuid": attempt.env["ir.config_parameter"].sudo().get_param("database.uuid"),
    }
    directory = journal_directory(cr.dbname)
    path = os.path.join(directory, f"run-{attempt.id}-{uuid.uuid4().hex}{RUN_SUFFIX}")
    try:
        os.makedirs(directory, exist_ok=True)
        _write_file(path, json.dumps(entry).encode())
    except OSError as exc:
        _logger.warning("fix attempt %s runs unmarked: %s", attempt.id, exc)
        return None
    cr.postcommit.add(lambda: _remove(path))
    cr.postrollback.add(lambda: _remove(path))
    return path


def recover_interrupted_runs(env):
    """Tell the attempts whose run died with its process; returns the ids of the attempts (or incidents) told."""
    directory = journal_directory(env.cr.dbname)
    try:
        names = sorted(name for name in os.listdir(directory) if name.endswith(RUN_SUFFIX))
    except FileNotFoundError:
        return []
    told = []
    database_uuid = env["ir.config_parameter"].sudo().get_param("database.uuid")
    for name in names:
        path = os.path.join(directory, name)
        try:
            with open(path, "rb") as handle:
                entry = json.loads(handle.read())
        except (OSError, ValueError):
            continue
        if entry.get("database_uuid") and entry["database_uuid"] != database_uuid:
            _logger.info("fix-run marker %s belongs to an earlier database of this name: removed", name)
            _remove(path)
            continue
        if _writer_alive(entry):
            continue
        claimed = path + ".recovering"
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            continue
        attempt = env["self_healing.fix.attempt"].sudo().browse(entry.get("attempt_id")).exists()
        incident = env["self_healing.incident"].sudo().browse(entry.get("incident_id")).exists()
        if attempt:
            state = dict(attempt._fields["state"]._description_selection(env)).get(attempt.state, attempt.state)
            attempt.message_post(
                body=env._(
                    "The server process %(pid)s stopped while this fix ran (started %(at)s UTC). Its transaction "
                    "was rolled back: nothing of the fix was kept and nothing needs undoing. The attempt is "
                    "%(state)s again: it can be approved or run again.",
                    pid=entry.get("pid"),
                    at=entry.get("at"),
                    state=state,
                )
            )
            told.append(("attempt", attempt.id))
        elif incident:
            # The attempt was created in the transaction that died: the healing loop starts over.
            incident.message_post(
                body=env._(
                    "The server process %(pid)s stopped while a fix (%(code)s) ran for this incident (started "
                    "%(at)s UTC). Its transaction was rolled back: nothing of the fix was kept, and the incident "
                    "will be examined again.",
                    pid=entry.get("pid"),
                    code=entry.get("autopatch_code"),
                    at=entry.get("at"),
                )
            )
            told.append(("incident", incident.id))
        _logger.log(
            logging.WARNING if attempt or incident else logging.INFO,
            "fix attempt %s was interrupted by the end of process %s",
            entry.get("attempt_id"),
            entry.get("pid"),
        )
        _remove(claimed)
    return told


def _matches_checksum(content, row):
    return hashlib.sha1(content).hexdigest() == row.get("checksum")


class PatchContext:
    """Scoped, journaled writes for one run (or one rollback) of one attempt."""

    def __init__(self, env, patch, params, attempt, backups=None):
        self.env = env
        self.patch = patch
        self.params = params
        self.attempt = attempt
        self.scope = patch.scope(params)
        self.files = FileJournal(env.cr)
        self.notes = []
        self.memo = {}
        self.backups = backups if backups is not None else env["self_healing.backup"]
        self._sequence = max(self.backups.mapped("sequence") or [0])

    # -- scope ---------------------------------------------------------------

    def check_model(self, model_name):
        if not patch_params.in_scope(model_name, self.scope["models"]):
            raise ScopeViolation(f"{self.patch.code} may not write model {model_name}")

    def check_tables(self, tables):
        if not tables:
            raise ScopeViolation(f"{self.patch.code}: a SQL write must name the tables it touches")
        model_tables = {
            self.env[name]._table
            for name in self.env.registry.models
            if patch_params.in_scope(name, self.scope["models"])
        }
        for table in tables:
            if table not in model_tables and not patch_params.in_scope(table, self.scope["tables"]):
                raise ScopeViolation(f"{self.patch.code} may not write table {table}")

    def check_file(self, path):
        allowed, reason = self.patch.file_allowed(self.env, path, self.params)
        if not allowed:
            raise ScopeViolation(f"{self.patch.code} may not write {path}: {reason}")

    # -- writes --------------------------------------------------------------

    # The context is no model: its write/create/unlink call the ORM's on records, there is no super to call.
    def write(self, records, vals, method="orm"):  # pylint: disable=method-required-super
        """Write column fields of ``records``; a rollback puts the stored column values back.

        ``method="sql"`` writes the columns directly, skipping ORM overrides
        (a write that also deletes other rows is refused otherwise).
        """
        if not records:
            return records
        self.check_model(records._name)
        names = list(vals)
        for name in names:
            field = records._fields.get(name)
            if field is None or not field.store or field.inherited or field.type not in COLUMN_TYPES:
                raise IrreversibleWrite(f"{records._name}.{name} is not a plain column; its write cannot be backed up")
        self.env.flush_all()
        table = records._table
        before = journal.row_images(self.env.cr, table, records.ids, names)
        if method == "sql":
            self._sql_write(records, vals)
        else:
            deleted_before = self._deleted_rows()
            records.write(vals)
            self.env.flush_all()
            # A write override that deletes rows elsewhere cannot be undone from this backup.
            swept = sorted(name for name, count in self._deleted_rows().items() if count > deleted_before.get(name, 0))
            if swept:
                raise IrreversibleWrite(
                    f"writing {records._name} also deleted rows of {', '.join(swept)}; use method='sql'"
                )
        self.env.flush_all()
        after = journal.row_images(self.env.cr, table, records.ids, names)
        self._keep(
            "data",
            f"{records._name}({', '.join(map(str, records.ids))}): {', '.join(names)}",
            {
                "op": "write",
                "model": records._name,
                "table": table,
                "fields": names,
                "before": before,
                "after": after,
            },
        )
        return records

    def _deleted_rows(self):
        self.env.cr.execute("SELECT relname, n_tup_del FROM pg_stat_xact_user_tables WHERE n_tup_del > 0")
        return dict(self.env.cr.fetchall())

    def _sql_write(self, records, vals):
        assignments = []
        for name, value in vals.items():
            field = records._fields[name]
            assignments.append(SQL("%s = %s", SQL.identifier(name), field.convert_to_column(value, records)))
        self.env.cr.execute(
            SQL(
                "UPDATE %s SET %s WHERE id = ANY(%s)",
                SQL.identifier(records._table),
                SQL(", ").join(assignments),
                records.ids,
            )
        )
        records.invalidate_recordset(list(vals))
        records.modified(list(vals))

    # No model here either (see write): nothing to call super on.
    def create(self, model_name, vals_list):  # pylint: disable=method-required-super
        self.check_model(model_name)
        records = self.env[model_name].create(vals_list)
        self.env.flush_all()
        after = journal.row_images(self.env.cr, records._table, records.ids)
        self._keep(
            "data",
            f"{model_name}({', '.join(map(str, records.ids))}): created",
            {
                "op": "create",
                "model": model_name,
                "table": records._table,
                "ids": records.ids,
                "after": after,
            },
        )
        return records

    # No model here either (see write): nothing to call super on.
    def unlink(self, records, purge_corrupt_files=False):  # pylint: disable=method-required-super
        """Delete rows that nothing else points to, keeping the rows (and attachment files) to put back.

        For attachments, ``purge_corrupt_files`` also removes stored files whose
        content no longer matches their checksum: the filestore is addressed by
        checksum, so a corrupt file would block writing the good content again.
        """
        if not records:
            return
        self.check_model(records._name)
        self.env.flush_all()
        cr, table, ids = self.env.cr, records._table, records.ids
        referrers = self._referencing_rows(table, ids)
        if referrers:
            raise IrreversibleWrite(
                f"{records._name}({', '.join(map(str, ids))}) is referenced from {', '.join(referrers)}:"
                " deleting it would cascade beyond what the backup keeps"
            )
        cr.execute("SELECT count(*) FROM ir_model_data WHERE model = %s AND res_id = ANY(%s)", [records._name, ids])
        if cr.fetchone()[0]:
            raise IrreversibleWrite(
                f"{records._name}({', '.join(map(str, ids))}) has external ids: module data is not deleted"
            )
        rows = list(journal.row_images(cr, table, ids).values())
        files = {}
        if records._name == "ir.attachment":
            for row in rows:
                if row.get("store_fname"):
                    content, _mode = _read_file(records._full_path(row["store_fname"]))
                    files[row["store_fname"]] = base64.b64encode(content).decode() if content is not None else None
        cr.execute(SQL("DELETE FROM %s WHERE id = ANY(%s)", SQL.identifier(table), ids))
        if purge_corrupt_files:
            for row in rows:
                content_b64 = files.get(row.get("store_fname"))
                if content_b64 is not None and not _matches_checksum(base64.b64decode(content_b64), row):
                    self.files.put(records._full_path(row["store_fname"]), None)
        records.invalidate_model()
        self._keep(
            "data",
            f"{records._name}({', '.join(map(str, ids))}): deleted",
            {
                "op": "delete",
                "model": records._name,
                "table": table,
                "rows": rows,
                "files": files,
            },
        )

    def _referencing_rows(self, table, ids):
        cr = self.env.cr
        cr.execute(
            """
            SELECT cl.relname, att.attname
              FROM pg_constraint con
              JOIN pg_class cl ON cl.oid = con.conrelid
              JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
             WHERE con.contype = 'f' AND con.confrelid = %s::regclass AND array_length(con.conkey, 1) = 1
        """,
            [table],
        )
        found = []
        for referencing_table, column in cr.fetchall():
            cr.execute(
                SQL(
                    "SELECT 1 FROM %s WHERE %s = ANY(%s) LIMIT 1",
                    SQL.identifier(referencing_table),
                    SQL.identifier(column),
                    ids,
                )
            )
            if cr.fetchone():
                found.append(f"{referencing_table}.{column}")
        return found

    def execute(self, statement, params=None, tables=(), undo=None, probe=None, label=None):
        """Run SQL. Without ``undo`` the statement runs read-only (a write fails);
        with it, ``tables`` must be in scope and ``probe`` (a read-only query)
        is kept to notice, before any rollback, that the data moved on."""
        cr = self.env.cr
        statement_parts = journal.sql_parts(statement, params)
        if undo is None:
            return journal.run_probe(cr, statement_parts)
        self.check_tables(tables)
        if probe is None:
            raise IrreversibleWrite("a SQL write needs a probe to detect later changes before a rollback")
        self.env.flush_all()
        probe_parts = journal.sql_parts(probe)
        probe_before = journal.run_probe(cr, probe_parts)
        cr.execute(*statement_parts)
        rows = cr.fetchall() if cr.description else []
        self.env.invalidate_all()
        self._keep(
            "data",
            label or f"SQL on {', '.join(tables)}",
            {
                "op": "sql",
                "tables": list(tables),
                "statement": statement_parts,
                "label": label,
                "undo": journal.sql_parts(undo),
                "probe": probe_parts,
                "probe_before": probe_before,
                "probe_after": journal.run_probe(cr, probe_parts),
            },
        )
        return rows

    def create_missing_columns(self, model_name):
        """Create the missing columns of a model the way a module update does; only its table may change."""
        model = self.env[model_name]
        self.check_tables([model._table])
        cr = self.env.cr
        self.env.flush_all()
        before = self._schema()
        module = model._original_module or "base"
        self.env.registry.init_models(cr, [model_name], {"module": module, "update_custom_fields": True}, install=False)
        after = self._schema()
        added = sorted(after - before)
        outside = sorted({f"{table}.{column}" for table, column in added if table != model._table})
        if outside:
            raise ScopeViolation(f"updating {model_name} also changed {', '.join(outside)}")
        columns = [column for _table, column in added]
        self.env.invalidate_all()
        if columns:
            self._keep(
                "data",
                f"{model._table}: added {', '.join(columns)}",
                {
                    "op": "columns",
                    "model": model_name,
                    "table": model._table,
                    "columns": columns,
                    "digest_after": journal.column_digest(cr, model._table, columns),
                },
            )
        return columns

    def _schema(self):
        self.env.cr.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        )
        return set(self.env.cr.fetchall())

    def write_file(self, path, content):
        path = os.path.realpath(path)
        self.check_file(path)
        if isinstance(content, str):
            content = content.encode("utf-8")
        previous, mode = _read_file(path)
        payload = {
            "op": "file",
            "path": path,
            "existed": previous is not None,
            "mode": mode,
            "content_b64": base64.b64encode(previous).decode() if previous is not None else None,
            "after_sha256": hashlib.sha256(content).hexdigest(),
            "journal_token": uuid.uuid4().hex,
        }
        self.files.put(path, content, mode, token=payload["journal_token"])
        self._keep("file", path, payload)

    def guard(self, label, probe, params=None):
        """Keep a read-only probe whose later change means a rollback is no longer safe."""
        probe_parts = journal.sql_parts(probe, params)
        self._keep(
            "data",
            label,
            {
                "op": "guard",
                "label": label,
                "probe": probe_parts,
                "probe_after": journal.run_probe(self.env.cr, probe_parts),
            },
        )

    def note(self, text):
        self.notes.append(text)

    # -- backups -------------------------------------------------------------

    def _keep(self, kind, target, payload):
        self._sequence += 1
        backup = (
            self.env["self_healing.backup"]
            .sudo()
            .create(
                {
                    "attempt_id": self.attempt.id,
                    "kind": kind,
                    "operation": payload["op"],
                    "sequence": self._sequence,
                    "target": target[:250],
                    "payload": payload,
                }
            )
        )
        self.backups |= backup
        return backup

    def restore_backups(self):
        """Undo every journaled write of the attempt, newest first, once all of them passed the scope checks."""
        for backup in self.backups:
            journal.check_restorable(self, backup.payload)
        for backup in self.backups.sorted("sequence", reverse=True):
            journal.restore(self.env, backup.payload, self.files)
        self.env.flush_all()
        self.env.invalidate_all()
        self.env.registry.clear_all_caches()
