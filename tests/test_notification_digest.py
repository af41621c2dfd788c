from datetime import timedelta

from odoo import fields
from odoo.tests import new_test_user, tagged

from .common import GROUP_USER, SelfHealingCase


@tagged("post_install", "-at_install")
class TestNotificationDigest(SelfHealingCase):
    """The daily digest e-mail: rendered from the template, for the users who opted in only."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Digest = cls.env["self_healing.digest"]
        cls.reader = new_test_user(
            cls.env, login="sh_digest", email="digest@example.com", groups=f"base.group_user,{GROUP_USER}"
        )
        cls.outsider = new_test_user(cls.env, login="sh_outsider", email="out@example.com", groups="base.group_user")
        # Earlier incidents of the database would appear in the digest: the tests count only theirs.
        cls.env["res.users"].search([("self_healing_digest", "=", True)]).self_healing_digest = False

    def mails_to(self, user):
        return self.env["mail.mail"].search([("recipient_ids", "in", user.partner_id.ids)])

    def test_opted_in_users_get_the_digest_of_the_day(self):
        self.reader.with_user(self.reader).self_healing_digest = True  # from their own preferences
        self.outsider.self_healing_digest = True  # not a Self-Healing user: never sent
        incident = self.make_incident(name="Digest incident one")
        waiting = self.make_incident(name="Digest incident waiting")
        waiting._set_state("awaiting_approval")
        sent = self.Digest._cron_send()
        self.assertEqual(sent, self.reader)
        mail = self.mails_to(self.reader)
        self.assertEqual(len(mail), 1)
        self.assertIn("awaiting approval", mail.subject)
        self.assertIn("Digest incident one", mail.body_html)
        self.assertIn(f"/odoo/self_healing.incident/{incident.id}", mail.body_html)
        self.assertIn("Awaiting approval", mail.body_html)
        self.assertFalse(self.mails_to(self.outsider))

    def test_nothing_is_sent_on_a_quiet_day(self):
        self.reader.self_healing_digest = True
        later = fields.Datetime.now() + timedelta(days=30)
        values = self.Digest._values(now=later)
        if self.env["self_healing.incident"].search_count([("state", "=", "awaiting_approval")]):
            self.skipTest("the database has incidents awaiting approval")
        self.assertTrue(values["empty"])
        self.assertFalse(self.Digest._cron_send(now=later))
        self.assertFalse(self.mails_to(self.reader))

    def test_the_preference_is_writable_by_the_user(self):
        self.assertIn("self_healing_digest", self.env["res.users"].SELF_WRITEABLE_FIELDS)
        self.reader.with_user(self.reader).write({"self_healing_digest": True})
        self.assertTrue(self.reader.self_healing_digest)
