"""Bad input over RPC: an internal user's report is bounded, and matching it is linear.

The fault as production gets it: a user with no Self-Healing group posts the
"Report a problem" wizard through JSON-RPC.
"""

import json

from odoo.tests import HttpCase, new_test_user, tagged

from ..wizards.report_problem import MAX_DESCRIPTION_CHARS


@tagged("post_install", "-at_install")
class TestReportSizeOverRpc(HttpCase):
    def setUp(self):
        super().setUp()
        new_test_user(self.env, login="rel_reporter", password="rel_reporter", groups="base.group_user")
        self.authenticate("rel_reporter", "rel_reporter")

    def call_kw(self, model, method, args, kwargs=None):
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        }
        response = self.url_open(
            f"/web/dataset/call_kw/{model}/{method}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
            timeout=120,
        )
        return response.json()

    def submit(self, text):
        created = self.call_kw("self_healing.report.problem", "create", [{"description": text}])
        self.assertIn("result", created, created)
        return self.call_kw("self_healing.report.problem", "action_submit", [[created["result"]]])

    def test_oversized_report_is_refused_with_a_clear_error(self):
        before = self.env["self_healing.incident"].search_count([])
        answer = self.submit("Cron job 'x' (7) has been deactivated after failing " * 6000)  # ~300 KB
        self.assertIn("error", answer)
        message = answer["error"]["data"]["message"]
        self.assertIn(f"at most {MAX_DESCRIPTION_CHARS}", message)
        self.assertEqual(self.env["self_healing.incident"].search_count([]), before)

    def test_report_at_the_limit_of_a_quadratic_probe_is_healed(self):
        # What made the old pattern of GR-CRN-001 quadratic: its prefix, again and again on one line.
        text = ("The cron " * (MAX_DESCRIPTION_CHARS // 9))[:MAX_DESCRIPTION_CHARS]
        answer = self.submit(text)
        self.assertIn("result", answer, answer)
        incident = self.env["self_healing.incident"].search([("source", "=", "user_report")], order="id desc", limit=1)
        self.assertTrue(incident.to_process)
        self.env["self_healing.incident"]._cron_heal()
        self.assertFalse(incident.to_process)
