"""Bad input to bin/self-healing gets one line that says what to do, exit status 2, nothing deleted."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ADDON_ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, str(ADDON_ROOT / "bin" / "self-healing")]
sys.path.insert(0, str(ADDON_ROOT / "bin"))

from selfhealing_cli import pg  # noqa: E402
from selfhealing_cli.errors import UsageError  # noqa: E402


def run(*args, env=None):
    result = subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ, **(env or {}))
    )
    return result.returncode, result.stdout, result.stderr


def assert_one_line_error(code, stderr, *words):
    assert code == 2, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("self-healing: error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_broken_odoo_src(tmp_path):
    code, _out, err = run("demo", env={"ODOO_SRC": str(tmp_path / "nowhere")})
    assert_one_line_error(code, err, "ODOO_SRC", "not an Odoo source tree", "set ODOO_SRC")


def test_port_in_use():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _out, err = run("demo", "--port", str(port))
    assert_one_line_error(code, err, f"port {port}", "--port")


def test_demo_keep_without_check():
    code, _out, err = run("demo", "--keep")
    assert_one_line_error(code, err, "--keep", "--check")


def test_bad_pg_uri():
    code, _out, err = run("test", "--pg", "mysql://root@localhost")
    assert_one_line_error(code, err, "--pg expects postgresql://")


def test_unreachable_pg():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    code, _out, err = run("test", "--pg", f"postgresql://odoo:odoo@127.0.0.1:{closed_port}")
    assert_one_line_error(code, err, "cannot connect")


def test_data_folder_that_is_not_postgresql(tmp_path):
    folder = tmp_path / "pgdata"
    folder.mkdir()
    keep = folder / "precious.txt"
    keep.write_text("not a database")
    with pytest.raises(UsageError, match="not a PostgreSQL data folder"):
        pg.start_embedded(folder)
    assert keep.read_text() == "not a database", "nothing is deleted"


def test_unknown_benchmark():
    code, _out, err = run("bench", "--only", "nonexistent")
    assert_one_line_error(code, err, "no benchmark named nonexistent")


@pytest.mark.skipif(
    not os.environ.get("SELF_HEALING_TEST_PG_DSN"), reason="needs the PostgreSQL that bin/self-healing test provides"
)
def test_database_without_the_addon_is_refused_and_kept():
    import psycopg2

    dsn = dict(part.split("=", 1) for part in os.environ["SELF_HEALING_TEST_PG_DSN"].split())
    admin = psycopg2.connect(**{**dsn, "dbname": "postgres"})
    admin.autocommit = True
    with admin.cursor() as cr:
        cr.execute('DROP DATABASE IF EXISTS "sh_cli_no_addon"')
        cr.execute('CREATE DATABASE "sh_cli_no_addon"')
    try:
        uri = f"postgresql://{dsn['user']}:{dsn.get('password', '')}@:{dsn['port']}/?host={dsn['host']}"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        code, _out, err = run("demo", "--pg", uri, "--db", "sh_cli_no_addon", "--port", str(port))
        assert_one_line_error(code, err, "sh_cli_no_addon", "without self_healing", "--reset")
        with admin.cursor() as cr:
            cr.execute("SELECT 1 FROM pg_database WHERE datname = 'sh_cli_no_addon'")
            assert cr.fetchone(), "the database was not deleted"
    finally:
        with admin.cursor() as cr:
            cr.execute('DROP DATABASE IF EXISTS "sh_cli_no_addon"')
        admin.close()


def test_chaos_unknown_scenario():
    code, _out, err = run("chaos", "--only", "pkey_sequence_drift", "--only", "meteor_strike")
    assert_one_line_error(code, err, "meteor_strike", "--only", "known: pkey_sequence_drift")
