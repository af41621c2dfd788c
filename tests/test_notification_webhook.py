import hashlib
import hmac
import socket
from datetime import timedelta
from urllib.parse import urlsplit

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import common as odoo_test_common
from odoo.tests import tagged

from ..engine.detect.signal import Signal
from ..engine.notify import delivery as delivery_rules
from ..models.webhook import SECRET_PARAM
from .common import SelfHealingCase
from .webhook_receiver import Reply, WebhookReceiver


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@tagged("post_install", "-at_install")
class TestNotificationWebhook(SelfHealingCase):
    """Webhooks against a real HTTP server on 127.0.0.1: every format, failures, retries and backoff."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Webhook = cls.env["self_healing.webhook"]
        cls.Delivery = cls.env["self_healing.webhook.delivery"]
        # Webhooks left by the demo data or another test would receive our events too.
        cls.Webhook.search([]).active = False

    @classmethod
    def _request_handler(cls, session, request, /, **kw):
        # Odoo 19's test harness raises every timeout under 10 s to 10 s; here the timeout is
        # what is tested and the receiver is this test's own server on 127.0.0.1.
        if urlsplit(request.url).hostname == "127.0.0.1":
            return odoo_test_common._super_send(session, request, **kw)
        return super()._request_handler(session, request, **kw)

    def setUp(self):
        super().setUp()
        self.receiver = WebhookReceiver().__enter__()
        self.addCleanup(self.receiver.__exit__, None, None, None)
        self.incident = self.make_incident(
            name="KeyError in sale order", exception_type="KeyError", module="sale", severity="high"
        )

    def webhook(self, kind, path="/hook", **values):
        values.setdefault("url", self.receiver.url(path))
        return self.Webhook.create(dict({"name": f"{kind} hook", "kind": kind}, **values))

    def deliver(self, now=None):
        return self.Delivery._cron_deliver(now=now)

    # --- the formats ------------------------------------------------------------------

    def test_slack_receives_text_and_blocks_with_links(self):
        hook = self.webhook("slack", "/services/T000/B000/XXXXSECRET")
        delivery = self.incident._notify("escalation", "Escalated to a human.")
        self.assertEqual(delivery.state, "queued")
        self.assertFalse(self.receiver.requests, "queuing sends nothing")
        self.deliver()
        self.assertEqual(len(self.receiver.requests), 1)
        received = self.receiver.requests[0]
        self.assertEqual(received.path, "/services/T000/B000/XXXXSECRET")
        self.assertEqual(received.headers["Content-Type"], "application/json")
        body = received.json()
        self.assertIn("KeyError in sale order", body["text"])
        self.assertEqual(body["blocks"][0]["type"], "header")
        links = body["blocks"][-1]["elements"][0]["text"]
        self.assertIn(f"/odoo/self_healing.incident/{self.incident.id}|", links)
        self.assertEqual((delivery.state, delivery.tries, delivery.last_status), ("sent", 1, 200))
        self.assertTrue(delivery.sent_at)
        # The Slack token lives in the URL path: the record and the log show the host only.
        self.assertEqual(hook.endpoint, self.receiver.url("").rstrip("/"))
        self.assertNotIn("XXXXSECRET", str(delivery.read()[0]))

    def test_teams_receives_an_adaptive_card(self):
        self.webhook("teams")
        attempt = self.Attempt.create({"incident_id": self.incident.id, "autopatch_code": "sequence_resync"})
        self.incident._notify("approval", "A fix waits for approval.", attempt)
        self.deliver()
        body = self.receiver.requests[0].json()
        self.assertEqual(body["type"], "message")
        attachment = body["attachments"][0]
        self.assertEqual(attachment["contentType"], "application/vnd.microsoft.card.adaptive")
        card = attachment["content"]
        self.assertEqual(card["type"], "AdaptiveCard")
        facts = {
            fact["title"]: fact["value"]
            for block in card["body"]
            if block["type"] == "FactSet"
            for fact in block["facts"]
        }
        self.assertEqual(facts["Module"], "sale")
        self.assertEqual(facts["Severity"], "high")
        urls = [action["url"] for action in card["actions"]]
        self.assertTrue(urls[1].endswith(f"/odoo/self_healing.fix.attempt/{attempt.id}"))

    def test_pagerduty_gets_its_routing_key_which_is_never_logged(self):
        hook = self.webhook("pagerduty", "/v2/enqueue", secret="R0UTINGKEY123")
        self.assertEqual(
            self.env["ir.config_parameter"].sudo().get_param(SECRET_PARAM % (hook.id, "secret")), "R0UTINGKEY123"
        )
        self.assertEqual(hook.secret, "********", "the form never shows the secret back")
        self.receiver.script(Reply(status=202, body='{"status":"success","dedup_key":"x"}'))
        delivery = self.incident._notify("new_incident", "A new fault was detected: KeyError")
        self.deliver()
        body = self.receiver.requests[0].json()
        self.assertEqual(body["routing_key"], "R0UTINGKEY123")
        self.assertEqual(body["event_action"], "trigger")
        self.assertEqual(body["payload"]["severity"], "error")
        self.assertEqual(body["payload"]["source"], self.env.cr.dbname)
        self.assertEqual(body["dedup_key"], f"self_healing-{self.env.cr.dbname}-{self.incident.id}")
        self.assertEqual(delivery.state, "sent")
        logged = str(delivery.read()[0])
        self.assertNotIn("R0UTINGKEY123", logged)
        self.assertNotIn("routing_key", delivery.payload)

    def test_pagerduty_without_url_goes_to_the_public_endpoint(self):
        hook = self.Webhook.create({"name": "PD", "kind": "pagerduty", "secret": "k"})
        self.assertEqual(hook._target_url(), "https://events.pagerduty.com/v2/enqueue")
        self.assertEqual(hook.endpoint, "https://events.pagerduty.com")

    def test_generic_json_is_signed_with_the_secret(self):
        self.webhook("generic", secret="s3cret")
        delivery = self.incident._notify("escalation", "Escalated to a human.")
        self.assertEqual(len(delivery), 1)
        self.deliver()
        received = self.receiver.requests[0]
        expected = "sha256=" + hmac.new(b"s3cret", received.body, hashlib.sha256).hexdigest()
        self.assertEqual(received.headers[delivery_rules.SIGNATURE_HEADER], expected)
        body = received.json()
        self.assertEqual(
            (body["source"], body["event"], body["incident_id"]), ("self_healing", "escalation", self.incident.id)
        )
        self.assertEqual(body["title"], "KeyError in sale order")

    # --- failures, retries and backoff ------------------------------------------------

    def test_5xx_is_retried_after_a_doubling_backoff_until_it_is_sent(self):
        self.webhook("generic")
        self.receiver.script(Reply(status=503), Reply(status=500), Reply(status=200))
        delivery = self.incident._notify("escalation", "x")
        now = fields.Datetime.now()
        self.deliver(now)
        self.assertEqual((delivery.state, delivery.tries, delivery.last_status), ("retrying", 1, 503))
        self.assertEqual(delivery.next_try_at, now + timedelta(seconds=60))
        self.assertIn("503", delivery.last_error)
        # Not due yet: the cron leaves it alone and plans to come back when it is.
        self.deliver(now + timedelta(seconds=30))
        self.assertEqual(len(self.receiver.requests), 1)
        trigger = self.env["ir.cron.trigger"].search(
            [("cron_id", "=", self.env.ref("self_healing.ir_cron_webhook_deliver").id)], order="call_at desc", limit=1
        )
        self.assertEqual(trigger.call_at, delivery.next_try_at)
        second = now + timedelta(seconds=61)
        self.deliver(second)
        self.assertEqual((delivery.state, delivery.tries), ("retrying", 2))
        self.assertEqual(delivery.next_try_at, second + timedelta(seconds=120))
        self.deliver(delivery.next_try_at)
        self.assertEqual((delivery.state, delivery.tries, delivery.last_status), ("sent", 3, 200))
        self.assertEqual(len(self.receiver.requests), 3)
        bodies = {request.body for request in self.receiver.requests}
        self.assertEqual(len(bodies), 1, "every try sends the same body")

    def test_a_delivery_gives_up_after_its_tries(self):
        self.webhook("slack", max_tries=2)
        self.receiver.script(Reply(status=502), Reply(status=502))
        delivery = self.incident._notify("escalation", "x")
        now = fields.Datetime.now()
        self.deliver(now)
        self.deliver(now + timedelta(hours=1))
        self.assertEqual((delivery.state, delivery.tries), ("failed", 2))
        self.assertFalse(delivery.next_try_at)
        self.deliver(now + timedelta(days=1))
        self.assertEqual(len(self.receiver.requests), 2, "a failed delivery is not tried again by the cron")
        delivery.action_retry_now()
        self.receiver.script(Reply(status=200))
        self.deliver(fields.Datetime.now() + timedelta(seconds=1))
        self.assertEqual(delivery.state, "sent")

    def test_a_timeout_is_retried_and_does_not_wait_for_the_receiver(self):
        self.webhook("generic", timeout=0.5)
        self.receiver.script(Reply(status=200, delay=3))
        delivery = self.incident._notify("escalation", "x")
        self.deliver()
        self.assertEqual(delivery.state, "retrying")
        self.assertIn("No answer within 0.5 s", delivery.last_error)
        self.assertLess(delivery.duration, 2.5)
        self.assertFalse(delivery.last_status)

    def test_a_refused_connection_is_retried_and_the_url_stays_hidden(self):
        url = f"http://127.0.0.1:{free_port()}/hook/T0KEN"
        self.Webhook.create({"name": "down", "kind": "slack", "url": url})
        delivery = self.incident._notify("escalation", "x")
        self.deliver()
        self.assertEqual((delivery.state, delivery.tries), ("retrying", 1))
        self.assertIn("ConnectionError", delivery.last_error)
        self.assertNotIn("T0KEN", delivery.last_error)

    def test_a_4xx_is_not_retried_but_429_is(self):
        self.webhook("generic")
        self.receiver.script(Reply(status=400, body="bad payload"), Reply(status=429))
        refused = self.incident._notify("escalation", "x")
        self.deliver()
        self.assertEqual((refused.state, refused.tries, refused.last_status), ("failed", 1, 400))
        self.assertEqual(refused.response_excerpt, "bad payload")
        throttled = self.incident._notify("escalation", "y")
        self.deliver()
        self.assertEqual(throttled.state, "retrying")

    def test_backoff_doubles_and_is_capped(self):
        self.assertEqual([delivery_rules.backoff_seconds(n) for n in (1, 2, 3, 4)], [60, 120, 240, 480])
        self.assertEqual(delivery_rules.backoff_seconds(30), delivery_rules.BACKOFF_MAX_SECONDS)

    # --- configuration ---------------------------------------------------------------

    def test_bad_urls_are_refused_with_a_clear_error(self):
        with self.assertRaisesRegex(ValidationError, "not an http"):
            self.Webhook.create({"name": "bad", "kind": "generic", "url": "ftp://example.com/x"})

    def test_deleting_a_webhook_deletes_its_secrets(self):
        hook = self.webhook("generic", secret="zzz")
        keys = [SECRET_PARAM % (hook.id, what) for what in ("url", "secret")]
        Param = self.env["ir.config_parameter"].sudo()
        self.assertEqual(Param.search_count([("key", "in", keys)]), 2)
        hook.unlink()
        self.assertEqual(Param.search_count([("key", "in", keys)]), 0)

    def test_severity_and_event_filters(self):
        self.webhook("generic", min_severity="critical")
        self.webhook("slack", on_escalation=False)
        self.assertFalse(self.incident._notify("escalation", "x"))
        self.incident.severity = "critical"
        self.assertEqual(self.incident._notify("escalation", "x").kind, "generic")
        self.assertEqual(len(self.incident._notify("spike", "x")), 2)

    def test_send_a_test_from_the_form(self):
        hook = self.webhook("teams")
        action = hook.action_send_test()
        delivery = self.Delivery.browse(action["res_id"])
        self.assertEqual((delivery.state, delivery.is_test), ("sent", True))
        self.assertEqual(len(self.receiver.requests), 1)
        self.assertEqual(hook.delivery_count, 1)

    def test_only_managers_see_webhooks_and_their_log_and_nobody_reads_the_secret_back(self):
        hook = self.webhook("generic", secret="n0t-for-you")
        delivery = self.incident._notify("escalation", "x")
        for user in (self.sh_user, self.sh_approver):
            with self.assertRaises(AccessError):
                self.Webhook.with_user(user).search([])
            with self.assertRaises(AccessError):
                self.Delivery.with_user(user).browse(delivery.id).read(["title"])
        as_manager = hook.with_user(self.sh_manager)
        self.assertEqual(as_manager.read(["secret", "has_secret"])[0]["secret"], "********")
        self.assertTrue(as_manager.has_secret)
        with self.assertRaises(AccessError):
            self.env["ir.config_parameter"].with_user(self.sh_manager).get_param(SECRET_PARAM % (hook.id, "secret"))

    def test_old_finished_deliveries_are_vacuumed_pending_ones_kept(self):
        self.webhook("generic")
        self.receiver.script(Reply(status=200), Reply(status=503))
        sent = self.incident._notify("escalation", "x")
        self.deliver()
        pending = self.incident._notify("escalation", "y")
        self.deliver()
        self.assertEqual((sent.state, pending.state), ("sent", "retrying"))
        old = fields.Datetime.now() - timedelta(days=120)
        self.env.cr.execute(
            "UPDATE self_healing_webhook_delivery SET create_date = %s WHERE id IN %s",
            [old, tuple((sent | pending).ids)],
        )
        self.Delivery._gc_finished()
        self.assertFalse(sent.exists())
        self.assertTrue(pending.exists())

    # --- the events ------------------------------------------------------------------

    def queued(self, event):
        return self.Delivery.search([("event", "=", event)])

    def test_the_events_queue_deliveries(self):
        self.webhook("generic")
        signal = Signal(
            source="log",
            logger="odoo.http",
            message="boom",
            traceback='Traceback (most recent call last):\n  File "/x/addons/sale/models/a.py", line 3, in f\nZeroDivisionError: division by zero',
            dbname=self.env.cr.dbname,
        ).to_dict()
        result = self.Incident.sudo()._ingest_signals([signal])
        new = self.queued("new_incident")
        self.assertEqual(new.incident_id, result.incidents)
        result.incidents._set_state("escalated", "no known fix")
        self.assertEqual(self.queued("escalation").incident_id, result.incidents)
        self.incident._set_state("awaiting_approval")
        self.assertEqual(self.queued("approval").incident_id, self.incident)
        attempt = self.Attempt.create({"incident_id": self.incident.id, "autopatch_code": "sequence_resync"})
        attempt._set_state("applied")
        attempt._set_state("rolled_back")
        failed = self.queued("fix_failed")
        self.assertEqual((failed.incident_id, failed.attempt_id), (self.incident, attempt))
        self.assertIn("rolled back", failed.payload["summary"])

    def test_a_spike_is_told_once_per_window(self):
        self.webhook("generic")
        signal = Signal(
            source="log",
            logger="odoo.addons.stock",
            message="spiky",
            traceback='Traceback (most recent call last):\n  File "/x/addons/stock/a.py", line 3, in f\nValueError: spiky',
            dbname=self.env.cr.dbname,
        ).to_dict()
        incident = self.Incident.sudo()._ingest_signals([signal] * 5).incidents
        self.assertFalse(self.queued("spike"), "5 in an hour is not a spike")
        self.Incident.sudo()._ingest_signals([signal] * 6)
        spike = self.queued("spike")
        self.assertEqual(spike.incident_id, incident)
        self.assertEqual(spike.payload["facts"]["recent"], 11)
        self.assertTrue(incident.last_spike_at)
        self.Incident.sudo()._ingest_signals([signal] * 20)
        self.assertEqual(len(self.queued("spike")), 1)

    def test_a_notification_that_cannot_be_queued_never_blocks_the_state_change(self):
        hook = self.webhook("generic")
        # A format written in the database by hand, that no payload builder knows.
        self.env.cr.execute("UPDATE self_healing_webhook SET kind = 'irc' WHERE id = %s", [hook.id])
        hook.invalidate_recordset()
        with self.assertLogs("odoo.addons.self_healing.models.incident_notification", "ERROR"):
            self.incident._set_state("escalated", "no known fix")
        self.assertEqual(self.incident.state, "escalated")
        self.assertFalse(self.queued("escalation"))

    def test_the_breaker_is_told_once_per_opening(self):
        self.webhook("generic")
        self.incident._warn_managers_breaker()
        self.incident._warn_managers_breaker()
        self.assertEqual(len(self.queued("breaker")), 1)
        self.env["ir.config_parameter"].sudo().set_param(
            "self_healing.breaker_reset_at", fields.Datetime.to_string(fields.Datetime.now() + timedelta(seconds=1))
        )
        self.incident._warn_managers_breaker()
        self.assertEqual(len(self.queued("breaker")), 2)
