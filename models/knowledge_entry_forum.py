import logging

from odoo import api, models
from odoo.tools import html2plaintext

from ..engine.library import knowledge_import

_logger = logging.getLogger(__name__)
FORUM_SOURCE = "website_forum"
KEY_PREFIX = "website_forum:"


class SelfHealingKnowledgeForumBridge(models.Model):
    """Solved questions of Odoo's own website_forum, when that module is installed.

    Only questions with an accepted answer are taken; an entry whose
    question lost its accepted answer (or was closed or deleted) is archived,
    and comes back if the question is solved again.
    Nothing here runs, or imports website_forum, without the module.
    """

    _inherit = "self_healing.knowledge.entry"

    @api.model
    def _website_forum_available(self):
        return "forum.post" in self.env and "is_correct" in self.env["forum.post"]._fields

    @api.model
    def _forum_row(self, question, answer, base_url):
        """A validated ``KnowledgeRow`` for a question and its accepted answer (raises InvalidRow)."""
        tags = [question.forum_id.name] + question.tag_ids.mapped("name")
        record = {
            "key": f"{KEY_PREFIX}{question.id}",
            "title": question.name,
            "problem": html2plaintext(question.content or "") or question.name,
            "solution": html2plaintext(answer.content or ""),
            "url": f"{base_url.rstrip('/')}{question.website_url}" if base_url and question.website_url else "",
            "tags": [tag for tag in tags if tag],
            "source": FORUM_SOURCE,
            # Only questions with an accepted answer are taken (see the class docstring).
            "confirmed_by": "accepted_answer",
        }
        return knowledge_import.validate_record(record, line=question.id, sources=(FORUM_SOURCE,))

    @api.model
    def _ingest_website_forum(self):
        """Upsert one entry per solved question; returns the summary, or None without website_forum."""
        if not self._website_forum_available():
            return None
        Post = self.env["forum.post"].sudo().with_context(active_test=True)
        answers = Post.search(
            [
                ("parent_id", "!=", False),
                ("is_correct", "=", True),
                ("state", "=", "active"),
                ("parent_id.state", "=", "active"),
            ]
        )
        base_url = self.get_base_url()
        rows, errors, seen_keys = [], [], set()
        for answer in answers:
            question = answer.parent_id
            try:
                row = self._forum_row(question, answer, base_url)
            except knowledge_import.InvalidRow as exc:
                errors.append(knowledge_import.RowError(question.id, str(exc)))
                continue
            if row.key not in seen_keys:
                seen_keys.add(row.key)
                rows.append(row)
        summary = self._upsert_rows(rows)
        errors += summary.pop("row_errors")
        # The forum is the source of truth for its own entries: a question
        # solved again comes back.
        self.with_context(active_test=False).browse(summary["entry_ids"]).filtered(
            lambda entry: not entry.active
        ).write({"active": True})
        stale = self.search(
            [("source", "=", FORUM_SOURCE), ("key", "=like", f"{KEY_PREFIX}%"), ("key", "not in", sorted(seen_keys))]
        )
        stale.write({"active": False})
        summary.update(archived=len(stale), errors=[{"question_id": e.line, "reason": e.reason} for e in errors])
        _logger.info(
            "website_forum: %d solved questions, %d created, %d updated, %d archived",
            len(rows),
            summary["created"],
            summary["updated"],
            len(stale),
        )
        return summary

    @api.model
    def _cron_ingest_website_forum(self):
        self._ingest_website_forum()
