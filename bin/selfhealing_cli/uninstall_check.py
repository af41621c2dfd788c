"""Prove the addon uninstalls cleanly: on a copy of the installed test database."""

import contextlib
import subprocess

from .odoo_db import LOG_DIR

UNINSTALL_SCRIPT = """
# An API key as a configured installation has one: uninstalling must not leave it behind.
env['ir.config_parameter'].set_param('self_healing.llm_api_key', 'sk-uninstall-check')
env['ir.module.module'].search([('name', '=', 'self_healing')]).button_immediate_uninstall()
env.cr.commit()
"""


def check_uninstall(odoo, config, cluster, dbname):
    copy = f"{dbname}_uninstall"
    cluster.drop_database(copy)
    with contextlib.closing(cluster.connect()) as conn, conn.cursor() as cr:
        cr.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{dbname}"')
    log_path = LOG_DIR / f"test-uninstall-{dbname}.log"
    try:
        result = subprocess.run(
            odoo.command(
                "shell", "-c", str(config), "-d", copy, "--no-http", "--load=base,web", f"--logfile={log_path}"
            ),
            input=UNINSTALL_SCRIPT,
            text=True,
            env=odoo.environment(),
            check=False,
            capture_output=True,
        )
        with contextlib.closing(cluster.connect(copy)) as conn, conn.cursor() as cr:
            cr.execute("SELECT string_agg(DISTINCT state, ',') FROM ir_module_module WHERE name LIKE 'self\\_healing%'")
            state = cr.fetchone()[0]
            cr.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'self\\_healing\\_%'")
            leftover_tables = cr.fetchone()[0]
            cr.execute("SELECT count(*) FROM ir_config_parameter WHERE key LIKE 'self\\_healing.%'")
            leftover_parameters = cr.fetchone()[0]
        errors = (
            [
                line
                for line in log_path.read_text(errors="replace").splitlines()
                if " ERROR " in line or " CRITICAL " in line
            ]
            if log_path.exists()
            else []
        )
        if result.returncode != 0 or state != "uninstalled" or leftover_tables or leftover_parameters or errors:
            print(
                f"self-healing: uninstall check failed (state={state}, tables left={leftover_tables},"
                f" system parameters left={leftover_parameters}); see {log_path}",
                *errors,
                result.stderr[-2000:],
                sep="\n",
            )
            return False
        return True
    finally:
        with contextlib.suppress(Exception):
            cluster.drop_database(copy)
