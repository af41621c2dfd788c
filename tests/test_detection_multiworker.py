"""A real prefork server (``--workers=2``): the master's capture never shares a connection with a worker.

Odoo's master empties its connection pool once, before it forks, and forks a
new worker whenever one dies. The master logs a worker's timeout on its main
thread, which still carries the preloaded database's name, so its capture
delivers that signal to the database. The fault as production gets it: a
worker stops answering (SIGSTOP), the master logs the timeout, kills it and
forks a replacement. Then no PostgreSQL socket may be open in both the master
and the new worker (``/proc/<pid>/fd``), and the master's signal is staged.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import odoo
from odoo.tests import tagged
from odoo.tests.common import get_db_name

from .common import ODOO_ROOT
from .test_detection_common import committed_env, use_live_capture

# --limit-time-real: how long the master waits for a silent worker (more than its 4 s heartbeat).
TIME_LIMIT = 6


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid):
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        # The command may contain spaces and parentheses: the fields after the last ')' are fixed.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append((int(entry.name), cmdline))
    return found


def _http_workers(master):
    # The long-polling process is started with exec (its command says gevent); HTTP workers are forks.
    return {pid for pid, cmdline in _children(master) if b"\x00gevent\x00" not in cmdline}


def _listening_inodes():
    inodes = set()
    for name in ("tcp", "tcp6", "unix"):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if name == "unix":
                # Unix sockets: flags 00010000 means listening.
                if len(fields) >= 7 and fields[3] == "00010000":
                    inodes.add(fields[6])
            elif fields[3] == "0A":
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid):
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _wait(check, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    return check()


@tagged("post_install", "-at_install")
class TestPreforkMaster(unittest.TestCase):
    def setUp(self):
        self.dbname = get_db_name()
        use_live_capture(self, self.dbname)
        self.logfile = Path(tempfile.mkdtemp(prefix="self_healing_prefork_")) / "server.log"
        odoo_root = ODOO_ROOT
        command = [
            sys.executable,
            str(odoo_root / "odoo-bin"),
            "-c",
            odoo.tools.config.rcfile,
            "-d",
            self.dbname,
            "--workers=2",
            "--max-cron-threads=0",
            f"--limit-time-real={TIME_LIMIT}",
            "--limit-time-cpu=600",
            f"--http-port={_free_port()}",
            f"--gevent-port={_free_port()}",
            "--http-interface=127.0.0.1",
            "--load=base,web,self_healing",
            "--log-level=warn",
            f"--logfile={self.logfile}",
        ]
        self.output = self.logfile.with_name("output.txt").open("w")
        self.addCleanup(self.output.close)
        self.server = subprocess.Popen(  # noqa: S603 - our own Odoo
            command, stdin=subprocess.DEVNULL, stdout=self.output, stderr=subprocess.STDOUT
        )
        self.addCleanup(self._stop)

    def _stop(self):
        for pid, _cmdline in _children(self.server.pid):
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
        self.server.terminate()
        try:
            self.server.wait(30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait(10)
        with committed_env(self.dbname) as env:
            env.cr.execute(
                "DELETE FROM self_healing_signal WHERE logger = 'odoo.service.server' AND message LIKE %s",
                ["%timeout after%"],
            )

    def _log_tail(self):
        if self.server.poll() is None:
            os.kill(self.server.pid, signal.SIGQUIT)  # Odoo logs every thread's stack
            time.sleep(2)
        texts = []
        for path in (self.logfile, self.logfile.with_name("output.txt")):
            try:
                texts.append(path.read_text()[-3000:])
            except OSError:
                pass
        return f"exit code {self.server.poll()}\n" + "\n".join(texts)

    def _staged_timeout(self, pid):
        with committed_env(self.dbname) as env:
            env.cr.execute(
                "SELECT extra->>'pid' FROM self_healing_signal WHERE message LIKE %s AND id > %s",
                [f"% ({pid}) timeout after%", self.state.max_ids["self_healing_signal"]],
            )
            return env.cr.fetchone()

    def test_master_delivers_a_worker_timeout_without_sharing_its_connection(self):
        master = self.server.pid
        workers = _wait(lambda: len(_http_workers(master)) == 2 and _http_workers(master), 120)
        self.assertTrue(
            workers, f"the server {master} did not start two HTTP workers ({_children(master)}):\n" + self._log_tail()
        )
        # The first replacement is forked before the flusher delivers (it waits up to a second);
        # the second one is forked after the master's capture has been to the database.
        for _round in range(2):
            stalled = min(workers)
            os.kill(stalled, signal.SIGSTOP)
            staged = _wait(lambda stalled=stalled: self._staged_timeout(stalled), 60)
            self.assertTrue(staged, "the master's timeout signal was not staged:\n" + self._log_tail())
            self.assertEqual(int(staged[0]), master, "the signal must come from the master's own capture")
            replacement = _wait(lambda workers=workers: (_http_workers(master) - workers) or None, 60)
            self.assertTrue(replacement, "the master forked no new worker:\n" + self._log_tail())
            workers = _http_workers(master)
        time.sleep(1)  # a delivery in progress ends with its connection closed

        listening = _listening_inodes()
        master_sockets = _socket_inodes(master) - listening
        for worker in workers:
            shared = master_sockets & _socket_inodes(worker)
            self.assertEqual(shared, set(), f"master {master} and worker {worker} share database sockets")
