import logging
from datetime import timedelta

from odoo import api, fields, models

from ..autopatches.context import recover_file_journal

_logger = logging.getLogger(__name__)

RETENTION_DAYS = 30


def _default_expiry(_records=None):
    return fields.Datetime.now() + timedelta(days=RETENTION_DAYS)


class SelfHealingBackup(models.Model):
    """The pre-image an auto-patch saved before writing, so the write can be undone."""

    _name = "self_healing.backup"
    _description = "Self-Healing Backup"
    _order = "create_date desc, id desc"

    attempt_id = fields.Many2one("self_healing.fix.attempt", required=True, ondelete="cascade", index=True)
    kind = fields.Selection([("data", "Data"), ("file", "File")], required=True, default="data")
    operation = fields.Selection(
        [
            ("write", "Write"),
            ("create", "Create"),
            ("delete", "Delete"),
            ("sql", "SQL"),
            ("columns", "New Columns"),
            ("file", "File"),
            ("guard", "Change Guard"),
        ],
        help="What the auto-patch did; a guard only records a state whose change blocks a rollback.",
    )
    sequence = fields.Integer(default=0, help="Order of the writes in the attempt; a rollback undoes them in reverse.")
    target = fields.Char(required=True, help="Table and ids, or file path, this backup restores.")
    payload = fields.Json(help="Pre-image of the rows (data) or the file's content and mode (file).")
    expires_at = fields.Datetime(required=True, default=_default_expiry, index=True)
    state = fields.Selection(
        [("kept", "Kept"), ("restored", "Restored"), ("expired", "Expired")],
        default="kept",
        required=True,
        index=True,
    )
    restored_at = fields.Datetime(readonly=True)
    company_id = fields.Many2one(related="attempt_id.company_id", store=True)

    _sql_constraints = [
        ("expiry_after_creation", "CHECK(expires_at >= create_date)", "A backup cannot expire before it was made."),
    ]

    def _register_hook(self):
        # A process killed in the middle of a file fix left its pre-image journaled: put the file back.
        super()._register_hook()
        try:
            recover_file_journal(self.env)
        except Exception:  # the server must start; the entry stays for the next load
            _logger.exception("could not recover the file journal of %s", self.env.cr.dbname)

    @api.autovacuum
    def _gc_expired_backups(self):
        """Backups are kept 30 days, then their payload is dropped (the row stays for the audit trail)."""
        expired = self.search([("state", "=", "kept"), ("expires_at", "<", fields.Datetime.now())])
        expired.write({"state": "expired", "payload": False})
        return len(expired)
