import base64

from odoo import _, fields, models
from odoo.exceptions import UserError

from ..engine.library import knowledge_import


class SelfHealingKnowledgeImport(models.TransientModel):
    """Upload a JSON Lines or CSV file of solved cases; see the summary and the rejected rows."""

    _name = "self_healing.knowledge.import"
    _description = "Self-Healing: Import Knowledge"

    file = fields.Binary(required=True, attachment=False)
    filename = fields.Char()
    file_format = fields.Selection(
        [("auto", "From the file name"), ("jsonl", "JSON Lines"), ("csv", "CSV")],
        string="Format",
        default="auto",
        required=True,
    )
    state = fields.Selection([("upload", "Upload"), ("done", "Done")], default="upload", required=True)
    created_count = fields.Integer(string="Created", readonly=True)
    updated_count = fields.Integer(string="Updated", readonly=True)
    skipped_count = fields.Integer(string="Unchanged", readonly=True)
    error_count = fields.Integer(string="Rejected Rows", readonly=True)
    error_report = fields.Text(readonly=True)
    ignored_columns = fields.Char(readonly=True)
    entry_ids = fields.Many2many("self_healing.knowledge.entry", string="Entries", readonly=True)

    def action_import(self):
        self.ensure_one()
        content = base64.b64decode(self.file or b"")
        fmt = None if self.file_format == "auto" else self.file_format
        try:
            summary = self.env["self_healing.knowledge.entry"]._import_knowledge_file(
                content, filename=self.filename, fmt=fmt
            )
        except knowledge_import.ImportFileError as exc:
            raise UserError(_("This file cannot be imported: %s", exc)) from exc
        errors = [knowledge_import.RowError(error["line"], error["reason"]) for error in summary["errors"]]
        self.write(
            {
                "state": "done",
                "created_count": summary["created"],
                "updated_count": summary["updated"],
                "skipped_count": summary["skipped"],
                "error_count": len(errors),
                "error_report": knowledge_import.error_report(errors) or False,
                "ignored_columns": ", ".join(summary["ignored_columns"]) or False,
                "entry_ids": [fields.Command.set(summary["entry_ids"])],
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": _("Knowledge Import"),
        }

    def action_open_entries(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Imported Knowledge"),
            "res_model": "self_healing.knowledge.entry",
            "view_mode": "list,form",
            "domain": [("id", "in", self.entry_ids.ids)],
        }
