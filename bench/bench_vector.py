"""Similarity search latency and recall: pgvector HNSW against exact search.

At 1k, 10k and 100k entries (10k at most with ``ctx.quick``) of 384-d unit
vectors, clustered like embeddings of related error texts, it times
``engine.vector_store.knn`` as the addon calls it (one transaction, savepoint
per search) for: the HNSW index, pgvector without index (sequential scan)
and the numpy fallback on a database without the extension. Recall@5 of
HNSW is measured against the exact pgvector answer on the same queries.
"""

import contextlib
import io
import struct
import sys
import time
from pathlib import Path

import numpy

try:
    from engine.similar import vector_store
except ImportError:  # imported from outside the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from engine.similar import vector_store

DIMENSION = 384
K = 5
FLOAT8_OID = 701
COPY_CHUNK = 20000


def _label(size):
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def _unit(matrix):
    return matrix / numpy.linalg.norm(matrix, axis=-1, keepdims=True)


def synthetic_vectors(count, queries, seed=20240601):
    """``count`` entries and ``queries`` probes: topics > groups > entries.

    A probe is a fresh neighbour of a random entry (a new occurrence of a known
    fault), so its nearest entries are its group mates, then its topic.
    """
    rng = numpy.random.default_rng(seed + count)
    topics = _unit(rng.standard_normal((max(8, count // 1000), DIMENSION), dtype=numpy.float32))
    group_count = max(2, count // 20)
    group_topic = rng.integers(len(topics), size=group_count)
    group_noise = _unit(rng.standard_normal((group_count, DIMENSION), dtype=numpy.float32))
    groups = _unit(topics[group_topic] + 0.9 * group_noise)
    entry_group = rng.integers(group_count, size=count)
    entries = _unit(groups[entry_group] + 0.6 * _unit(rng.standard_normal((count, DIMENSION), dtype=numpy.float32)))
    picked = rng.integers(count, size=queries)
    probes = _unit(entries[picked] + 0.5 * _unit(rng.standard_normal((queries, DIMENSION), dtype=numpy.float32)))
    return entries.astype(numpy.float32), probes.astype(numpy.float32)


def _binary_copy(ids, vectors, with_vector):
    """PostgreSQL binary COPY data for rows (id, [embedding vector,] embedding_array float8[])."""
    fields = [("field_count", ">i2"), ("id_length", ">i4"), ("id", ">i4")]
    if with_vector:
        fields += [
            ("vector_length", ">i4"), ("vector_dim", ">i2"), ("vector_unused", ">i2"), ("vector", ">f4", (DIMENSION,)),
        ]  # fmt: skip
    element = numpy.dtype([("length", ">i4"), ("value", ">f8")])
    fields += [
        ("array_length", ">i4"), ("array_ndim", ">i4"), ("array_flags", ">i4"), ("array_type", ">i4"),
        ("array_dim", ">i4"), ("array_lower", ">i4"), ("array", element, (DIMENSION,)),
    ]  # fmt: skip
    rows = numpy.zeros(len(ids), dtype=numpy.dtype(fields))
    rows["field_count"] = 3 if with_vector else 2
    rows["id_length"], rows["id"] = 4, ids
    if with_vector:
        rows["vector_length"], rows["vector_dim"], rows["vector"] = 4 + 4 * DIMENSION, DIMENSION, vectors
    rows["array_length"] = 20 + element.itemsize * DIMENSION
    rows["array_ndim"], rows["array_type"], rows["array_dim"], rows["array_lower"] = 1, FLOAT8_OID, DIMENSION, 1
    rows["array"]["length"], rows["array"]["value"] = 8, vectors
    header = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    return header + rows.tobytes() + struct.pack(">h", -1)


def _load_table(cr, table, vectors, with_vector):
    columns = "id integer PRIMARY KEY, embedding_array float8[]"
    if with_vector:
        columns += f", embedding vector({DIMENSION})"
    cr.execute(f"DROP TABLE IF EXISTS {table}")
    cr.execute(f"CREATE TABLE {table} ({columns})")
    names = "id, embedding, embedding_array" if with_vector else "id, embedding_array"
    for start in range(0, len(vectors), COPY_CHUNK):
        chunk = vectors[start : start + COPY_CHUNK]
        ids = numpy.arange(start + 1, start + 1 + len(chunk))
        data = _binary_copy(ids, chunk, with_vector)
        cr.copy_expert(f"COPY {table} ({names}) FROM STDIN (FORMAT binary)", io.BytesIO(data))
    cr.execute(f"ANALYZE {table}")


def _timed_searches(conn, table, probes, **options):
    """Per-probe latencies in ms and the ids found, inside one transaction like Odoo's."""
    latencies, found = [], []
    with conn.cursor() as cr:
        vector_store.knn(cr, table, probes[0], K, **options)  # warm-up: caches, library load
        for probe in probes:
            started = time.perf_counter()
            result = vector_store.knn(cr, table, probe, K, **options)
            latencies.append((time.perf_counter() - started) * 1000)
            found.append([record_id for record_id, _ in result])
    conn.rollback()
    return numpy.asarray(latencies), found


def _overlap_at_k(found, truth):
    return float(numpy.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth)]))


def _measure_size(size, probes_count, vector_conn, plain_conn):
    label = _label(size)
    entries, probes = synthetic_vectors(size, probes_count)
    table = f"bench_kb_{label}"
    results = {}

    with vector_conn.cursor() as cr:
        started = time.perf_counter()
        _load_table(cr, table, entries, with_vector=True)
        results[f"knn_load_s_{label}"] = round(time.perf_counter() - started, 2)
        # A generous maintenance_work_mem keeps the whole HNSW graph in memory
        # while it is built; the default (64MB) spills at 100k x 384.
        cr.execute("SET maintenance_work_mem = '1GB'")
        started = time.perf_counter()
        backend = vector_store.ensure_vector_column(cr, table, "embedding", DIMENSION)
        results[f"hnsw_build_s_{label}"] = round(time.perf_counter() - started, 2)
        cr.execute("RESET maintenance_work_mem")
        cr.execute(f"SELECT pg_relation_size('{table}_embedding_hnsw')")
        results[f"hnsw_index_mb_{label}"] = round(cr.fetchone()[0] / 2**20, 1)
    vector_conn.commit()
    assert backend == "pgvector", backend

    with vector_conn.cursor() as cr:
        # On small tables the planner may prefer a sequential scan: say which ran.
        literal = "[" + ",".join(map(repr, probes[0].tolist())) + "]"
        cr.execute(f"EXPLAIN SELECT id FROM {table} ORDER BY embedding <=> %s::vector LIMIT {K}", (literal,))
        results[f"knn_hnsw_index_used_{label}"] = "hnsw" in " ".join(row[0] for row in cr.fetchall())
    vector_conn.rollback()
    hnsw_ms, hnsw_found = _timed_searches(vector_conn, table, probes, backend="pgvector")
    exact_ms, exact_found = _timed_searches(vector_conn, table, probes, backend="pgvector_exact")
    # A filter keeping one row in ten, as "active entries of this module" might.
    where = {"where_sql": "id %% 10 = %s", "params": (3,)}
    filtered_ms, filtered_found = _timed_searches(vector_conn, table, probes, backend="pgvector", **where)
    _, filtered_exact = _timed_searches(vector_conn, table, probes, backend="pgvector_exact", **where)

    with plain_conn.cursor() as cr:
        _load_table(cr, table, entries, with_vector=False)
        assert vector_store.ensure_vector_column(cr, table, "embedding", DIMENSION, create_extension=False) == "numpy"
    plain_conn.commit()
    vector_store.clear_cache()
    with plain_conn.cursor() as cr:
        started = time.perf_counter()
        vector_store.knn(cr, table, probes[0], K, backend="numpy")
        results[f"numpy_cache_load_s_{label}"] = round(time.perf_counter() - started, 2)
    plain_conn.rollback()
    numpy_ms, numpy_found = _timed_searches(plain_conn, table, probes, backend="numpy")
    given_ms, _ = _timed_searches(plain_conn, table, probes, backend="numpy", version="bench")
    with plain_conn.cursor() as cr:
        # One entry rewritten: the next search re-reads that row only.
        cr.execute(f"UPDATE {table} SET embedding_array = embedding_array WHERE id = 1")
        plain_conn.commit()
        started = time.perf_counter()
        vector_store.knn(cr, table, probes[0], K, backend="numpy")
        results[f"numpy_refresh_ms_{label}"] = round((time.perf_counter() - started) * 1000, 1)
    plain_conn.rollback()

    timings = (
        ("hnsw", hnsw_ms),
        ("hnsw_filtered", filtered_ms),
        ("exact", exact_ms),
        ("numpy", numpy_ms),
        ("numpy_given_version", given_ms),
    )
    for name, latencies in timings:
        results[f"knn_p50_ms_{label}_{name}"] = round(float(numpy.percentile(latencies, 50)), 2)
        results[f"knn_p95_ms_{label}_{name}"] = round(float(numpy.percentile(latencies, 95)), 2)
    results[f"knn_recall_at5_{label}"] = round(_overlap_at_k(hnsw_found, exact_found), 4)
    results[f"knn_recall_at5_{label}_filtered"] = round(_overlap_at_k(filtered_found, filtered_exact), 4)
    results[f"knn_numpy_agreement_at5_{label}"] = round(_overlap_at_k(numpy_found, exact_found), 4)

    print(
        f"  {label} entries ({len(probes)} searches, k={K}): "
        f"{'HNSW' if results[f'knn_hnsw_index_used_{label}'] else 'pgvector (planner chose a sequential scan)'} "
        f"p50 {results[f'knn_p50_ms_{label}_hnsw']} ms, p95 {results[f'knn_p95_ms_{label}_hnsw']} ms, "
        f"recall@5 {results[f'knn_recall_at5_{label}']:.3f} against exact; "
        f"HNSW with a 1-in-10 filter p95 {results[f'knn_p95_ms_{label}_hnsw_filtered']} ms, "
        f"recall@5 {results[f'knn_recall_at5_{label}_filtered']:.3f}; "
        f"pgvector exact scan p95 {results[f'knn_p95_ms_{label}_exact']} ms; "
        f"numpy fallback p95 {results[f'knn_p95_ms_{label}_numpy']} ms "
        f"({results[f'knn_p95_ms_{label}_numpy_given_version']} ms with a caller-given version, "
        f"same top 5 as exact {results[f'knn_numpy_agreement_at5_{label}']:.3f}); "
        f"HNSW build {results[f'hnsw_build_s_{label}']} s ({results[f'hnsw_index_mb_{label}']} MB), "
        f"numpy first load {results[f'numpy_cache_load_s_{label}']} s, "
        f"after one row changed {results[f'numpy_refresh_ms_{label}']} ms"
    )
    with vector_conn.cursor() as cr:
        cr.execute(f"DROP TABLE {table}")
    with plain_conn.cursor() as cr:
        cr.execute(f"DROP TABLE {table}")
    vector_conn.commit()
    plain_conn.commit()
    vector_store.clear_cache()
    return results


def run(ctx):
    sizes = [1000, 10000] if ctx.quick else [1000, 10000, 100000]
    probes_count = 100 if ctx.quick else 200
    cluster = ctx.cluster()
    print(
        f"Vector search (k={K}, {DIMENSION}-d unit vectors, HNSW {vector_store.HNSW_OPTIONS}, "
        f"ef_search {vector_store.DEFAULT_EF_SEARCH}, {vector_store.DEFAULT_FILTERED_EF_SEARCH} with a filter):"
    )
    results = {
        "knn_dimension": DIMENSION,
        "knn_ef_search": vector_store.DEFAULT_EF_SEARCH,
        "knn_ef_search_filtered": vector_store.DEFAULT_FILTERED_EF_SEARCH,
    }
    if not cluster.has_vector:
        print("  skipped: this PostgreSQL has no pgvector extension")
        results["knn_skipped"] = "no pgvector"
        return results
    vector_db = ctx.scratch_database("vector")
    # The fallback is measured where it runs for real: a database without the extension.
    plain_db = ctx.scratch_database("vector_numpy")
    with contextlib.ExitStack() as stack:
        vector_conn = stack.enter_context(contextlib.closing(cluster.connect(vector_db)))
        plain_conn = stack.enter_context(contextlib.closing(cluster.connect(plain_db)))
        vector_conn.autocommit = plain_conn.autocommit = False
        with vector_conn.cursor() as cr:
            if not vector_store.pgvector_available(cr):
                raise RuntimeError("pgvector is available on this server but could not be created")
        vector_conn.commit()
        for size in sizes:
            results.update(_measure_size(size, probes_count, vector_conn, plain_conn))
    for label in [_label(size) for size in sizes]:
        if f"knn_recall_at5_{label}" in results:
            results[f"knn_hnsw_speedup_{label}"] = round(
                results[f"knn_p95_ms_{label}_exact"] / max(results[f"knn_p95_ms_{label}_hnsw"], 1e-6), 1
            )
    top = _label(sizes[-1])
    print(
        f"  targets: recall@5 >= 0.95 -> {results[f'knn_recall_at5_{top}']:.3f} at {top}; "
        f"HNSW p95 at {top} <= 10 ms -> {results[f'knn_p95_ms_{top}_hnsw']} ms "
        f"({results[f'knn_hnsw_speedup_{top}']}x faster than the exact scan)"
    )
    return results
