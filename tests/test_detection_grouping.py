import socket
import traceback
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from ..engine.detect.signal import Signal
from ..models.ir_logging import WATERMARK_PARAM
from . import autopatch_faults as faults
from .common import SelfHealingCase, cron_batch_env, read_field_error

# The smallest valid PNG: a screenshot as far as the wizard is concerned.
PIXEL_PNG = b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def traceback_of(call):
    """The printed traceback of what ``call`` really raises."""
    try:
        call()
    except Exception:  # noqa: BLE001 - any fault is what we want to see
        return traceback.format_exc()
    raise AssertionError("the call did not fail")


@tagged("post_install", "-at_install")
class TestDetectionGrouping(SelfHealingCase):
    """Signals from every source grouped into incidents, in a test transaction."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partners = cls.env["res.partner"].create([{"name": f"Grouping partner {i}"} for i in range(4)])

    def signal(self, traceback_text, **values):
        data = {
            "source": "log",
            "logger": "odoo.http",
            "message": "Exception during request handling.",
            "traceback": traceback_text,
            "dbname": self.env.cr.dbname,
            "uid": self.env.uid,
        }
        data.update(values)
        return Signal(**data).to_dict()

    def ingest(self, *signals):
        return self.Incident._ingest_signals(list(signals))

    def set_params(self, **values):
        for name, value in values.items():
            self.env["ir.config_parameter"].set_param(f"self_healing.{name}", value)

    # --- grouping ---------------------------------------------------------------

    def test_same_fault_with_other_ids_is_one_incident(self):
        first = traceback_of(lambda: self.partners[:2].ensure_one())
        second = traceback_of(lambda: self.partners[2:].ensure_one())
        self.assertNotEqual(first, second)
        result = self.ingest(self.signal(first), self.signal(second))
        self.assertEqual((result.created, result.occurrences), (1, 2))
        incident = result.incidents
        self.assertEqual(incident.occurrence_count, 2)
        self.assertEqual(len(incident.occurrence_ids), 2)
        self.assertEqual(incident.message_template, "Expected singleton: res.partner(<ids>)")
        self.assertEqual(incident.exception_type, "ValueError")
        self.assertEqual(incident.name, "ValueError: Expected singleton: res.partner(<ids>)")
        # A third occurrence later bumps the same incident.
        again = self.ingest(self.signal(first, occurred_at=fields.Datetime.now() + timedelta(minutes=5)))
        self.assertEqual((again.created, again.incidents), (0, incident))
        self.assertEqual(incident.occurrence_count, 3)
        self.assertGreater(incident.last_seen, incident.first_seen)

    def test_bad_query_line_goes_with_its_traceback(self):
        query = "SELECT x_grouping_gone FROM res_partner"
        error = {}

        def failing_query():
            with self.env.cr.savepoint(flush=False):
                try:
                    self.env.cr.execute(query, log_exceptions=False)
                except Exception as exc:
                    error["text"] = str(exc)
                    raise

        text = traceback_of(failing_query)
        context = {"request_path": "/web/dataset/call_kw/res.partner/web_search_read", "extra": {"pid": 7}}
        now = fields.Datetime.now()
        # What odoo.sql_db logs first, then what the request logs a few milliseconds later.
        line = self.signal(
            "", logger="odoo.sql_db", message=f"bad query: {query}\nERROR: {error['text']}", occurred_at=now, **context
        )
        result = self.ingest(line, self.signal(text, occurred_at=now + timedelta(milliseconds=5), **context))
        self.assertEqual((result.created, result.occurrences), (1, 1))
        self.assertEqual(result.skipped, {"sql_line_of_traceback": 1})
        self.assertEqual(result.incidents.exception_type, "psycopg2.errors.UndefinedColumn")
        self.assertTrue(result.incidents.occurrence_ids.traceback)
        self.assertEqual(result.incidents.occurrence_ids.extra["sql"], line["message"])
        # Alone (the error was caught, no traceback followed), the line is an incident of its own.
        alone = self.ingest(dict(line, occurred_at=(now + timedelta(minutes=1)).isoformat()))
        self.assertEqual((alone.created, alone.occurrences), (1, 1))
        self.assertNotEqual(alone.incidents, result.incidents)

    def test_different_field_is_another_incident(self):
        result = self.ingest(
            self.signal(traceback_of(lambda: self.partners[:1].read(["x_grouping_missing_a"]))),
            self.signal(traceback_of(lambda: self.partners[:1].read(["x_grouping_missing_b"]))),
        )
        self.assertEqual(result.created, 2)
        self.assertEqual(
            sorted(result.incidents.mapped("message_template")),
            [
                read_field_error("res.partner", "x_grouping_missing_a"),
                read_field_error("res.partner", "x_grouping_missing_b"),
            ],
        )

    def test_business_errors_are_not_incidents_unless_configured(self):
        def make_recursive():
            partner = self.partners[0]
            with self.env.cr.savepoint():
                partner.parent_id = partner
                partner.flush_recordset()

        refusal = traceback_of(make_recursive)
        self.assertIn("ValidationError", refusal)
        result = self.ingest(self.signal(refusal))
        self.assertEqual((result.created, result.skipped), (0, {"business_error": 1}))
        self.set_params(business_exceptions="RedirectWarning,AccessDenied")
        result = self.ingest(self.signal(refusal))
        self.assertEqual(result.created, 1)
        self.assertEqual(result.incidents.exception_type, "odoo.exceptions.ValidationError")

    def test_levels_below_the_capture_level_are_skipped(self):
        warning = self.signal("", message="Some module said something odd", level="WARNING", logger="odoo.addons.x")
        self.assertEqual(self.ingest(warning).skipped, {"below_level": 1})
        self.set_params(capture_level="WARNING")
        self.assertEqual(self.ingest(warning).created, 1)

    def test_cron_log_lines_are_told_apart(self):
        failed = self.signal(
            traceback_of(lambda: 1 / 0),
            logger="odoo.addons.base.models.ir_cron",
            message="Job 'Nightly sync' (77) server action #91 failed",
        )
        slow = self.signal(
            "",
            logger="odoo.addons.base.models.ir_cron",
            level="WARNING",
            message="Job 'Nightly sync' (77) done in 700.250s",
        )
        quick = self.signal(
            "",
            logger="odoo.addons.base.models.ir_cron",
            level="WARNING",
            message="Job 'Nightly sync' (77) done in 2.000s",
        )
        deactivated = self.signal(
            "",
            logger="odoo.addons.base.models.ir_cron",
            level="WARNING",
            message=(
                "Cron job 'Nightly sync' (77) has been deactivated after failing 5 times. "
                "More information can be found in the server logs around 2024-05-01 10:00:00."
            ),
        )
        mail_log = self.signal(
            traceback_of(lambda: 1 / 0),
            logger="odoo.addons.mail.models.mail_mail",
            message="failed sending mail (id: 4) due to boom",
        )
        self.set_params(capture_level="WARNING")
        result = self.ingest(failed, slow, quick, deactivated, mail_log)
        self.assertEqual(result.skipped, {"not_slow": 1, "reported_elsewhere": 2})
        by_source = {incident.source: incident for incident in result.incidents}
        self.assertEqual(set(by_source), {"cron", "performance"})
        self.assertEqual(by_source["cron"].exception_type, "ZeroDivisionError")
        self.assertEqual(
            by_source["cron"].occurrence_ids.extra,
            {
                **by_source["cron"].occurrence_ids.extra,
                "cron_id": 77,
                "cron_name": "Nightly sync",
                "server_action_id": 91,
            },
        )
        self.assertEqual(by_source["performance"].name, "Slow scheduled action: Nightly sync")
        self.assertEqual(by_source["performance"].occurrence_ids.extra["duration"], 700.25)

    # --- lifecycle --------------------------------------------------------------

    def test_healed_incident_that_recurs_is_a_regression(self):
        fault = self.signal(traceback_of(lambda: self.partners[:2].ensure_one()))
        incident = self.ingest(fault).incidents
        attempt = self.Attempt.create({"incident_id": incident.id, "mode": "auto", "autopatch_code": "noop"})
        attempt._set_state("applied")
        attempt._set_state("validated")
        attempt.healed_at = fields.Datetime.now()
        incident._set_state("fixing")
        incident._set_state("healed")

        # Logged before the healing, delivered after it: history, not a regression.
        late = self.signal(
            traceback_of(lambda: self.partners[:2].ensure_one()), occurred_at=incident.healed_at - timedelta(seconds=2)
        )
        result = self.ingest(late)
        self.assertEqual((result.created, result.reopened, result.incidents), (0, 0, incident))
        self.assertEqual((incident.state, incident.occurrence_count), ("healed", 2))

        again = self.signal(
            traceback_of(lambda: self.partners[:2].ensure_one()), occurred_at=incident.healed_at + timedelta(seconds=5)
        )
        result = self.ingest(again)
        self.assertEqual((result.created, result.reopened, result.incidents), (0, 1, incident))
        self.assertEqual(incident.state, "new")
        self.assertEqual(incident.regression_count, 1)
        self.assertEqual(incident.occurrence_count, 3)
        note = incident.message_ids.filtered(lambda message: "Regression" in (message.body or ""))[:1]
        self.assertTrue(note, "the reopening is explained in the chatter")
        self.assertIn(f'data-oe-id="{attempt.id}"', note.body)
        self.assertIn('data-oe-model="self_healing.fix.attempt"', note.body)

    def test_ignored_incident_only_counts(self):
        fault = self.signal(traceback_of(lambda: self.partners[:2].ensure_one()))
        incident = self.ingest(fault).incidents
        incident.action_ignore()
        result = self.ingest(fault)
        self.assertEqual((result.reopened, incident.state, incident.occurrence_count), (0, "ignored", 2))

    def test_retention_by_count_and_age(self):
        self.set_params(occurrence_keep_count="3", occurrence_keep_days="30")
        now = fields.Datetime.now()
        busy = self.make_incident(fingerprint="retention-busy")
        stale = self.make_incident(fingerprint="retention-stale")
        mixed = self.make_incident(fingerprint="retention-mixed")
        Occurrence = self.env["self_healing.occurrence"]
        Occurrence.create([{"incident_id": busy.id, "occurred_at": now - timedelta(minutes=i)} for i in range(6)])
        Occurrence.create([{"incident_id": stale.id, "occurred_at": now - timedelta(days=d)} for d in (40, 50)])
        Occurrence.create([{"incident_id": mixed.id, "occurred_at": now - timedelta(days=d)} for d in (0, 45)])

        deleted, remaining = Occurrence._enforce_retention(batch_size=2)
        self.assertEqual(deleted, 2)
        while remaining:
            deleted, remaining = Occurrence._enforce_retention(batch_size=2)
        busy.invalidate_recordset()
        self.assertEqual(
            sorted(busy.occurrence_ids.mapped("occurred_at"), reverse=True),
            [now, now - timedelta(minutes=1), now - timedelta(minutes=2)],
        )
        self.assertEqual(stale.occurrence_ids.mapped("occurred_at"), [now - timedelta(days=40)])
        self.assertEqual(mixed.occurrence_ids.mapped("occurred_at"), [now])
        self.assertEqual(busy.occurrence_count, 1, "the count is history, not the rows kept")

    # --- sources that run inside a transaction ---------------------------------

    def test_ir_logging_rows_are_scanned_once(self):
        Logging = self.env["ir.logging"]
        self.env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM ir_logging")
        self.env["ir.config_parameter"].set_param(WATERMARK_PARAM, str(self.env.cr.fetchone()[0]))
        common = {"func": "f", "line": "1", "dbname": self.env.cr.dbname}
        Logging.create(
            [
                {
                    **common,
                    "name": "web.client",
                    "type": "client",
                    "level": "ERROR",
                    "path": "/web/assets/app.js",
                    "message": "TypeError: Cannot read properties of undefined (reading 'x_client_field')",
                },
                {
                    **common,
                    "name": "odoo.addons.base.models.ir_actions",
                    "type": "server",
                    "level": "error",
                    "path": "action",
                    "message": "Supplier sync failed: no connection to host 10.0.0.7",
                },
                # Written by --log-db's handler from a log record this process's live capture also took.
                {
                    **common,
                    "name": "odoo.http",
                    "type": "server",
                    "level": "ERROR",
                    "path": "/odoo/http.py",
                    "message": "Exception during request handling.\nTraceback (most recent call last):\nValueError: x",
                },
                {
                    **common,
                    "name": "web.client",
                    "type": "client",
                    "level": "ERROR",
                    "path": "/web",
                    "dbname": "another_db",
                    "message": "Error in another database",
                },
                {
                    **common,
                    "name": "web.client",
                    "type": "client",
                    "level": "WARNING",
                    "path": "/web",
                    "message": "Just a warning",
                },
            ]
        )
        self.assertEqual(Logging._self_healing_scan(), 2)
        self.assertEqual(Logging._self_healing_scan(), 0, "the watermark moved past the rows")
        self.env["self_healing.signal"]._process_staged()
        incidents = self.Incident.search([("source", "=", "ir_logging")])
        self.assertEqual(
            sorted((i.exception_type or "", i.message_template) for i in incidents),
            [
                ("", "Supplier sync failed: no connection to host <n>"),
                ("TypeError", "Cannot read properties of undefined (reading 'x_client_field')"),
            ],
        )
        extra = incidents.occurrence_ids.mapped("extra")
        self.assertEqual({row["type"] for row in extra}, {"client", "server"})

    def test_first_ir_logging_scan_looks_back_one_day(self):
        self.env["ir.config_parameter"].search([("key", "=", WATERMARK_PARAM)]).unlink()
        self.env["ir.logging"].create(
            {
                "name": "web.client",
                "type": "client",
                "level": "ERROR",
                "path": "/web",
                "func": "f",
                "line": "1",
                "message": "Recent client error",
                "dbname": self.env.cr.dbname,
            }
        )
        self.assertGreaterEqual(self.env["ir.logging"]._self_healing_scan(), 1)

    def test_mail_delivery_failure_against_a_closed_port(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        server = self.env["ir.mail_server"].create(
            {
                "name": "Closed port",
                "smtp_host": "127.0.0.1",
                "smtp_port": closed_port,
                "smtp_encryption": "none",
            }
        )
        mails = self.env["mail.mail"].create(
            [
                {
                    "subject": f"Detection {i}",
                    "email_from": "sender@example.com",
                    "email_to": "to@example.com",
                    "body_html": "<p>Hello</p>",
                    "mail_server_id": server.id,
                }
                for i in range(2)
            ]
        )
        with faults.real_smtp():  # 19.0's pytest-odoo marks the running test, and Odoo then skips SMTP
            mails.send()
        self.assertEqual(set(mails.mapped("state")), {"exception"})
        self.assertIn("Connection refused", mails[0].failure_reason)
        self.env["self_healing.signal"]._process_staged()
        incident = self.Incident.search([("source", "=", "mail")])
        self.assertEqual(len(incident), 1)
        self.assertEqual(incident.occurrence_count, 2)
        self.assertEqual(incident.message_template, "Mail delivery failed (mail_smtp): <n> Connection refused")
        self.assertEqual(set(incident.occurrence_ids.mapped(lambda o: o.extra["mail_id"])), set(mails.ids))
        self.assertTrue(
            self.env["ir.cron.trigger"].search(
                [("cron_id", "=", self.env.ref("self_healing.ir_cron_process_signals").id)]
            )
        )

    def test_user_report_by_any_internal_user(self):
        reporter = new_test_user(self.env, login="detection_reporter", groups="base.group_user")
        wizard = (
            self.env["self_healing.report.problem"]
            .with_user(reporter)
            .create(
                {
                    "description": "The quotation page shows an error when I save\nIt happened twice.",
                    "page_url": "http://localhost:8069/odoo/sales/12",
                    "screenshot": PIXEL_PNG,
                    "screenshot_name": "quotation.png",
                }
            )
        )
        action = wizard.action_submit()
        self.assertEqual(action["params"]["type"], "success")
        incident = self.Incident.search([("source", "=", "user_report")])
        self.assertEqual(len(incident), 1)
        self.assertEqual(incident.name, "Reported by a user: The quotation page shows an error when I save")
        occurrence = incident.occurrence_ids
        self.assertEqual((occurrence.user_id, occurrence.request_path), (reporter, "/odoo/sales/12"))
        attachment = self.env["ir.attachment"].search(
            [("res_model", "=", incident._name), ("res_id", "=", incident.id)]
        )
        self.assertEqual(attachment.name, "quotation.png")
        self.assertEqual(incident.message_ids[0].author_id, reporter.partner_id)
        with self.assertRaises(AccessError):
            self.Incident.with_user(reporter).search([])

    def test_processing_cron_reports_progress(self):
        Signal_ = self.env["self_healing.signal"]
        pending = Signal_._pending_count()
        Signal_._stage([self.signal(traceback_of(lambda: self.partners[:2].ensure_one())) for _i in range(3)])
        cron = self.env.ref("self_healing.ir_cron_process_signals")
        cron, progress = cron._add_progress()
        with cron_batch_env(self) as env:
            env["self_healing.signal"].with_context(cron_id=cron.id, ir_cron_progress_id=progress.id)._cron_process(
                batch_size=2
            )
        self.assertEqual((progress.done, progress.remaining), (2, pending + 1))
