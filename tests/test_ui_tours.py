"""Browser tours in headless Chromium: the dashboard, the approval wizard, the settings, the digest opt-in.

The tours report what the page shows on the console (``self_healing_tour_report key=value``)
and ask for screenshots (``self_healing_tour_screenshot name``); this side compares the
figures with the database and writes the PNGs. With ``SELF_HEALING_SCREENSHOTS=1`` the PNGs
go to ``static/description/``, where the README takes them from, so they are redrawn from the
current UI instead of going stale:

    SELF_HEALING_SCREENSHOTS=1 bin/self-healing test -- -k test_ui_tours

A missing Chromium or websocket-client fails these tests: Odoo's HttpCase would skip them.
"""

import base64
import os
import shutil
import struct
import tempfile
import unittest
from datetime import timedelta
from pathlib import Path
from unittest.mock import patch

import psycopg2

from odoo import fields
from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser
from odoo.tools import mute_logger

from odoo.addons.self_healing_chaos import scenarios as chaos_scenarios
from odoo.addons.self_healing_chaos.tests.test_chaos_common import ChaosScenarioCase

from . import autopatch_faults as faults
from .test_healing_pipeline import PipelineCase, set_params

REPORT = "self_healing_tour_report "
SCREENSHOT = "self_healing_tour_screenshot "
DESCRIPTION_DIR = Path(__file__).resolve().parents[1] / "static" / "description"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WINDOW = (1920, 1080)


def png_size(data):
    """Width and height from the PNG header (IHDR is always the first chunk)."""
    if not data.startswith(PNG_MAGIC):
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


class TourCase(HttpCase, PipelineCase):
    browser_size = "%dx%d" % WINDOW

    def setUp(self):
        super().setUp()
        self.reports = {}
        self.screenshots = {}
        if os.environ.get("SELF_HEALING_SCREENSHOTS"):
            self.screenshot_dir = DESCRIPTION_DIR
        else:
            self.screenshot_dir = Path(tempfile.mkdtemp(prefix="sh-tour-shots-"))
            self.addCleanup(shutil.rmtree, self.screenshot_dir, True)

    def browser_js(self, *args, **kwargs):
        # HttpCase raises SkipTest when Chromium or websocket-client is missing; CI must see red instead.
        test = self
        original = ChromeBrowser._handle_console

        def handle_console(browser, type, args=None, stackTrace=None, **kw):  # noqa: A002 (CDP's name)
            text = str(browser._from_remoteobject(args[0])) if args else ""
            if text.startswith(REPORT):
                key, _sep, value = text[len(REPORT) :].partition("=")
                test.reports[key] = value
            elif text.startswith(SCREENSHOT):
                test._capture(browser, text[len(SCREENSHOT) :])
            return original(browser, type, args=args, stackTrace=stackTrace, **kw)

        try:
            with patch.object(ChromeBrowser, "_handle_console", handle_console):
                return super().browser_js(*args, **kwargs)
        except unittest.SkipTest as exc:
            self.fail(f"headless Chromium could not run the tour: {exc}. Install Debian's chromium package.")

    def _capture(self, browser, name):
        future = browser._websocket_send("Page.captureScreenshot", params={"format": "png"}, with_future=True)

        def written(done):
            data = base64.b64decode(done.result()["data"])
            path = self.screenshot_dir / f"{name}.png"
            path.write_bytes(data)
            self.screenshots[name] = path
            # The tour waits for this mark before it changes the page.
            browser._websocket_send(
                "Runtime.evaluate",
                params={"expression": f"document.body.dataset.selfHealingScreenshot = {name!r}"},
            )

        future.add_done_callback(written)

    def assert_screenshot(self, name):
        self.assertIn(name, self.screenshots, f"the tour did not capture {name}")
        data = self.screenshots[name].read_bytes()
        width, height = png_size(data)
        # Chromium keeps part of the window for itself: the page gets the full width, not the full height.
        self.assertEqual(width, WINDOW[0])
        self.assertGreater(height, WINDOW[1] * 2 // 3)
        self.assertGreater(len(data), 20_000, "a page, not a blank capture")


@tagged("post_install", "-at_install")
class TestBrowserIsThere(unittest.TestCase):
    def test_chromium_and_websocket_client_are_installed(self):
        from odoo.tests.common import _find_executable

        try:
            executable = _find_executable()
        except unittest.SkipTest as exc:
            self.fail(f"{exc}: the browser tours cannot run")
        self.assertTrue(os.access(executable, os.X_OK), executable)
        import websocket  # noqa: F401 (the tours talk to Chromium through it)


@tagged("post_install", "-at_install")
class TestDashboardTour(TourCase, ChaosScenarioCase):
    """The dashboard of a database that met the demo's faults on day one, with the autopilot on Auto.

    The chaos scenarios inject them and provoke them through this test's HTTP server (the mail one of
    the demo is left out: it needs the scheduler's own transaction)."""

    DAY_ONE = {
        "pkey_sequence_drift": "healed",
        "asset_bundle": "healed",
        "saved_filter": "healed",
        "record_rule": "awaiting_approval",  # a critical scope
        "view_anchor_missing": "healed",
        "singleton_action": "alert",  # no patch rewrites an administrator's code: the steps go to a person
    }

    def keep_bundle_file(self):
        """The bundle's file is removed from the filestore, which no rollback brings back."""
        attachment = faults.bundle_attachment(self.env, chaos_scenarios.BUNDLE)
        path = attachment._full_path(attachment.store_fname)
        content = Path(path).read_bytes()
        self.addCleanup(lambda: Path(path).write_bytes(content))

    def test_dashboard_figures_open_the_records_they_count(self):
        set_params(self.env, autopilot="auto")
        self.keep_bundle_file()
        self.addCleanup(faults.heal_id_sequence, self.env, "res_partner_category")  # setval is not rolled back
        outcomes, incidents = {}, {}
        for name in self.DAY_ONE:
            incidents[name] = self.assert_scenario_detected(name)
            outcomes[name] = {incident._heal() for incident in incidents[name]}
        self.assertEqual(outcomes, {name: {outcome} for name, outcome in self.DAY_ONE.items()})
        data = self.env["self_healing.dashboard"].get_dashboard_data(days=7)["current"]
        self.start_tour("/odoo/self-healing", "self_healing_dashboard_clickthrough_tour", login="admin")
        recent = [("last_seen", ">=", fields.Datetime.now() - timedelta(days=7))]
        self.assertEqual(int(self.reports["detected_figure"]), data["issues_detected"])
        self.assertEqual(data["issues_detected"], self.Incident.search_count(recent))
        self.assertGreaterEqual(data["issues_detected"], len(self.DAY_ONE))
        self.assertEqual(int(self.reports["detected_rows"]), data["issues_detected"])
        self.assertEqual(int(self.reports["human_figure"]), data["human_review"])
        self.assertEqual(int(self.reports["human_rows"]), data["human_review"])
        self.assertGreaterEqual(data["human_review"], 2, "the one awaiting approval and the alert")
        self.assertEqual(int(self.reports["auto_fixed_figure"]), data["auto_fixed"])
        self.assertGreaterEqual(data["auto_fixed"], 3)
        self.assert_screenshot("dashboard")


@tagged("post_install", "-at_install")
class TestApprovalTour(TourCase):
    def test_approving_in_the_wizard_runs_the_fix(self):
        # Suggest is the autopilot of a fresh install: every fix waits for an approver.
        set_params(self.env, autopilot="suggest")
        incident = self.ingest(self.provoke_pkey_drift())
        self.assertEqual(incident._heal(), "awaiting_approval", incident.decision)
        attempt = incident.fix_attempt_ids
        self.start_tour(f"/odoo/self_healing.incident/{incident.id}", "self_healing_approve_tour", login="admin")
        self.assertEqual((attempt.state, attempt.mode), ("validated", "approved"))
        self.assertEqual(attempt.approval_note, "Plan read: setval past max(id) is safe")
        self.assertEqual(incident.state, "healed")
        self.env["res.partner.category"].create({"name": "created after the approved fix"})
        self.env.flush_all()
        self.assert_screenshot("approval_wizard")
        self.assert_screenshot("incident_healed")

    def test_rejecting_in_the_wizard_escalates_and_writes_nothing(self):
        set_params(self.env, autopilot="suggest")
        incident = self.ingest(self.provoke_pkey_drift())
        self.assertEqual(incident._heal(), "awaiting_approval", incident.decision)
        attempt = incident.fix_attempt_ids
        self.start_tour(f"/odoo/self_healing.incident/{incident.id}", "self_healing_reject_tour", login="admin")
        self.assertEqual(attempt.state, "rejected")
        self.assertEqual(attempt.approval_note, "The table is being restored tonight")
        self.assertFalse(attempt.backup_ids, "a rejected fix never ran")
        self.assertEqual(incident.state, "escalated")
        with self.assertRaises(psycopg2.IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["res.partner.category"].create({"name": "still collides: the sequence was left alone"})
            self.env.flush_all()


@tagged("post_install", "-at_install")
class TestSettingsTour(TourCase):
    def test_settings_page_saves_the_autopilot(self):
        set_params(self.env, autopilot="suggest")
        self.start_tour("/odoo/settings", "self_healing_settings_tour", login="admin")
        params = self.env["ir.config_parameter"].sudo()
        self.assertEqual(params.get_param("self_healing.autopilot"), "off")
        self.assert_screenshot("settings")

    def test_digest_opt_in_from_the_preferences(self):
        admin = self.env.ref("base.user_admin")
        admin.self_healing_digest = False
        self.start_tour("/odoo/self-healing", "self_healing_digest_opt_in_tour", login="admin")
        admin.invalidate_recordset()
        self.assertTrue(admin.self_healing_digest)
