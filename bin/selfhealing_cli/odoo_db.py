"""Create, install and inspect the databases the commands use."""

import contextlib
import subprocess

from .errors import UsageError
from .paths import RUN_DIR

LOG_DIR = RUN_DIR / "logs"


def addon_state(cluster, dbname):
    """``installed``, another module state, ``None`` (no such module row) or ``'no-odoo'``."""
    with contextlib.closing(cluster.connect(dbname)) as conn, conn.cursor() as cr:
        cr.execute("SELECT to_regclass('ir_module_module')")
        if cr.fetchone()[0] is None:
            return "no-odoo"
        cr.execute("SELECT state FROM ir_module_module WHERE name = 'self_healing'")
        row = cr.fetchone()
        return row[0] if row else None


def install_addon(odoo, config, dbname, demo, log_name, modules=("self_healing",)):
    """Install ``modules`` (and what they need) in ``dbname``; return the loader's log lines."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{log_name}.log"
    args = [
        "server",
        "-c",
        str(config),
        "-d",
        dbname,
        "-i",
        ",".join(modules),
        "--stop-after-init",
        "--no-http",
        f"--logfile={log_path}",
        "--log-level=info",
    ]
    if not demo:
        args.append("--without-demo=all")
    if log_path.exists():
        log_path.unlink()
    result = subprocess.run(odoo.command(*args), env=odoo.environment(), check=False)
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    if result.returncode != 0 or addon_failed(lines):
        tail = "\n".join(lines[-40:])
        raise UsageError(f"installing {', '.join(modules)} in {dbname} failed; see {log_path}\n{tail}")
    return lines


def addon_failed(lines):
    return any(" CRITICAL " in line or "Failed to load registry" in line for line in lines)


def loader_complaints(lines):
    """WARNING/ERROR lines the loader wrote about self_healing while installing it."""
    return [line for line in lines if (" WARNING " in line or " ERROR " in line) and "self_healing" in line]
