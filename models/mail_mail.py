import logging

from odoo import models

from ..engine.detect.signal import Signal

_logger = logging.getLogger(__name__)

MAIL_LOGGER = "odoo.addons.mail.models.mail_mail"


class MailMail(models.Model):
    """Mail delivery failures as signals, reported from the send path itself.

    Odoo calls _postprocess_sent_message after every send attempt, with the
    mails already marked 'exception' when they failed; a refused SMTP
    connection never reaches the log, so this is where it can be seen.
    """

    _inherit = "mail.mail"

    def _postprocess_sent_message(self, success_pids, *args, failure_reason=False, failure_type=None, **kwargs):
        # *args/**kwargs: 19.0 inserts success_emails after success_pids; passed through untouched.
        # Read before super(): sent mails may be deleted there (auto_delete).
        failed = [
            (
                mail.id,
                mail.failure_reason or failure_reason,
                failure_type or mail.failure_type,
                mail.mail_server_id.id,
                mail.model,
                mail.res_id,
            )
            for mail in self
            if mail.state == "exception"
        ]
        result = super()._postprocess_sent_message(
            success_pids, *args, failure_reason=failure_reason, failure_type=failure_type, **kwargs
        )
        if failed:
            try:
                with self.env.cr.savepoint():
                    self.env["self_healing.signal"].sudo()._stage([self._self_healing_signal(*row) for row in failed])
                    self.env["self_healing.signal"]._trigger_processing()
            except Exception:  # a detector never breaks the code it watches
                _logger.exception("Self-Healing could not report mail delivery failures")
        return result

    def _self_healing_signal(self, mail_id, reason, failure_type, server_id, model, res_id):
        # exception_to_unicode puts each argument on a line ("111\nConnection refused").
        reason = " ".join((reason or "").split()) or "no reason given"
        return Signal(
            source="mail",
            level="ERROR",
            logger=MAIL_LOGGER,
            message=f"Mail delivery failed ({failure_type or 'unknown'}): {reason}",
            dbname=self.env.cr.dbname,
            uid=self.env.uid,
            extra={
                "mail_id": mail_id,
                "failure_type": failure_type or "unknown",
                "mail_server_id": server_id or None,
                "model": model or None,
                "res_id": res_id or None,
            },
        ).to_dict()
