import logging

from odoo import api, models

from ..engine.library import knowledge_import

_logger = logging.getLogger(__name__)

# Row attribute -> entry field, for the columns an update may change.
ROW_FIELDS = {
    "key": "key",
    "title": "name",
    "problem": "problem",
    "solution": "solution",
    "url": "url",
    "odoo_versions": "odoo_versions",
    "tags": "tags",
    "source": "source",
    "error_class": "error_class",
    "guardrail": "guardrail_id",
    "confirmed_by": "confirmed_by",
}


class SelfHealingKnowledgeEntryImport(models.Model):
    """Solved cases from JSON Lines and CSV files, imported idempotently by key or URL."""

    _inherit = "self_healing.knowledge.entry"

    @api.model
    def _import_knowledge_file(self, content, filename=None, fmt=None):
        """Import a file; returns the summary (see ``_upsert_rows``) with the file's errors.

        Raises ``knowledge_import.ImportFileError`` when the file as a whole
        cannot be read.
        """
        parsed = knowledge_import.parse_file(content, filename=filename, fmt=fmt)
        summary = self._upsert_rows(parsed.rows)
        errors = sorted(parsed.errors + summary.pop("row_errors"), key=lambda error: error.line)
        summary.update(
            format=parsed.format,
            errors=[{"line": error.line, "reason": error.reason} for error in errors],
            ignored_columns=list(parsed.ignored_columns),
        )
        _logger.info(
            "knowledge import of %s: %d created, %d updated, %d unchanged, %d rejected",
            filename or "a file",
            summary["created"],
            summary["updated"],
            summary["skipped"],
            len(errors),
        )
        return summary

    @api.model
    def _upsert_rows(self, rows):
        """Create or update one entry per ``KnowledgeRow``.

        An existing entry is found by the row's key, else by its URL. Only
        the columns the row gives a value for are written, and an entry whose
        values already equal the row's is left untouched (``skipped``).
        Returns ``{created, updated, skipped, entry_ids, row_errors}``.
        """
        row_errors = []
        codes = sorted({row.guardrail for row in rows if row.guardrail})
        guardrail_ids = {
            guardrail.code: guardrail.id
            for guardrail in self.env["self_healing.guardrail"]
            .with_context(active_test=False)
            .search([("code", "in", codes)])
        }
        known_rows = []
        for row in rows:
            if row.guardrail and row.guardrail not in guardrail_ids:
                row_errors.append(knowledge_import.RowError(row.line, f"unknown guardrail {row.guardrail}"))
            else:
                known_rows.append(row)
        everything = self.with_context(active_test=False)
        keys = [row.key for row in known_rows]
        urls = [row.url for row in known_rows if row.url]
        existing = everything.search(["|", ("key", "in", keys), ("url", "in", urls)]) if keys else everything
        by_key = {entry.key: entry for entry in existing if entry.key}
        by_url = {entry.url: entry for entry in existing if entry.url}
        claimed = {}  # entry id -> line of the row that updates it
        to_create, created_lines = [], []
        updated = skipped = 0
        touched = everything
        for row in known_rows:
            values = self._values_from_row(row, guardrail_ids)
            entry = by_key.get(row.key) or (row.url and by_url.get(row.url))
            if not entry:
                to_create.append(values)
                created_lines.append(row.line)
                continue
            if entry.id in claimed:
                row_errors.append(
                    knowledge_import.RowError(
                        row.line, f"updates the same entry as line {claimed[entry.id]} (key or url)"
                    )
                )
                continue
            claimed[entry.id] = row.line
            changes = self._changed_values(entry, values, row)
            if changes:
                entry.write(changes)
                updated += 1
            else:
                skipped += 1
            touched |= entry
        created = self._create_rows(to_create, created_lines, row_errors)
        return {
            "created": len(created),
            "updated": updated,
            "skipped": skipped,
            "entry_ids": (touched | created).ids,
            "row_errors": row_errors,
        }

    @api.model
    def _values_from_row(self, row, guardrail_ids):
        return {
            "key": row.key,
            "name": row.title,
            "problem": row.problem,
            "solution": row.solution or False,
            "url": row.url or False,
            "odoo_versions": ",".join(row.odoo_versions) or False,
            "tags": ", ".join(row.tags) or False,
            "source": row.source,
            "error_class": row.error_class or False,
            "guardrail_id": guardrail_ids.get(row.guardrail, False),
            "confirmed_by": row.confirmed_by or False,
        }

    @api.model
    def _changed_values(self, entry, values, row):
        changes = {}
        for column, field_name in ROW_FIELDS.items():
            if column not in row.provided and column not in ("title", "problem"):
                continue
            current = entry[field_name]
            current = current.id if field_name == "guardrail_id" else current
            if (current or False) != (values[field_name] or False):
                changes[field_name] = values[field_name]
        return changes

    @api.model
    def _create_rows(self, values_list, lines, row_errors):
        """Create in one batch; if the database refuses it, row by row to name the culprits."""
        if not values_list:
            return self.browse()
        try:
            with self.env.cr.savepoint():
                return self.create(values_list)
        except Exception:  # noqa: BLE001 -- psycopg2 and validation errors alike, reported per row below
            _logger.info("knowledge import: batch create refused, retrying row by row")
        created = self.browse()
        for values, line in zip(values_list, lines):
            try:
                with self.env.cr.savepoint():
                    created |= self.create([values])
            except Exception as exc:  # noqa: BLE001 -- the reason goes to the user, with the line
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                row_errors.append(knowledge_import.RowError(line, reason))
        return created
