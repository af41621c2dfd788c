"""Vector store on a real PostgreSQL: pgvector HNSW, exact scan and numpy fallback.

Server: the embedded PostgreSQL 18 with pgvector (``start_embedded`` from
bin/selfhealing_cli/pg.py, data in /tmp/self_healing-engine-tests-pg), or the
one named by the environment variable SELF_HEALING_TEST_PG_DSN: a libpq DSN
or URI (e.g. ``postgresql://odoo@localhost:5432/postgres``) whose role may
create databases and roles. Tests needing pgvector are skipped when that
server lacks it. Scratch databases are made here and dropped at the end; the
fallback runs in one where the extension is never created.
"""

import contextlib
import os
import sys
from pathlib import Path

import numpy
import psycopg2
import psycopg2.extensions
import pytest

from engine.similar import embed, vector_store

ADDON_ROOT = Path(__file__).resolve().parents[2]
DIMENSION = 128
ROWS = 1500
KINDS = ("database", "views", "mail", "access", "cron")


class Server:
    """Where the scratch databases live, and how to reach them."""

    def __init__(self, params, keepalive=None):
        self.params = params
        self.keepalive = keepalive  # the embedded server handle, while tests run

    def connect(self, dbname, autocommit=False):
        conn = psycopg2.connect(**{**self.params, "dbname": dbname})
        conn.autocommit = autocommit
        return conn

    def admin(self, statement, params=None):
        with contextlib.closing(self.connect(self.params.get("dbname") or "postgres", autocommit=True)) as conn:
            with conn.cursor() as cr:
                cr.execute(statement, params)

    def recreate(self, dbname):
        self.drop(dbname)
        self.admin(f'CREATE DATABASE "{dbname}" TEMPLATE template0')

    def drop(self, dbname):
        self.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (dbname,))
        self.admin(f'DROP DATABASE IF EXISTS "{dbname}"')


@pytest.fixture(scope="module")
def server():
    dsn = os.environ.get("SELF_HEALING_TEST_PG_DSN")
    if dsn:
        return Server(psycopg2.extensions.parse_dsn(dsn))
    sys.path.insert(0, str(ADDON_ROOT / "bin"))
    from selfhealing_cli.pg import start_embedded

    cluster = start_embedded("/tmp/self_healing-engine-tests-pg")
    params = {"host": cluster.host, "port": cluster.port, "user": cluster.user, "dbname": "postgres"}
    return Server(params, keepalive=cluster)


@pytest.fixture(scope="module")
def server_has_pgvector(server):
    with contextlib.closing(server.connect("postgres", autocommit=True)) as conn, conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        return bool(cr.fetchone())


@pytest.fixture(scope="module")
def scratch(server):
    names = []

    def make(label):
        dbname = f"sh_vector_{label}_{os.getpid()}"
        server.recreate(dbname)
        names.append(dbname)
        return dbname

    yield make
    for dbname in names:
        server.drop(dbname)


def clustered_vectors(count, seed):
    """Unit vectors in groups, so that neighbours are meaningful."""
    rng = numpy.random.default_rng(seed)
    centres = rng.standard_normal((max(2, count // 25), DIMENSION))
    members = centres[rng.integers(len(centres), size=count)] + 0.7 * rng.standard_normal((count, DIMENSION))
    return members / numpy.linalg.norm(members, axis=1, keepdims=True)


DATA = clustered_vectors(ROWS, seed=11)
PROBES = clustered_vectors(25, seed=12)


def create_kb(cr, rows=ROWS, create_extension=True):
    cr.execute("CREATE TABLE kb (id serial PRIMARY KEY, kind varchar NOT NULL, active boolean NOT NULL)")
    cr.execute(
        "INSERT INTO kb (kind, active) SELECT (%s::varchar[])[1 + g %% 5], g %% 7 <> 0 FROM generate_series(1, %s) g",
        (list(KINDS), rows),
    )
    backend = vector_store.ensure_vector_column(cr, "kb", "embedding", DIMENSION, create_extension=create_extension)
    vector_store.write_vectors(cr, "kb", ((index + 1, vector) for index, vector in enumerate(DATA[:rows])))
    return backend


@pytest.fixture(scope="module")
def vector_db(server, server_has_pgvector, scratch):
    if not server_has_pgvector:
        pytest.skip("this PostgreSQL has no pgvector extension")
    dbname = scratch("pgvector")
    with contextlib.closing(server.connect(dbname)) as conn, conn.cursor() as cr:
        assert create_kb(cr) == "pgvector"
        conn.commit()
    return dbname


@pytest.fixture(scope="module")
def plain_db(server, scratch):
    dbname = scratch("plain")
    with contextlib.closing(server.connect(dbname)) as conn, conn.cursor() as cr:
        assert create_kb(cr, create_extension=False) == "numpy"
        conn.commit()
    return dbname


@pytest.fixture
def connect(server):
    opened = []

    def open_connection(dbname, autocommit=False):
        conn = server.connect(dbname, autocommit=autocommit)
        opened.append(conn)
        return conn

    yield open_connection
    for conn in opened:
        conn.close()


def column_types(cr, table):
    cr.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        (table,),
    )
    return dict(cr.fetchall())


def extension_installed(cr):
    cr.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
    return bool(cr.fetchone())


def ids(result):
    return [record_id for record_id, _ in result]


# --------------------------------------------------------------------------
# Extension and columns


def test_pgvector_available_creates_the_extension_where_allowed(server_has_pgvector, scratch, connect):
    if not server_has_pgvector:
        pytest.skip("this PostgreSQL has no pgvector extension")
    conn = connect(scratch("create"))
    cr = conn.cursor()
    assert not vector_store.pgvector_available(cr, create_extension=False)
    assert not extension_installed(cr)
    assert vector_store.pgvector_available(cr)
    assert extension_installed(cr)
    cr.execute("SELECT '[3,4]'::vector <=> '[6,8]'::vector")
    assert cr.fetchone()[0] == pytest.approx(0.0, abs=1e-9)


def test_a_refused_extension_leaves_the_transaction_usable(server_has_pgvector, scratch, connect):
    if not server_has_pgvector:
        pytest.skip("this PostgreSQL has no pgvector extension")
    dbname = scratch("refused")
    admin = connect(dbname, autocommit=True).cursor()
    role = f"sh_vector_plain_role_{os.getpid()}"
    admin.execute(f"DROP ROLE IF EXISTS {role}")
    admin.execute(f"CREATE ROLE {role} NOSUPERUSER")
    try:
        conn = connect(dbname)
        cr = conn.cursor()
        cr.execute("CREATE TABLE work_in_progress (note text)")
        cr.execute("INSERT INTO work_in_progress VALUES ('not committed yet')")
        # pgvector is not a trusted extension: an ordinary role may not create it.
        cr.execute(f"SET ROLE {role}")
        assert vector_store.pgvector_available(cr) is False
        cr.execute("RESET ROLE")
        cr.execute("SELECT note FROM work_in_progress")
        assert cr.fetchall() == [("not committed yet",)]
        assert not extension_installed(cr)
        conn.rollback()

        admin.execute(f"SET ROLE {role}")
        assert vector_store.pgvector_available(admin) is False
        admin.execute("RESET ROLE")
        assert not extension_installed(admin)
    finally:
        admin.execute("RESET ROLE")
        admin.execute(f"DROP ROLE {role}")


def test_ensure_vector_column_mirrors_arrays_and_builds_the_hnsw_index(vector_db, connect):
    conn = connect(vector_db)
    cr = conn.cursor()
    cr.execute("CREATE TABLE entry (id serial PRIMARY KEY, name text)")
    cr.execute("INSERT INTO entry (name) VALUES ('a'), ('b'), ('c')")
    # Arrays only, as on a server without pgvector (or before it was installed).
    cr.execute("ALTER TABLE entry ADD COLUMN embedding_array float8[]")
    cr.execute("UPDATE entry SET embedding_array = ARRAY[1, 0, 0, 0] WHERE id = 1")
    cr.execute("UPDATE entry SET embedding_array = ARRAY[0, 1, 0] WHERE id = 2")

    assert vector_store.ensure_vector_column(cr, "entry", "embedding", 4) == "pgvector"
    assert column_types(cr, "entry")["embedding"] == "vector(4)"
    assert column_types(cr, "entry")["embedding_array"] == "double precision[]"
    cr.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'entry' AND indexname = 'entry_embedding_hnsw'")
    indexdef = cr.fetchone()[0]
    assert "USING hnsw (embedding vector_cosine_ops)" in indexdef and "ef_construction='128'" in indexdef
    cr.execute("SELECT id, embedding::text FROM entry ORDER BY id")
    assert cr.fetchall() == [(1, "[1,0,0,0]"), (2, None), (3, None)]
    assert vector_store.missing_vectors(cr, "entry", 4) == [2, 3]

    # A second call changes nothing.
    assert vector_store.ensure_vector_column(cr, "entry", "embedding", 4) == "pgvector"
    cr.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'entry'")
    assert cr.fetchone()[0] == 2

    # Another embedding size (another model): the mirror is rebuilt for it.
    assert vector_store.ensure_vector_column(cr, "entry", "embedding", 3) == "pgvector"
    assert column_types(cr, "entry")["embedding"] == "vector(3)"
    cr.execute("SELECT id, embedding::text FROM entry WHERE embedding IS NOT NULL")
    assert cr.fetchall() == [(2, "[0,1,0]")]
    cr.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'entry' AND indexname = 'entry_embedding_hnsw'")
    assert "hnsw" in cr.fetchone()[0]
    assert vector_store.missing_vectors(cr, "entry", 3) == [1, 3]

    # Vectors of the wrong size stay in the array only.
    vector_store.write_vectors(cr, "entry", [(3, [0.0, 0.0, 2.0]), (1, [1.0, 1.0, 1.0, 1.0])])
    cr.execute("SELECT id, embedding::text, embedding_array FROM entry ORDER BY id")
    assert cr.fetchall() == [
        (1, None, [1.0, 1.0, 1.0, 1.0]),
        (2, "[0,1,0]", [0.0, 1.0, 0.0]),
        (3, "[0,0,2]", [0.0, 0.0, 2.0]),
    ]
    conn.rollback()


def test_without_pgvector_only_the_array_column_is_kept(plain_db, connect):
    cr = connect(plain_db).cursor()
    assert not extension_installed(cr)
    types = column_types(cr, "kb")
    assert types["embedding_array"] == "double precision[]"
    assert "embedding" not in types
    assert vector_store.knn(cr, "kb", PROBES[0], 3) == vector_store.knn(cr, "kb", PROBES[0], 3, backend="numpy")
    with pytest.raises(ValueError):
        vector_store.knn(cr, "kb", PROBES[0], 3, backend="pgvector")


# --------------------------------------------------------------------------
# Search


def test_every_backend_finds_the_same_neighbours(vector_db, plain_db, connect):
    vector_cr = connect(vector_db).cursor()
    plain_cr = connect(plain_db).cursor()
    # Make sure the HNSW path really runs, even on a table this small.
    vector_cr.execute("SET enable_seqscan = off")
    vector_cr.execute(
        "EXPLAIN SELECT id FROM kb ORDER BY embedding <=> %s::vector LIMIT 5",
        ("[" + ",".join(map(str, PROBES[0])) + "]",),
    )
    assert "Index Scan using kb_embedding_hnsw" in "\n".join(row[0] for row in vector_cr.fetchall())

    hits = 0
    for probe in PROBES:
        exact = vector_store.knn(vector_cr, "kb", probe, 5, backend="pgvector_exact")
        truth = numpy.argsort(-(DATA @ probe))[:5] + 1
        assert ids(exact) == truth.tolist()
        for other in (
            vector_store.knn(vector_cr, "kb", probe, 5, backend="numpy"),
            vector_store.knn(plain_cr, "kb", probe, 5),  # auto: numpy there
        ):
            assert ids(other) == ids(exact)
            assert [score for _, score in other] == pytest.approx([score for _, score in exact], abs=1e-5)
        hnsw = vector_store.knn(vector_cr, "kb", probe, 5)  # auto: pgvector here
        assert ids(hnsw)[0] == ids(exact)[0]
        assert [score for _, score in hnsw] == sorted((score for _, score in hnsw), reverse=True)
        hits += len(set(ids(hnsw)) & set(ids(exact)))
    assert hits / (5 * len(PROBES)) >= 0.95


def test_filters_apply_in_every_backend(vector_db, plain_db, connect):
    vector_cr = connect(vector_db).cursor()
    plain_cr = connect(plain_db).cursor()
    vector_cr.execute("SET enable_seqscan = off")
    where = "kind = %s AND active AND id %% 20 = 3"  # about 4% of the rows
    hits = 0
    for probe in PROBES:
        hnsw = vector_store.knn(vector_cr, "kb", probe, 5, where, ("access",))
        exact = vector_store.knn(vector_cr, "kb", probe, 5, where, ("access",), backend="pgvector_exact")
        fallback = vector_store.knn(plain_cr, "kb", probe, 5, where, ("access",))
        assert ids(exact) == ids(fallback)
        # HNSW keeps scanning past the candidates the filter drops: still k rows.
        assert len(hnsw) == 5
        hits += len(set(ids(hnsw)) & set(ids(exact)))
        vector_cr.execute(
            "SELECT bool_and(kind = 'access' AND active AND id %% 20 = 3) FROM kb WHERE id = ANY(%s)",
            (ids(hnsw) + ids(exact),),
        )
        assert vector_cr.fetchone()[0] is True
    assert hits / (5 * len(PROBES)) >= 0.95


def test_search_keeps_the_callers_transaction_and_settings(vector_db, connect):
    conn = connect(vector_db)
    cr = conn.cursor()
    cr.execute("SET hnsw.ef_search = 17")
    cr.execute("INSERT INTO kb (kind, active) VALUES ('views', true) RETURNING id")
    new_id = cr.fetchone()[0]
    vector_store.write_vectors(cr, "kb", [(new_id, PROBES[3])])
    for backend in ("pgvector", "pgvector_exact", "numpy"):
        # The row written in this very transaction is found.
        assert vector_store.knn(cr, "kb", PROBES[3], 1, backend=backend)[0][0] == new_id
        cr.execute("SELECT current_setting('hnsw.ef_search'), current_setting('enable_indexscan')")
        assert cr.fetchone() == ("17", "on")
    with pytest.raises(psycopg2.Error):
        vector_store.knn(cr, "kb", PROBES[3], 1, where_sql="no_such_column = 1")
    # The failed search was rolled back alone: the caller's work survives.
    cr.execute("SELECT count(*) FROM kb WHERE id = %s", (new_id,))
    assert cr.fetchone()[0] == 1
    conn.rollback()

    autocommit = connect(vector_db, autocommit=True)
    with autocommit.cursor() as other:
        assert ids(vector_store.knn(other, "kb", PROBES[3], 5)) == ids(
            vector_store.knn(other, "kb", PROBES[3], 5, backend="numpy")
        )
    # No transaction of its own is left open on an autocommit connection.
    assert autocommit.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE


def test_numpy_cache_follows_the_data(plain_db, connect):
    vector_store.clear_cache()
    conn = connect(plain_db)
    cr = conn.cursor()
    probe = PROBES[5]
    before = vector_store.knn(cr, "kb", probe, 3)
    cached = list(vector_store._cache.values())[-1]
    assert vector_store.knn(cr, "kb", probe, 3) == before
    assert list(vector_store._cache.values())[-1] is cached  # unchanged data: no reload

    # Another session commits a new entry that matches the probe exactly.
    writer = connect(plain_db)
    with writer.cursor() as wcr:
        wcr.execute("INSERT INTO kb (kind, active) VALUES ('cron', true) RETURNING id")
        new_id = wcr.fetchone()[0]
        vector_store.write_vectors(wcr, "kb", [(new_id, probe)])
    writer.commit()
    found = vector_store.knn(cr, "kb", probe, 3)
    assert found[0][0] == new_id and found[0][1] == pytest.approx(1.0, abs=1e-6)
    assert ids(found[1:]) == ids(before[:2])
    refreshed = list(vector_store._cache.values())[-1]
    # The rows that did not change are all still there.
    kept = numpy.isin(refreshed.ids, cached.ids)
    assert kept.sum() == cached.ids.size

    # An update of another column alone leaves the results as they were.
    with writer.cursor() as wcr:
        wcr.execute("UPDATE kb SET active = NOT active WHERE id = %s", (ids(before)[0],))
    writer.commit()
    assert vector_store.knn(cr, "kb", probe, 3) == found

    # A caller-given version is trusted: the cache moves only when it does.
    assert vector_store.knn(cr, "kb", probe, 3, version="v1") == found
    with writer.cursor() as wcr:
        wcr.execute("DELETE FROM kb WHERE id = %s", (new_id,))
    writer.commit()
    assert vector_store.knn(cr, "kb", probe, 3, version="v1") == found
    assert vector_store.knn(cr, "kb", probe, 3, version="v2") == before
    conn.rollback()


def test_offline_embeddings_find_the_known_fault(vector_db, plain_db, connect):
    provider = embed.get_provider()
    known = [
        'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "res_partner_pkey"\n'
        "DETAIL:  Key (id)=(1187) already exists.",
        "psycopg2.errors.UndefinedColumn: column res_partner.x_loyalty_tier does not exist",
        "Element '<xpath expr=\"//field[@name='payment_term_id']\">' cannot be located in parent view",
        "ValueError: External ID not found in the system: sale_ext.action_delivery_slots",
        "ValueError: Expected singleton: sale.order(12, 15)",
    ]
    occurrence = (
        'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "stock_move_pkey"\n'
        "DETAIL:  Key (id)=(77120) already exists."
    )
    query = provider.embed([occurrence])[0]
    for dbname, expected_backend in ((vector_db, "pgvector"), (plain_db, "numpy")):
        conn = connect(dbname)
        cr = conn.cursor()
        cr.execute("CREATE TABLE guardrail (id serial PRIMARY KEY, name text)")
        cr.execute("INSERT INTO guardrail (name) SELECT unnest(%s::text[])", (known,))
        backend = vector_store.ensure_vector_column(
            cr, "guardrail", "embedding", provider.dimension, create_extension=expected_backend == "pgvector"
        )
        assert backend == expected_backend
        vector_store.write_vectors(cr, "guardrail", zip(range(1, len(known) + 1), provider.embed(known)))
        (best_id, best_score), (_, runner_up) = vector_store.knn(cr, "guardrail", query, 2)
        assert best_id == 1 and best_score > 0.8 and best_score - runner_up > 0.3
        conn.rollback()


def test_unsafe_names_and_unknown_backends_are_refused(plain_db, connect):
    cr = connect(plain_db).cursor()
    with pytest.raises(ValueError):
        vector_store.knn(cr, 'kb"; DROP TABLE kb; --', PROBES[0], 3)
    with pytest.raises(ValueError):
        vector_store.knn(cr, "kb", PROBES[0], 3, column="embedding array")
    with pytest.raises(ValueError):
        vector_store.knn(cr, "kb", PROBES[0], 3, backend="faiss")
    assert vector_store.knn(cr, "kb", PROBES[0], 0) == []
    assert vector_store.knn(cr, "kb", numpy.zeros(DIMENSION), 3) == []
