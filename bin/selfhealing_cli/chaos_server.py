"""A real Odoo server process for the chaos command: threaded, with cron workers, logging to a file."""

import subprocess
import sys
import time
import urllib.error
import urllib.request

from .errors import UsageError


class OdooServer:
    def __init__(self, odoo, config, dbname, port, log_path, script=None):
        self.odoo = odoo
        self.config = config
        self.dbname = dbname
        self.port = port
        self.log_path = log_path
        # A launcher script, for prefork mode: its master re-executes sys.argv[0] for the gevent worker.
        self.script = script
        self.process = None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=180):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        options = ("-c", str(self.config), "-d", self.dbname, f"--logfile={self.log_path}")
        command = [sys.executable, str(self.script), *options] if self.script else self.odoo.command("server", *options)
        self.process = subprocess.Popen(
            command,
            env=self.odoo.environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise UsageError(
                    f"Odoo stopped while starting (exit code {self.process.returncode}); see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(self.base_url + "/web/health", timeout=5) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        self.stop()
        raise UsageError(f"Odoo did not answer on {self.base_url} within {timeout} s; see {self.log_path}")

    def stop(self, timeout=30):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
