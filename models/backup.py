import hashlib
import hmac
import json
import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from ..autopatches.context import recover_file_journal, recover_interrupted_runs
from ..compat import Constraint

_logger = logging.getLogger(__name__)


RETENTION_DAYS = 30
# What the patch context seals: a backup whose seal no longer matches these was not written by it.
SEALED_FIELDS = ("attempt_id", "sequence", "operation", "kind", "payload")
# Columns the server may still change after the backup was made (restore, expiry).
LIFECYCLE_FIELDS = frozenset({"state", "restored_at", "payload"})


def _default_expiry(_records=None):
    return fields.Datetime.now() + timedelta(days=RETENTION_DAYS)


class SelfHealingBackup(models.Model):
    """The pre-image an auto-patch saved before writing, so the write can be undone.

    A rollback runs what a backup says (SQL undo statements, file contents), so only the
    patch context writes backups: never a user through the ORM or RPC, whatever their
    group. Each row carries an HMAC of its payload keyed on the database secret, checked
    again before anything is restored.
    """

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
    seal = fields.Char(readonly=True, copy=False, groups="base.group_system")
    expires_at = fields.Datetime(required=True, default=_default_expiry, index=True)
    state = fields.Selection(
        [("kept", "Kept"), ("restored", "Restored"), ("expired", "Expired")],
        default="kept",
        required=True,
        index=True,
    )
    restored_at = fields.Datetime(readonly=True)
    company_id = fields.Many2one(related="attempt_id.company_id", store=True)

    _expiry_after_creation = Constraint(
        "CHECK(expires_at >= create_date)", "A backup cannot expire before it was made."
    )

    def _check_server_write(self):
        # env.su cannot be obtained over RPC: it marks the server's own code (the patch context, the runner).
        if not self.env.su:
            raise AccessError(
                _("Backups are written by the auto-patches only; nobody may create or change them by hand.")
            )

    @api.model_create_multi
    def create(self, vals_list):
        self._check_server_write()
        records = super().create(vals_list)
        # Sealed as stored: the JSON column is what a rollback will read back.
        records.flush_recordset()
        records.invalidate_recordset(["payload"])
        for record in records:
            super(SelfHealingBackup, record).write({"seal": record._compute_seal()})
        return records

    def write(self, vals):
        self._check_server_write()
        if set(vals) - LIFECYCLE_FIELDS or vals.get("payload"):
            raise AccessError(_("A backup cannot be changed once made; only its restore or expiry is recorded."))
        return super().write(vals)

    def unlink(self):
        self._check_server_write()
        return super().unlink()

    def _seal_key(self):
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret") or ""
        return hashlib.sha256(("self_healing.backup\x1f" + secret).encode()).digest()

    def _compute_seal(self):
        self.ensure_one()
        message = json.dumps(
            {
                "attempt_id": self.attempt_id.id,
                "sequence": self.sequence,
                "operation": self.operation,
                "kind": self.kind,
                "payload": self.payload,
            },
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return hmac.new(self._seal_key(), message.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def _unsealed(self):
        """The backups whose seal does not match their content (changed outside the patch context)."""
        return self.sudo().filtered(
            lambda backup: not backup.seal or not hmac.compare_digest(backup.seal, backup._compute_seal())
        )

    def _register_hook(self):
        # A process killed in the middle of a file fix left its pre-image journaled: put the file back.
        super()._register_hook()
        try:
            recover_file_journal(self.env)
        except Exception:  # the server must start; the entry stays for the next load
            _logger.exception("could not recover the file journal of %s", self.env.cr.dbname)
        # A data fix killed in its middle left nothing (one transaction), but its attempt is told.
        try:
            recover_interrupted_runs(self.env)
        except Exception:  # as above
            _logger.exception("could not tell the interrupted fix runs of %s", self.env.cr.dbname)

    @api.autovacuum
    def _gc_expired_backups(self):
        """Backups are kept 30 days, then their payload is dropped (the row stays for the audit trail)."""
        expired = self.search([("state", "=", "kept"), ("expires_at", "<", fields.Datetime.now())])
        expired.sudo().write({"state": "expired", "payload": False})
        return len(expired)
