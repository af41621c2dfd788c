import logging
import unittest
from xmlrpc import client as xmlrpclib

from odoo.tests import HttpCase, tagged

from .. import compat
from ..detection import rpc_faults
from .test_detection_common import committed_env, staged_rows, use_live_capture, wait_for

ONLY_18 = unittest.skipIf(
    compat.xmlrpc_fault_builders() is None, "19.0 raises XML-RPC faults again and odoo.http logs them"
)


@tagged("post_install", "-at_install")
class TestDetectionXmlrpc(HttpCase):
    """Faults an integration meets over XML-RPC: logged once, the caller's Fault unchanged, an incident."""

    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        use_live_capture(self, self.dbname)
        self.partners = self.env["res.partner"].create([{"name": f"XML-RPC partner {i}"} for i in range(2)])
        builders = compat.xmlrpc_fault_builders()
        # Where Odoo itself logs the fault: 18.0 through this addon, 19.0 through odoo.http.
        self.fault_logger = builders.__name__ if builders is not None else "odoo.http"

    def execute(self, model, method, *args, password="admin"):
        return self.xmlrpc_object.execute_kw(self.dbname, 2, password, model, method, list(args))

    def test_server_error_is_logged_once_and_becomes_an_incident(self):
        with self.assertRaises(xmlrpclib.Fault) as caught:
            self.execute("res.partner", "open_commercial_entity", self.partners.ids)
        # The caller's answer is what Odoo gives without the addon: an application error with the traceback.
        self.assertEqual(caught.exception.faultCode, 1)
        self.assertIn("Expected singleton: res.partner", caught.exception.faultString)
        self.assertIn("Traceback (most recent call last)", caught.exception.faultString)

        where = "id > %s AND message = 'Exception during request handling.' AND traceback LIKE %s"
        params = (self.state.max_ids["self_healing_signal"], "%Expected singleton: res.partner%")
        self.assertTrue(wait_for(lambda: staged_rows(self.dbname, where, params)))
        # A second line would be a double log (19.0 already logs it; the wrap must not add one).
        self.assertFalse(wait_for(lambda: len(staged_rows(self.dbname, where, params)) > 1, timeout=0.5))
        (row,) = staged_rows(self.dbname, where, params)
        self.assertEqual(row["level"], "ERROR")
        self.assertEqual(row["logger"], self.fault_logger)
        self.assertEqual(row["request_path"], "/xmlrpc/2/object")
        self.assertEqual(row["uid"], 2)

        with committed_env(self.dbname) as env:
            env["self_healing.signal"]._process_staged()
            incident = env["self_healing.incident"].search(
                [
                    ("id", ">", self.state.max_ids["self_healing_incident"]),
                    ("message_template", "=", "Expected singleton: res.partner(<ids>)"),
                ]
            )
            self.assertEqual(len(incident), 1)
            self.assertEqual(incident.exception_type, "ValueError")
            self.assertEqual(incident.module, "base")
            self.assertIn("open_commercial_entity", incident.sample_traceback)

    def test_user_error_is_a_warning_without_traceback(self):
        with self.assertLogs(self.fault_logger, logging.WARNING) as logged:
            with self.assertRaises(xmlrpclib.Fault) as caught:
                # base refuses to delete the administrator: a UserError, answered as a warning.
                self.execute("res.users", "unlink", [2])
        self.assertEqual(caught.exception.faultCode, 2)
        records = [record for record in logged.records if record.getMessage() in caught.exception.faultString]
        self.assertEqual(len(records), 1, [record.getMessage() for record in logged.records])
        self.assertEqual(records[0].levelno, logging.WARNING)
        self.assertIsNone(records[0].exc_info)

    @ONLY_18
    def test_wrong_password_is_not_logged_as_a_fault(self):
        with self.assertNoLogs(self.fault_logger, logging.DEBUG):
            with self.assertRaises(xmlrpclib.Fault) as caught:
                self.execute("res.partner", "search", [], password="not the password")
        self.assertEqual(caught.exception.faultCode, 3)

    @ONLY_18
    def test_installing_twice_logs_once(self):
        module = compat.xmlrpc_fault_builders()
        rpc_faults.install(module)
        rpc_faults.install(module)
        for name in rpc_faults.BUILDERS:
            # One wrap around Odoo's own function, not a wrap around a wrap.
            original = getattr(getattr(module, name), rpc_faults.WRAPPED)
            self.assertFalse(hasattr(original, rpc_faults.WRAPPED), name)
        with self.assertLogs(module.__name__, logging.ERROR) as logged:
            try:
                raise ValueError("an unexpected fault")
            except ValueError as exc:
                answer = module.xmlrpc_handle_exception_int(exc)
        self.assertEqual(len(logged.records), 1)
        self.assertIn("an unexpected fault", answer)

    @ONLY_18
    def test_uninstall_puts_the_original_builders_back(self):
        module = compat.xmlrpc_fault_builders()
        self.addCleanup(rpc_faults.install, module)
        rpc_faults.install(module)
        wrapped = {name: getattr(module, name) for name in rpc_faults.BUILDERS}
        rpc_faults.uninstall(module)
        for name in rpc_faults.BUILDERS:
            original = getattr(module, name)
            self.assertIs(original, getattr(wrapped[name], rpc_faults.WRAPPED))
            self.assertFalse(hasattr(original, rpc_faults.WRAPPED))
        with self.assertNoLogs(module.__name__, logging.DEBUG):
            try:
                raise ValueError("not logged once uninstalled")
            except ValueError as exc:
                module.xmlrpc_handle_exception_int(exc)
