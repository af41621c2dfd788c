"""Nearest-neighbour search over embeddings stored in a PostgreSQL table.

The caller owns the table (an integer ``id`` primary key plus its own
columns); for an embedding called ``<column>`` this module keeps:

- ``<column>_array float8[]``: always present and the source of truth, readable
  on any PostgreSQL (and by the exact numpy search);
- ``<column> vector(dim)`` with an HNSW cosine index, only where the pgvector
  extension exists: a mirror of the array that the index searches.

Every function takes a DB-API cursor (psycopg2, or Odoo's ``env.cr``; flush
the ORM before searching) and leaves the caller's transaction usable and its
settings untouched.
"""

import collections
import re
import threading

import numpy
from psycopg2 import sql

BACKENDS = ("auto", "pgvector", "pgvector_exact", "numpy")

# pgvector's HNSW index accepts at most 2000 dimensions for the vector type.
HNSW_MAX_DIMENSION = 2000
# Graph quality traded against build time: with pgvector's default
# ef_construction (64), recall@5 at 100k clustered rows needs ef_search 150
# to pass 0.95; built at 128 it passes 0.98 from ef_search 40 on, at twice the
# build time (bench_vector).
HNSW_OPTIONS = "m = 16, ef_construction = 128"
# Candidates each HNSW scan keeps (pgvector's default is 40). A filter
# discards candidates as the scan goes, so filtered searches start wider.
DEFAULT_EF_SEARCH = 64
DEFAULT_FILTERED_EF_SEARCH = 200

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_VECTOR_TYPE = re.compile(r"^vector(?:\((\d+)\))?$")
_LOAD_CHUNK = 5000
_WRITE_BATCH = 200
# array_send() of a one-dimensional float4[]: a 20-byte header, then each
# element as a big-endian length (always 4) and a big-endian float4.
_ARRAY_HEADER_BYTES = 20
_ARRAY_ELEMENT = numpy.dtype([("length", ">i4"), ("value", ">f4")])
_CACHE_SIZE = 8


def _plain(identifier):
    """``identifier`` itself, refused unless it is a plain SQL identifier."""
    if not _IDENTIFIER.match(identifier or ""):
        raise ValueError(f"not a plain SQL identifier: {identifier!r}")
    return identifier


def _quoted(identifier):
    return '"%s"' % _plain(identifier)


def _array_column(column):
    return column + "_array"


def _vector_literal(values):
    return "[" + ",".join(repr(float(value)) for value in values) + "]"


def _in_autocommit(cr):
    return bool(getattr(getattr(cr, "connection", None), "autocommit", False))


def _execute_quietly(cr, query):
    # Odoo's cursor logs every failing query as an ERROR, which our own log
    # watcher would then report as an incident; an expected failure is not one.
    try:
        cr.execute(query, log_exceptions=False)
    except TypeError:
        cr.execute(query)


class _Layout:
    """What the catalog says about one table's embedding columns."""

    def __init__(self, extension_version, vector_type, array_type):
        self.extension_version = extension_version
        self.has_array = array_type is not None
        self.has_vector = bool(extension_version) and vector_type is not None
        match = _VECTOR_TYPE.match(vector_type or "")
        self.vector_dimension = int(match.group(1)) if match and match.group(1) else None

    def iterative_scan(self):
        """Whether pgvector can keep scanning when a filter drops candidates (0.8+)."""
        parts = (self.extension_version or "0").split(".")
        return tuple(int(part) for part in parts[:2] if part.isdigit()) >= (0, 8)


def _layout(cr, table, column):
    cr.execute(
        """
        SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector'),
               (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                 WHERE attrelid = to_regclass(%s) AND attname = %s AND attnum > 0 AND NOT attisdropped),
               (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                 WHERE attrelid = to_regclass(%s) AND attname = %s AND attnum > 0 AND NOT attisdropped)
        """,
        (_quoted(table), column, _quoted(table), _array_column(column)),
    )
    return _Layout(*cr.fetchone())


def pgvector_available(cr, create_extension=True):
    """Whether the ``vector`` type can be used here.

    When the extension is available but not installed, it is created (unless
    ``create_extension`` is false); a refusal just answers False.
    """
    cr.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector'), "
        "EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')"
    )
    installed, available = cr.fetchone()
    if installed:
        return True
    if not available or not create_extension:
        return False
    if _in_autocommit(cr):
        try:
            _execute_quietly(cr, "CREATE EXTENSION IF NOT EXISTS vector")
        except Exception:  # psycopg2.Error: no privilege, broken package...
            return False
        return True
    # A refused CREATE EXTENSION (no privilege, broken package) aborts the
    # transaction: the savepoint keeps the caller's work alive.
    cr.execute("SAVEPOINT self_healing_pgvector")
    try:
        _execute_quietly(cr, "CREATE EXTENSION IF NOT EXISTS vector")
    except Exception:  # psycopg2.Error
        cr.execute("ROLLBACK TO SAVEPOINT self_healing_pgvector")
        cr.execute("RELEASE SAVEPOINT self_healing_pgvector")
        return False
    cr.execute("RELEASE SAVEPOINT self_healing_pgvector")
    return True


def ensure_vector_column(cr, table, column, dimension, index=True, create_extension=True):
    """Make ``table`` ready to hold ``dimension``-long embeddings under ``column``.

    Always keeps the float8[] column ``<column>_array``. With pgvector it also
    adds (or, if its dimension changed, recreates) the ``vector(dimension)``
    column, fills it from the arrays that have the right length, and builds
    the HNSW cosine index. ``create_extension=False`` never installs pgvector
    (it is still used when already installed). Returns the backend ``knn``
    will use by default: ``'pgvector'`` or ``'numpy'``.
    """
    dimension = int(dimension)
    quoted_table = sql.Identifier(_plain(table))
    quoted_column = sql.Identifier(_plain(column))
    quoted_array = sql.Identifier(_plain(_array_column(column)))
    layout = _layout(cr, table, column)
    # Altering takes an exclusive lock on the table even when nothing changes:
    # only alter what is missing.
    if not layout.has_array:
        cr.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} float8[]").format(quoted_table, quoted_array))
    if not pgvector_available(cr, create_extension=create_extension):
        return "numpy"
    layout = _layout(cr, table, column)
    if layout.has_vector and layout.vector_dimension != dimension:
        # Vectors of another size come from another model: they cannot be
        # compared with the new ones, so the mirror (and its index) goes.
        cr.execute(sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(quoted_table, quoted_column))
        layout.has_vector = False
    if not layout.has_vector:
        cr.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN {} vector({})").format(
                quoted_table, quoted_column, sql.Literal(dimension)
            )
        )
        cr.execute(
            sql.SQL(
                "UPDATE {table} SET {vector} = {array}::vector({dimension}) WHERE cardinality({array}) = %s"
            ).format(table=quoted_table, vector=quoted_column, array=quoted_array, dimension=sql.Literal(dimension)),
            (dimension,),
        )
    if index and dimension <= HNSW_MAX_DIMENSION:
        index_name = sql.Identifier(_plain(f"{table}_{column}_hnsw"[:63]))
        cr.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw ({} vector_cosine_ops) WITH ({})").format(
                index_name, quoted_table, quoted_column, sql.SQL(HNSW_OPTIONS)
            )
        )
    return "pgvector"


def write_vectors(cr, table, rows, column="embedding"):
    """Store ``(id, vector)`` pairs in the array column and, if present, the vector column."""
    quoted_table = sql.Identifier(_plain(table))
    quoted_column = sql.Identifier(_plain(column))
    quoted_array = sql.Identifier(_plain(_array_column(column)))
    layout = _layout(cr, table, column)
    if not layout.has_array:
        raise ValueError(f"{table}.{_array_column(column)} is missing: call ensure_vector_column first")
    if layout.has_vector:
        assignments = sql.SQL("{} = new.components::float8[], {} = new.vector::vector").format(
            quoted_array, quoted_column
        )
    else:
        assignments = sql.SQL("{} = new.components::float8[]").format(quoted_array)
    rows = list(rows)
    for start in range(0, len(rows), _WRITE_BATCH):
        values = []
        for record_id, vector in rows[start : start + _WRITE_BATCH]:
            components = ",".join(repr(float(value)) for value in vector)
            # A vector of another length cannot go in the mirror: it stays
            # empty there and the array keeps it for the exact search.
            fits = layout.vector_dimension in (None, len(vector))
            values.extend((int(record_id), "{" + components + "}", "[" + components + "]" if fits else None))
        placeholders = sql.SQL(", ").join([sql.SQL("(%s, %s, %s)")] * (len(values) // 3))
        cr.execute(
            sql.SQL(
                "UPDATE {} AS target SET {} FROM (VALUES {}) AS new (id, components, vector) WHERE target.id = new.id"
            ).format(quoted_table, assignments, placeholders),
            values,
        )


def missing_vectors(cr, table, dimension, column="embedding"):
    """Ids of rows without an embedding of ``dimension`` (to embed or re-embed)."""
    quoted_array = sql.Identifier(_plain(_array_column(column)))
    cr.execute(
        sql.SQL("SELECT id FROM {table} WHERE {array} IS NULL OR cardinality({array}) <> %s ORDER BY id").format(
            table=sql.Identifier(_plain(table)), array=quoted_array
        ),
        (int(dimension),),
    )
    return [row[0] for row in cr.fetchall()]


def knn(
    cr,
    table,
    query_vector,
    k,
    where_sql="",
    params=(),
    backend="auto",
    column="embedding",
    version=None,
    ef_search=None,
):
    """The ``k`` rows most similar to ``query_vector``, as ``[(id, cosine similarity)]``.

    ``where_sql`` restricts the rows, e.g. ``"active AND module = %s"``, its
    positional ``%s`` filled from ``params`` (a literal ``%`` is written ``%%``).
    ``backend``: ``'auto'`` (pgvector when the vector column exists and fits
    the query, else numpy), ``'pgvector'`` (the HNSW index, when the planner
    takes it), ``'pgvector_exact'`` (sequential scan) or ``'numpy'`` (exact,
    in this process, over the float8[] arrays). numpy keeps the matrix between
    calls; it checks the table for changes (row count and row versions, one
    scan of the narrow heap) and re-reads only changed rows, unless the caller
    passes ``version``: any value that changes whenever the embeddings do.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    query = numpy.asarray(query_vector, dtype=numpy.float64).ravel()
    k = int(k)
    if k <= 0 or not query.any():
        return []  # a zero vector is similar to nothing
    layout = _layout(cr, table, column)
    if backend == "auto":
        fits = layout.vector_dimension in (None, query.size)
        backend = "pgvector" if layout.has_vector and fits else "numpy"
    if backend == "numpy":
        if not layout.has_array:
            raise ValueError(f"{table}.{_array_column(column)} is missing: call ensure_vector_column first")
        return _numpy_knn(cr, table, column, query, k, where_sql, params, version)
    if not layout.has_vector:
        raise ValueError(f"{table}.{column} is not a pgvector column here")
    return _pgvector_knn(cr, table, column, layout, query, k, where_sql, params, backend, ef_search)


# ---------------------------------------------------------------------------
# pgvector


def _pgvector_knn(cr, table, column, layout, query, k, where_sql, params, backend, ef_search):
    quoted_column = sql.Identifier(_plain(column))
    ef_search = ef_search or (DEFAULT_FILTERED_EF_SEARCH if where_sql else DEFAULT_EF_SEARCH)
    ef_search = min(max(int(ef_search), k), 1000)
    settings = [sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef_search))]
    if where_sql and layout.iterative_scan():
        # Without it a selective filter can leave fewer than k of the
        # ef_search candidates; strict order keeps results exactly ranked.
        settings.append(sql.SQL("SET LOCAL hnsw.iterative_scan = strict_order"))
    if backend == "pgvector_exact":
        settings.append(sql.SQL("SET LOCAL enable_indexscan = off"))
    # where_sql is the caller's fragment (its own %s placeholders), documented as trusted SQL.
    filter_sql = sql.SQL(" AND ({})").format(sql.SQL(where_sql)) if where_sql else sql.SQL("")
    select = sql.SQL(
        "SELECT id, {column} <=> %s::vector AS distance FROM {table} "
        "WHERE {column} IS NOT NULL{filter} ORDER BY distance LIMIT %s"
    ).format(column=quoted_column, table=sql.Identifier(_plain(table)), filter=filter_sql)
    # SET LOCAL lasts until the transaction ends: a savepoint rolled back right
    # after the read gives the caller its own settings back. In autocommit, a
    # short transaction of our own does the same.
    autocommit = _in_autocommit(cr)
    opening, closing = (
        ("BEGIN", "ROLLBACK")
        if autocommit
        else (
            "SAVEPOINT self_healing_knn",
            "ROLLBACK TO SAVEPOINT self_healing_knn; RELEASE SAVEPOINT self_healing_knn",
        )
    )
    statement = sql.SQL("; ").join([sql.SQL(opening), *settings, select])
    try:
        cr.execute(statement, (_vector_literal(query), *params, k))
        rows = cr.fetchall()
    finally:
        cr.execute(closing)
    return [(record_id, 1.0 - float(distance)) for record_id, distance in rows if distance is not None]


# ---------------------------------------------------------------------------
# numpy: exact cosine over a matrix cached per table, refreshed row by row


class _Matrix:
    """The embeddings of one table as this process last read them."""

    def __init__(self, version, ids, row_versions, rows, valid):
        self.version = version
        self.ids = ids  # int64, ascending
        self.row_versions = row_versions  # each row's xmin when it was read
        self.rows = rows  # float32, unit length where valid
        self.valid = valid  # False where the array is not a usable vector


_cache = collections.OrderedDict()
_cache_lock = threading.Lock()


def clear_cache():
    """Forget every cached matrix."""
    with _cache_lock:
        _cache.clear()


def _database_key(cr):
    info = getattr(getattr(cr, "connection", None), "info", None)
    if info is not None:
        return (info.host, info.port, info.dbname)
    cr.execute("SELECT current_database()")
    return (None, None, cr.fetchone()[0])


def _data_version(cr, table, column):
    # Every insert or update gives its row a new xmin and every delete lowers
    # the count, so the pair moves with the data (a sum, unlike a max, also
    # sees a transaction with an older id committing late). It reads the
    # narrow heap only: the arrays themselves stay in TOAST.
    cr.execute(
        sql.SQL("SELECT count(*), sum(xmin::text::bigint) FROM {} WHERE {} IS NOT NULL").format(
            sql.Identifier(_plain(table)), sql.Identifier(_plain(_array_column(column)))
        )
    )
    return tuple(cr.fetchone())


def _read_vectors(cr, table, column, dimension, ids):
    """``(ids, row_versions, rows, valid)`` for the given ids, read in chunks."""
    quoted_array = sql.Identifier(_plain(_array_column(column)))
    found_ids, found_versions, blocks, valid = [], [], [], []
    expected_length = _ARRAY_HEADER_BYTES + _ARRAY_ELEMENT.itemsize * dimension
    empty_row = numpy.zeros(dimension, dtype=_ARRAY_ELEMENT)
    for start in range(0, len(ids), _LOAD_CHUNK):
        # PostgreSQL's binary array form, read with one numpy call per chunk,
        # is far faster than a Python float per component (or parsing text).
        cr.execute(
            sql.SQL(
                "SELECT id, xmin::text::bigint, array_send({array}::float4[]) FROM {table} "
                "WHERE id = ANY(%s) AND {array} IS NOT NULL ORDER BY id"
            ).format(array=quoted_array, table=sql.Identifier(_plain(table))),
            ([int(record_id) for record_id in ids[start : start + _LOAD_CHUNK]],),
        )
        for record_id, row_version, blob in cr.fetchall():
            blob = bytes(blob)
            # One dimension, no NULL element, the expected length: else unusable.
            usable = len(blob) == expected_length and blob[:8] == b"\x00\x00\x00\x01\x00\x00\x00\x00"
            found_ids.append(record_id)
            found_versions.append(row_version)
            blocks.append(blob[_ARRAY_HEADER_BYTES:] if usable else empty_row.tobytes())
            valid.append(usable)
    rows = numpy.frombuffer(b"".join(blocks), dtype=_ARRAY_ELEMENT)["value"].reshape(len(found_ids), dimension)
    rows = rows.astype(numpy.float32)
    norms = numpy.linalg.norm(rows, axis=1, keepdims=True)
    rows = numpy.divide(rows, norms, out=numpy.zeros_like(rows), where=norms > 0)
    valid = numpy.asarray(valid, dtype=bool) & (norms[:, 0] > 0)
    return (
        numpy.asarray(found_ids, dtype=numpy.int64),
        numpy.asarray(found_versions, dtype=numpy.int64),
        rows,
        valid,
    )


def _refreshed(cr, table, column, dimension, version, previous):
    """The matrix at ``version``, re-reading only rows added or changed since ``previous``."""
    cr.execute(
        sql.SQL("SELECT id, xmin::text::bigint FROM {} WHERE {} IS NOT NULL ORDER BY id").format(
            sql.Identifier(_plain(table)), sql.Identifier(_plain(_array_column(column)))
        )
    )
    listing = numpy.asarray(cr.fetchall(), dtype=numpy.int64).reshape(-1, 2)
    ids, row_versions = listing[:, 0].copy(), listing[:, 1].copy()
    rows = numpy.zeros((len(ids), dimension), dtype=numpy.float32)
    valid = numpy.zeros(len(ids), dtype=bool)
    keep = numpy.zeros(len(ids), dtype=bool)
    if previous is not None and previous.ids.size:
        position = numpy.minimum(numpy.searchsorted(previous.ids, ids), previous.ids.size - 1)
        keep = (previous.ids[position] == ids) & (previous.row_versions[position] == row_versions)
        rows[keep] = previous.rows[position[keep]]
        valid[keep] = previous.valid[position[keep]]
    fresh_ids, fresh_versions, fresh_rows, fresh_valid = _read_vectors(cr, table, column, dimension, ids[~keep])
    # A row deleted since the listing is simply not read: it stays invalid.
    slot = numpy.searchsorted(ids, fresh_ids)
    rows[slot], valid[slot], row_versions[slot] = fresh_rows, fresh_valid, fresh_versions
    return _Matrix(version, ids, row_versions, rows, valid)


def _numpy_knn(cr, table, column, query, k, where_sql, params, version):
    dimension = query.size
    if version is None:
        version = _data_version(cr, table, column)
    key = (_database_key(cr), table, column, dimension)
    with _cache_lock:
        matrix = _cache.get(key)
        if matrix is not None:
            _cache.move_to_end(key)
    if matrix is None or matrix.version != version:
        matrix = _refreshed(cr, table, column, dimension, version, matrix)
        with _cache_lock:
            _cache[key] = matrix
            _cache.move_to_end(key)
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    norm = numpy.linalg.norm(query)
    if not matrix.ids.size or not norm:
        return []
    # einsum stays on this thread: BLAS would wake a thread pool for every
    # product, which costs more than the product on a busy server.
    scores = numpy.einsum("ij,j->i", matrix.rows, (query / norm).astype(numpy.float32))
    usable = matrix.valid
    if where_sql:
        cr.execute(
            sql.SQL("SELECT id FROM {} WHERE ({})").format(sql.Identifier(_plain(table)), sql.SQL(where_sql)),
            tuple(params),
        )
        allowed = numpy.fromiter((row[0] for row in cr.fetchall()), dtype=numpy.int64)
        usable = usable & numpy.isin(matrix.ids, allowed)
    scores = numpy.where(usable, scores, -numpy.inf)
    k = min(k, scores.size)
    best = numpy.argpartition(-scores, k - 1)[:k]
    best = best[numpy.argsort(-scores[best], kind="stable")]
    return [(int(matrix.ids[i]), float(scores[i])) for i in best if numpy.isfinite(scores[i])]
