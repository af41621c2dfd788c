import contextlib
import logging
import os
import subprocess
import sys
import threading
import unittest
from pathlib import Path

import odoo
from odoo.sql_db import close_db, db_connect
from odoo.tests import tagged
from odoo.tests.common import get_db_name

from .. import compat
from ..detection import capture, installer
from ..detection.filters import SlowRecordForwarder
from ..detection.sink import StagingSink
from ..detection.sources import CRON_LOGGER
from ..engine.detect.signal import Signal
from ..post_load import post_load
from .test_detection_common import committed_env, flush_capture, staged_rows, use_live_capture

LOGGER = logging.getLogger("odoo.addons.detection_capture_probe")


def capture_handlers():
    return [handler for handler in logging.getLogger().handlers if getattr(handler, capture.INSTALLED_MARKER, False)]


def forwarders(name):
    return [
        handler for handler in logging.getLogger(name).handlers if getattr(handler, SlowRecordForwarder.MARKER, False)
    ]


@contextlib.contextmanager
def thread_database(dbname):
    thread = threading.current_thread()
    previous = getattr(thread, "dbname", None)
    thread.dbname = dbname
    try:
        yield
    finally:
        thread.dbname = previous


@tagged("post_install", "-at_install")
class TestDetectionCapture(unittest.TestCase):
    """The live capture's installation and routing, in this process and in a freshly started one."""

    def setUp(self):
        super().setUp()
        self.dbname = get_db_name()
        use_live_capture(self, self.dbname)

    def test_install_is_idempotent_across_hooks_and_registry_hooks(self):
        handler = installer.current()
        post_load()
        installer.install()
        with committed_env(self.dbname) as env:
            env["self_healing.signal"]._register_hook()
        self.assertEqual(capture_handlers(), [handler])
        for name in installer.SLOW_LOGGERS:
            self.assertEqual(len(forwarders(name)), 1, name)

    def test_a_closed_handler_is_replaced_by_a_working_one(self):
        # What logging.shutdown() does when Odoo's shell or --stop-after-init stops the server.
        installer.current().close()
        handler = installer.install()
        self.assertEqual(capture_handlers(), [handler])
        with thread_database(self.dbname):
            LOGGER.error("capture probe after a shutdown")
        flush_capture()
        rows = staged_rows(
            self.dbname,
            "id > %s AND message = %s",
            [self.state.max_ids["self_healing_signal"], "capture probe after a shutdown"],
        )
        self.assertEqual(len(rows), 1)

    def test_record_without_database_is_counted_and_dropped(self):
        before = installer.stats()
        with thread_database(None):
            LOGGER.error("capture probe without a database")
        flush_capture()
        after = installer.stats()
        self.assertEqual(after["no_database"] - before["no_database"], 1)
        self.assertEqual(after["staged"], before["staged"])

    def test_database_without_the_addon_is_skipped(self):
        bare = f"{self.dbname}_bare_detect"
        with db_connect("postgres").cursor() as cr:
            cr._cnx.autocommit = True
            cr.execute(f'DROP DATABASE IF EXISTS "{bare}"')
            cr.execute(f'CREATE DATABASE "{bare}"')
        self.addCleanup(self._drop_database, bare)
        before = installer.stats()
        with thread_database(bare):
            LOGGER.error("capture probe in a database without the addon")
            LOGGER.error("capture probe in a database without the addon, again")
        flush_capture()
        after = installer.stats()
        self.assertEqual(after["not_installed"] - before["not_installed"], 2)
        self.assertEqual(after["sink_lost"], before["sink_lost"])
        self.assertEqual(after["staged"], before["staged"])

    def _drop_database(self, name):
        installer.sink_of(installer.current()).forget(name)
        close_db(name)
        with db_connect("postgres").cursor() as cr:
            cr._cnx.autocommit = True
            cr.execute(f'DROP DATABASE IF EXISTS "{name}"')

    def test_capture_level_is_chosen_per_database(self):
        message = "capture probe at warning level"
        where = "id > %s AND message = %s"
        with thread_database(self.dbname):
            LOGGER.warning(message)
        flush_capture()
        self.assertFalse(staged_rows(self.dbname, where, [self.state.max_ids["self_healing_signal"], message]))
        self.state.set_params({"self_healing.capture_level": "WARNING"})
        self.assertEqual(installer.current().level, logging.WARNING, "the handler follows the lowest level")
        captured = installer.stats()["captured"]
        with thread_database(f"{self.dbname}_other"):
            LOGGER.warning("capture probe for a database that keeps the default level")
        with thread_database(self.dbname):
            LOGGER.warning(message)
        flush_capture()
        rows = staged_rows(self.dbname, where, [self.state.max_ids["self_healing_signal"], message])
        self.assertEqual([row["level"] for row in rows], ["WARNING"])
        self.assertEqual(installer.stats()["captured"] - captured, 1, "the other database's warning was filtered")

    def test_counters_are_written_to_the_database(self):
        with thread_database(self.dbname):
            LOGGER.error("capture probe for the counters")
        flush_capture()
        with committed_env(self.dbname) as env:
            self.assertTrue(installer.write_stats(env.cr))
            row = env["self_healing.capture.stat"].search([("pid", "=", os.getpid())])
            self.assertEqual(len(row), 1)
            self.assertGreaterEqual(row.captured, 1)
            self.assertEqual(row.dropped, installer.stats()["dropped"])
            settings = env["res.config.settings"].create({})
            self.assertIn("captured", settings.self_healing_capture_summary)

    def test_post_load_installs_once_in_a_new_server_process(self):
        script = (
            # Each module imported by name: 19.0's "import odoo" loads none of its subpackages.
            "import logging, sys\n"
            "import odoo.service.server, odoo.tools\n"
            "from odoo.modules.registry import Registry\n"
            "odoo.tools.config.parse_config(['-c', sys.argv[1], '--no-http', '--log-level=warn'])\n"
            "def count():\n"
            "    return sum(1 for h in logging.getLogger().handlers if getattr(h, '_self_healing_capture_handler', False))\n"
            "print('before', count())\n"
            "odoo.service.server.load_server_wide_modules()\n"
            "print('post_load', count())\n"
            "Registry(sys.argv[2])\n"
            "Registry.new(sys.argv[2])\n"
            "Registry.new(sys.argv[2])\n"
            "forwarders = [h for h in logging.getLogger('werkzeug').handlers if getattr(h, '_self_healing_slow_forwarder', False)]\n"
            "print('reloads', count(), len(forwarders))\n"
        )
        odoo_root = Path(compat.ODOO_PACKAGE_DIR).parent
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(odoo_root), os.environ.get("PYTHONPATH")])))
        result = subprocess.run(
            [sys.executable, "-c", script, odoo.tools.config.rcfile, self.dbname],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertEqual(result.stdout.split(), ["before", "0", "post_load", "1", "reloads", "1", "1"])

    def test_sink_wakes_the_processing_cron_but_not_for_its_own_failure(self):
        with committed_env(self.dbname) as env:
            cron = env.ref("self_healing.ir_cron_process_signals")
            cron_id, action_id = cron.id, cron.ir_actions_server_id.id

        def triggers():
            with committed_env(self.dbname) as env:
                env.cr.execute(
                    "SELECT count(*) FROM ir_cron_trigger WHERE cron_id = %s AND id > %s",
                    [cron_id, self.state.max_ids["ir_cron_trigger"]],
                )
                return env.cr.fetchone()[0]

        sink = StagingSink()
        own_failure = Signal(
            source="log",
            logger=CRON_LOGGER,
            dbname=self.dbname,
            message=(f"Job 'Self-Healing: group signals into incidents' ({cron_id}) server action #{action_id} failed"),
        )
        sink(self.dbname, [own_failure.to_dict()])
        self.assertEqual((sink.stats()["staged"], triggers()), (1, 0))
        sink(self.dbname, [Signal(source="log", message="capture probe for the trigger", dbname=self.dbname).to_dict()])
        self.assertEqual((sink.stats()["staged"], triggers()), (2, 1))
