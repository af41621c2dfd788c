import logging

from odoo import api, models

from ..engine.library import knowledge_import
from .knowledge_entry import SHIPPED_SYNC

_logger = logging.getLogger(__name__)


class SelfHealingKnowledgeEntryShipped(models.Model):
    """The solved cases shipped in data/knowledge/cases, synced like the guardrail library.

    Each case becomes an entry keyed by its source key. At install and at
    every update new cases are created, unchanged ones left alone, changed
    ones rewritten unless edited here (then only flagged). Entries are only
    queued for embedding: the embedding job, woken by ``ir.cron._trigger``,
    computes the vectors in the background, so installing stays fast.
    """

    _inherit = "self_healing.knowledge.entry"

    @api.model
    def _sync_shipped_cases(self, directory=None):
        """Create or update entries from the shipped files; returns the counts."""
        cases, errors = knowledge_import.load_shipped(directory)
        for error in errors:
            _logger.warning("shipped knowledge case skipped: %s", error)
        everything = self.with_context(active_test=False)
        existing = {entry.key: entry for entry in everything.search([("key", "in", [case.row.key for case in cases])])}
        guardrail_ids = self._shipped_guardrail_ids(cases)
        sync = everything.with_context(**{SHIPPED_SYNC: True})
        to_create = []
        updated = kept = 0
        for case in cases:
            values = self._shipped_values(case, guardrail_ids)
            entry = existing.get(case.row.key)
            if not entry:
                to_create.append(values)
            elif entry.shipped_hash == values["shipped_hash"]:
                continue
            elif entry.user_modified:
                sync.browse(entry.id).shipped_update_available = True
                kept += 1
            else:
                sync.browse(entry.id).write(dict(values, shipped_update_available=False))
                updated += 1
        if to_create:
            sync.create(to_create)
        _logger.info(
            "shipped knowledge: %d created, %d updated, %d kept with local edits, %d rejected",
            len(to_create),
            updated,
            kept,
            len(errors),
        )
        return {"created": len(to_create), "updated": updated, "kept": kept, "errors": errors}

    @api.model
    def _shipped_guardrail_ids(self, cases):
        codes = sorted({case.row.guardrail for case in cases if case.row.guardrail})
        guardrails = self.env["self_healing.guardrail"].with_context(active_test=False).search([("code", "in", codes)])
        return {guardrail.code: guardrail.id for guardrail in guardrails}

    @api.model
    def _shipped_values(self, case, guardrail_ids):
        # A case naming a guardrail this database lacks keeps its class: the link is only a hint.
        return dict(
            self._values_from_row(case.row, guardrail_ids),
            shipped_file=case.file,
            shipped_hash=case.fingerprint,
        )

    def action_apply_shipped_update(self):
        """Drop local edits and take the shipped version of the selected cases."""
        cases = {case.row.key: case for case in knowledge_import.load_shipped()[0]}
        shipped = [(entry, cases[entry.key]) for entry in self if entry.key in cases]
        guardrail_ids = self._shipped_guardrail_ids([case for _entry, case in shipped])
        for entry, case in shipped:
            entry.with_context(**{SHIPPED_SYNC: True}).write(
                dict(
                    self._shipped_values(case, guardrail_ids),
                    user_modified=False,
                    shipped_update_available=False,
                )
            )
        return True
