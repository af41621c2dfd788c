import base64
import binascii
from urllib.parse import urlsplit

from markupsafe import Markup

from odoo import _, fields, models
from odoo.exceptions import UserError

from ..detection.staging import MAX_MESSAGE_CHARS
from ..engine.detect.signal import Signal

TITLE_CHARS = 80
# A report is stored and matched like a captured message, so it is held to the same size: a
# larger text is refused with a clear message rather than cut or handed to the matcher whole.
MAX_DESCRIPTION_CHARS = MAX_MESSAGE_CHARS


class SelfHealingReportProblem(models.TransientModel):
    """ "Report a problem": any internal user describes what went wrong, with a screenshot if they like.

    The report becomes a signal (source user_report) and is grouped at once,
    so it lands in an incident; the reporter needs no right on incidents,
    only on this wizard. What the reporter writes is evidence for a human:
    the healing loop may match it and show the match, but never takes a
    fix's parameters from it (see ``_choose_fix`` of the healing loop).
    """

    _name = "self_healing.report.problem"
    _description = "Report a Problem"

    description = fields.Text(string="What went wrong?", required=True)
    page_url = fields.Char(string="Page", help="Where it happened; filled in from the page you were on.")
    screenshot = fields.Binary(attachment=False)
    screenshot_name = fields.Char()

    def _signal(self):
        text = self.description.strip()
        first_line = text.splitlines()[0] if text else ""
        if len(first_line) > TITLE_CHARS:
            first_line = first_line[: TITLE_CHARS - 1] + "…"
        path = None
        if self.page_url:
            split = urlsplit(self.page_url)
            path = split.path or None
        return Signal(
            source="user_report",
            level="WARNING",
            logger="user_report",
            message=text,
            dbname=self.env.cr.dbname,
            uid=self.env.uid,
            request_path=path,
            extra={
                "reporter": self.env.user.login,
                "page_url": self.page_url or None,
                "title": _("Reported by a user: %s", first_line),
                # The company the reporter was working in when it went wrong.
                "company_id": self.env.company.id,
            },
        )

    def action_submit(self):
        self.ensure_one()
        if not (self.description or "").strip():
            raise UserError(_("Please describe the problem."))
        if len(self.description) > MAX_DESCRIPTION_CHARS:
            raise UserError(
                _(
                    "Your description is %(size)s characters long; at most %(limit)s are accepted. "
                    "Please shorten it: the first and the last lines of a long log are the useful ones.",
                    size=len(self.description),
                    limit=MAX_DESCRIPTION_CHARS,
                )
            )
        result = self.env["self_healing.incident"].sudo()._ingest_signals([self._signal().to_dict()])
        incident = result.incidents[:1]
        if not incident:
            raise UserError(_("Your report could not be recorded; please tell your administrator."))
        attachments = self.env["ir.attachment"]
        if self.screenshot:
            try:
                base64.b64decode(self.screenshot, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise UserError(_("The attached file could not be read.")) from exc
            attachments = attachments.sudo().create(
                {
                    "name": self.screenshot_name or "screenshot.png",
                    "datas": self.screenshot,
                    "res_model": incident._name,
                    "res_id": incident.id,
                }
            )
        body = Markup("<p>%s</p><p>%s</p>") % (
            _("Problem reported by %s", self.env.user.name),
            self.description.strip(),
        )
        incident.message_post(
            body=body,
            author_id=self.env.user.partner_id.id,
            attachment_ids=attachments.ids,
            subtype_xmlid="mail.mt_note",
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Thank you"),
                "message": _("Your report was recorded (reference #%s).", incident.id),
                "type": "success",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
