from datetime import timedelta

from odoo import fields
from odoo.addons.base.models.ir_mail_server import MailDeliveryException
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..autopatches import mail_retry, runner
from . import autopatch_faults as faults
from .common import SelfHealingCase


@tagged("post_install", "-at_install")
class TestMailRetry(SelfHealingCase):
    def setUp(self):
        super().setUp()
        self.port = faults.free_port()
        self.server = faults.make_mail_server(self.env, self.port)
        with mute_logger("odoo.addons.mail.models.mail_mail", "odoo.addons.base.models.ir_mail_server"):
            self.mails = faults.make_stuck_mail(self.env, self.server, count=2)
        self.incident = self.make_incident(name="SMTP down", error_class="MAIL_DELIVERY")

    def attempt(self):
        return faults.make_attempt(self.env, "mail_retry", {"mail_ids": ",".join(map(str, self.mails.ids))},
                                   incident=self.incident)

    def test_retry_with_backoff_until_delivered(self):
        self.assertEqual(set(self.mails.mapped("state")), {"exception"})
        self.assertIn("Connection refused", self.mails[0].failure_reason)
        with self.assertRaises(MailDeliveryException), faults.real_smtp(), self.env.cr.savepoint():
            self.mails[0].send(raise_exception=True)

        # The server is still down: the retry fails, the mails stay in exception.
        first = self.attempt()
        with faults.real_smtp(), mute_logger("odoo.addons.mail.models.mail_mail"):
            runner.run_attempt(first)
        self.assertEqual(first.state, "failed")
        self.assertIn("still fail", first.outcome)
        self.assertEqual(set(self.mails.mapped("state")), {"exception"})

        ok, reason = runner.check(self.env, "mail_retry", {}, incident=self.incident)
        self.assertFalse(ok)
        self.assertIn("exponential backoff", reason)
        first.applied_at = fields.Datetime.now() - mail_retry.retry_delay(1) - timedelta(seconds=1)

        with faults.LocalSMTPServer(self.port) as smtp, faults.real_smtp():
            written = faults.rows_written(self.env)
            self.assertIn("retry 2 of 5", runner.preview(self.env, "mail_retry", {}, incident=self.incident))
            self.assertEqual(faults.rows_written(self.env), written)
            second = self.attempt()
            result = runner.run_attempt(second)
        self.assertTrue(result.ok, second.outcome)
        self.assertEqual(set(self.mails.mapped("state")), {"sent"})
        self.assertEqual(sorted(message["to"][0] for message in smtp.messages),
                         ["<customer0@example.com>", "<customer1@example.com>"])
        self.assertIn(b"Subject: self_healing chaos mail 0", b"".join(message["data"] for message in smtp.messages))

        with self.assertRaisesRegex(UserError, "moved on"):
            second.with_user(self.sh_manager).action_rollback()

    def test_permanent_failures_are_not_retried(self):
        self.mails.write({"failure_type": "mail_email_invalid", "failure_reason": "Invalid recipient"})
        ok, reason = runner.check(self.env, "mail_retry", {}, incident=self.incident)
        self.assertFalse(ok)
        self.assertIn("no mail is in exception after a transient", reason)

    def test_gives_up_after_five_retries(self):
        for _index in range(mail_retry.MAX_RETRIES):
            faults.make_attempt(self.env, "mail_retry", {}, incident=self.incident,
                                state="failed", applied_at=fields.Datetime.now() - timedelta(days=1))
        ok, reason = runner.check(self.env, "mail_retry", {}, incident=self.incident)
        self.assertFalse(ok)
        self.assertIn("gave up after 5 retries", reason)
