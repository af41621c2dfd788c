import smtplib
from datetime import timedelta

from odoo import fields, tools
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.base.models.ir_mail_server import MailDeliveryException

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
        return faults.make_attempt(
            self.env, "mail_retry", {"mail_ids": ",".join(map(str, self.mails.ids))}, incident=self.incident
        )

    def backdate_mails(self, delta):
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE mail_mail SET create_date = create_date - %s WHERE id = ANY(%s)", [delta, self.mails.ids]
        )
        self.mails.invalidate_recordset(["create_date"])

    def test_retry_with_backoff_until_delivered(self):
        # The mails failed an hour ago: the backdated retry below happened after they existed.
        self.backdate_mails(timedelta(hours=1))
        self.assertEqual(set(self.mails.mapped("state")), {"exception"})
        self.assertIn("Connection refused", self.mails[0].failure_reason)
        with self.assertRaises(MailDeliveryException), faults.real_smtp(), self.env.cr.savepoint():
            self.mails[0].send(raise_exception=True)

        # The server is still down: the live diagnosis refutes the retry, no retry is spent on it.
        first = self.attempt()
        with faults.real_smtp():
            diagnosis = runner.diagnose(self.env, "mail_retry", first.params, incident=self.incident)
            runner.run_attempt(first)
        self.assertFalse(diagnosis.holds)
        self.assertIn("still does not answer", diagnosis.reason)
        self.assertEqual(sorted(entry["id"] for entry in diagnosis.evidence["mails"]), self.mails.ids)
        self.assertIs(diagnosis.evidence["relays"][0]["answers"], False)
        self.assertIn("Connection", diagnosis.evidence["relays"][0]["error"])
        self.assertEqual(first.state, "failed")
        self.assertIn("live diagnosis refutes", first.outcome)
        self.assertFalse(first.applied_at)
        self.assertEqual(set(self.mails.mapped("state")), {"exception"})

        # A retry that did go out and failed counts for the backoff.
        spent = faults.make_attempt(
            self.env, "mail_retry", {}, incident=self.incident, state="failed", applied_at=fields.Datetime.now()
        )
        ok, reason = runner.check(self.env, "mail_retry", {}, incident=self.incident)
        self.assertFalse(ok)
        self.assertIn("exponential backoff", reason)
        spent.applied_at = fields.Datetime.now() - mail_retry.retry_delay(1) - timedelta(seconds=1)

        with faults.LocalSMTPServer(self.port) as smtp, faults.real_smtp():
            written = faults.rows_written(self.env)
            self.assertIn("retry 2 of 5", runner.preview(self.env, "mail_retry", {}, incident=self.incident))
            self.assertEqual(faults.rows_written(self.env), written)
            second = self.attempt()
            result = runner.run_attempt(second)
        self.assertTrue(result.ok, second.outcome)
        self.assertIs(second.diagnosis["evidence"]["relays"][0]["answers"], True)
        self.assertEqual(set(self.mails.mapped("state")), {"sent"})
        self.assertEqual(
            sorted(message["to"][0] for message in smtp.messages),
            ["<customer0@example.com>", "<customer1@example.com>"],
        )
        self.assertIn(b"Subject: self_healing chaos mail 0", b"".join(message["data"] for message in smtp.messages))

        with self.assertRaisesRegex(UserError, "moved on"):
            second.with_user(self.sh_manager).action_rollback()

    def detector_match(self, mail):
        """What the guardrails make of the message the mail detector writes for ``mail``."""
        signal = self.env["mail.mail"]._self_healing_signal(
            mail.id, mail.failure_reason, mail.failure_type, mail.mail_server_id.id, mail.model, mail.res_id
        )
        answer = self.env["self_healing.guardrail"]._classifier().classify(signal["message"])
        guardrail = self.env["self_healing.guardrail"].search([("code", "=", answer.guardrail)])
        return signal["message"], answer, guardrail

    def test_detector_messages_match_a_retry_guardrail(self):
        message, answer, guardrail = self.detector_match(self.mails[0])
        self.assertIn("Connection refused", message)
        self.assertEqual((answer.guardrail, guardrail.autopatch_code), ("GR-MAIL-003", "mail_retry"), message)
        self.assertGreaterEqual(answer.confidence, 0.95, "the detector's own wording is a template, not a hint")

        with (
            faults.LocalSMTPServer(self.port) as smtp,
            mute_logger("odoo.addons.mail.models.mail_mail", "odoo.addons.base.models.ir_mail_server"),
        ):
            smtp.fail_next(1)
            busy = faults.make_stuck_mail(self.env, self.server)
        self.assertEqual(busy.state, "exception")
        message, answer, guardrail = self.detector_match(busy)
        self.assertIn("try again later", message)
        self.assertEqual((answer.guardrail, guardrail.autopatch_code), ("GR-MAIL-007", "mail_retry"), message)
        self.assertGreaterEqual(answer.confidence, 0.95)

    def test_permanent_failures_are_not_retried(self):
        self.mails.write({"failure_type": "mail_email_invalid", "failure_reason": "Invalid recipient"})
        ok, reason = runner.check(self.env, "mail_retry", {}, incident=self.incident)
        self.assertFalse(ok)
        self.assertIn("no mail is in exception after a transient", reason)

    def test_permanent_smtp_replies_are_not_retried(self):
        # Odoo files a refused login under the same failure type as an outage: only the reply tells them apart.
        refusals = [
            smtplib.SMTPAuthenticationError(535, b"5.7.8 Username and Password not accepted."),
            smtplib.SMTPConnectError(554, b"5.7.1 Service unavailable; client host blocked, try again later"),
            smtplib.SMTPRecipientsRefused({"customer0@example.com": (550, b"5.1.1 Recipient address rejected")}),
        ]
        for refusal in refusals:
            with self.subTest(refusal=type(refusal).__name__):
                self.mails.write({"failure_type": "mail_smtp", "failure_reason": tools.exception_to_unicode(refusal)})
                ok, reason = runner.check(self.env, "mail_retry", {}, incident=self.incident)
                self.assertFalse(ok, reason)
                self.assertIn("no mail is in exception after a transient", reason)
                message, answer, guardrail = self.detector_match(self.mails[0])
                self.assertNotEqual(guardrail.autopatch_code, "mail_retry", f"{message} matched {answer.guardrail}")

    def test_gives_up_after_five_retries(self):
        for _index in range(mail_retry.MAX_RETRIES):
            faults.make_attempt(
                self.env, "mail_retry", {}, incident=self.incident, state="failed", applied_at=fields.Datetime.now()
            )
        ok, reason = runner.check(self.env, "mail_retry", {}, incident=self.incident)
        self.assertFalse(ok)
        self.assertIn("gave up after 5 retries", reason)

    def test_retries_older_than_the_failing_mails_do_not_count(self):
        for _index in range(mail_retry.MAX_RETRIES):
            faults.make_attempt(
                self.env,
                "mail_retry",
                {},
                incident=self.incident,
                state="failed",
                applied_at=fields.Datetime.now() - timedelta(days=1),
            )
        with faults.LocalSMTPServer(self.port):  # the relay answers again
            ok, reason = runner.check(self.env, "mail_retry", {}, incident=self.incident)
        self.assertTrue(ok, reason)
        self.assertIn("retry 1 of 5", reason)

    def test_a_delivered_retry_ends_the_episode(self):
        delivered = self.attempt()
        with faults.LocalSMTPServer(self.port), faults.real_smtp():
            result = runner.run_attempt(delivered)
        self.assertTrue(result.ok, delivered.outcome)
        self.assertEqual(set(self.mails.mapped("state")), {"sent"})

        # The provider goes down again later: the reopened incident starts a fresh backoff.
        with mute_logger("odoo.addons.mail.models.mail_mail", "odoo.addons.base.models.ir_mail_server"):
            later = faults.make_stuck_mail(self.env, self.server)
        self.assertEqual(later.state, "exception")
        with faults.LocalSMTPServer(self.port):  # the relay answers again
            ok, reason = runner.check(self.env, "mail_retry", {}, incident=self.incident)
        self.assertTrue(ok, reason)
        self.assertIn("retry 1 of 5", reason)

        # A failed retry of the new episode counts again.
        faults.make_attempt(
            self.env, "mail_retry", {}, incident=self.incident, state="failed", applied_at=fields.Datetime.now()
        )
        ok, reason = runner.check(self.env, "mail_retry", {}, incident=self.incident)
        self.assertFalse(ok)
        self.assertIn("retry 2 of 5 is due", reason)

    def test_relay_answering_but_no_mail_getting_out_fails_the_retry(self):
        # The relay answers again, but no mail can go (their recipients were mangled since): the retry
        # fails, is undone, and counts for the backoff.
        self.backdate_mails(timedelta(hours=1))
        self.env.flush_all()
        self.env.cr.execute("UPDATE mail_mail SET email_to = 'not an address' WHERE id = ANY(%s)", [self.mails.ids])
        self.env.invalidate_all()
        attempt = self.attempt()
        with faults.LocalSMTPServer(self.port) as smtp, mute_logger("odoo.addons.mail.models.mail_mail"):
            runner.run_attempt(attempt)
        self.assertTrue(attempt.diagnosis["holds"])
        self.assertEqual(attempt.state, "failed", attempt.outcome)
        self.assertIn("2 of 2 mail(s) still fail", attempt.outcome)
        self.assertEqual(smtp.messages, [])
        self.assertEqual(set(self.mails.mapped("state")), {"exception"})
        self.assertTrue(attempt.applied_at, "a retry that went out counts for the backoff")

    def test_delivered_mails_are_not_sent_again_when_another_fails(self):
        # Issue #14 defect 6: one mail of the batch fails again; the one the server accepted must stay
        # sent, not go back to exception (and out a second time at the next retry).
        self.backdate_mails(timedelta(hours=1))
        delivered, refused = self.mails
        self.env.flush_all()
        self.env.cr.execute("UPDATE mail_mail SET email_to = 'not an address' WHERE id = %s", [refused.id])
        self.env.invalidate_all()
        attempt = self.attempt()
        with (
            faults.LocalSMTPServer(self.port) as smtp,
            faults.real_smtp(),
            mute_logger("odoo.addons.mail.models.mail_mail"),
        ):
            result = runner.run_attempt(attempt)
        self.assertEqual([message["to"] for message in smtp.messages], [["<customer0@example.com>"]])
        self.assertEqual(delivered.state, "sent", "a delivered mail went back to exception")
        self.assertEqual(refused.state, "exception")
        self.assertTrue(result.ok, attempt.outcome)
        self.assertIn("1 still fail and stay in exception", attempt.outcome)
        later = runner.diagnose(self.env, "mail_retry", {}, incident=self.incident)
        self.assertNotIn(delivered.id, [entry["id"] for entry in later.evidence["mails"]])

    def test_replay_before_the_fix_sends_nothing_queued(self):
        patch = mail_retry.MailRetry()
        ok, detail = patch.replay(self.env, {"mail_ids": ",".join(map(str, self.mails.ids))})
        self.assertFalse(ok)
        self.assertIn("not queued for sending", detail)
