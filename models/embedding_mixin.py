import logging

from odoo import api, fields, models

from ..engine.similar import embed as embed_engine
from ..engine.similar import vector_store

_logger = logging.getLogger(__name__)

PARAM = "self_healing.%s"
# System parameters that choose the embedding provider; changing one re-embeds.
PROVIDER_PARAMS = {
    "provider": PARAM % "embedding_provider",
    "api_key": PARAM % "openai_embedding_key",
    "model": PARAM % "embedding_model",
    "base_url": PARAM % "embedding_base_url",
    "dimensions": PARAM % "embedding_dimensions",
}
COLUMN = "embedding"
BATCH_SIZE = 100
# A failed batch is tried again this long after it failed (the network may be back).
RETRY_FAILED_AFTER = "1 hour"
CRON_XMLID = "self_healing.ir_cron_knowledge_embed"
# Providers built from settings, per distinct settings: the OpenAI client keeps its connections.
_providers = {}


def known_dimension(provider):
    """The provider's vector size when known without asking a remote service, else None."""
    if provider.name == "offline":
        return provider.dimension
    return getattr(provider, "dimensions", None) or embed_engine.OPENAI_MODEL_DIMENSIONS.get(provider.model)


def provider_signature(provider):
    """What identifies a vector space: provider, model and, when known up front, dimension."""
    dimension = known_dimension(provider)
    return f"{provider.name}/{provider.model}" + (f"/{dimension}" if dimension else "")


class SelfHealingEmbeddingMixin(models.AbstractModel):
    """Records that keep an embedding of their text for similarity search.

    The vectors live in columns this mixin adds to the table by SQL
    (``embedding_array float8[]``, and ``embedding vector(n)`` with an HNSW
    index where pgvector exists): see engine/vector_store.py.
    """

    _name = "self_healing.embedding.mixin"
    _description = "Self-Healing Embedded Text"

    embedding_model = fields.Char(readonly=True, copy=False, help="Provider/model/dimension of the stored vector.")
    embedding_dimension = fields.Integer(readonly=True, copy=False)
    embedding_state = fields.Selection(
        [("todo", "To Embed"), ("done", "Embedded"), ("failed", "Failed")],
        default="todo",
        required=True,
        readonly=True,
        copy=False,
        index=True,
    )
    embedding_error = fields.Char(readonly=True, copy=False)
    # Grows with every batch of vectors written: the exact search's cache key.
    embedding_version = fields.Integer(readonly=True, copy=False, index=True)

    def init(self):
        super().init()
        if self._abstract:
            return
        cr = self.env.cr
        # Owned by the column, the sequence goes away with the table when the addon is uninstalled.
        sequence = f'"{self._table}_embedding_version_seq"'
        cr.execute(f"CREATE SEQUENCE IF NOT EXISTS {sequence}")
        cr.execute(f'ALTER SEQUENCE {sequence} OWNED BY "{self._table}".embedding_version')
        try:
            dimension = known_dimension(self._embedding_provider())
        except ValueError:  # unusable settings: the cron will say so
            dimension = None
        # The first embedding batch fixes the column for a provider of unknown size.
        vector_store.ensure_vector_column(cr, self._table, COLUMN, dimension or embed_engine.DEFAULT_DIMENSION)

    # ------------------------------------------------------------------
    # Provider

    @api.model
    def _embedding_settings(self):
        get = self.env["ir.config_parameter"].sudo().get_param
        # The settings form stores an empty number as "0": that means "the default" here.
        return {
            name: None if get(key) in (None, False, "", "0", "False") else get(key)
            for name, key in PROVIDER_PARAMS.items()
        }

    @api.model
    def _embedding_provider(self):
        """The provider the settings choose, built once per distinct settings."""
        settings = self._embedding_settings()
        cache_key = tuple(sorted(settings.items()))
        provider = _providers.get(cache_key)
        if provider is None:
            name = settings["provider"] or "offline"
            if name == "offline":
                provider = embed_engine.get_provider("offline", dimension=settings["dimensions"])
            else:
                provider = embed_engine.get_provider(
                    name,
                    api_key=settings["api_key"],
                    model=settings["model"],
                    base_url=settings["base_url"],
                    dimensions=settings["dimensions"],
                )
            _providers.clear()  # settings changed: the old clients are not needed any more
            _providers[cache_key] = provider
        return provider

    @api.model
    def _embedding_signature(self):
        return provider_signature(self._embedding_provider())

    def _embedding_text(self):
        """The text a record is found by; models override it."""
        self.ensure_one()
        return self.display_name or ""

    # ------------------------------------------------------------------
    # Keeping vectors up to date

    @api.model
    def _embedding_requeue(self, failed_too=False):
        """Put back in the queue the vectors of another provider, and failed ones due for a retry."""
        self.flush_model()
        condition = (
            "embedding_state = 'failed'"
            if failed_too
            else (
                "embedding_state = 'failed' AND write_date < (now() at time zone 'UTC')"
                f" - interval '{RETRY_FAILED_AFTER}'"
            )
        )
        self.env.cr.execute(
            f"""UPDATE "{self._table}" SET embedding_state = 'todo', embedding_error = NULL
                 WHERE ({condition}) OR (embedding_state = 'done' AND embedding_model IS DISTINCT FROM %s)""",
            (self._embedding_signature(),),
        )
        if self.env.cr.rowcount:
            self.invalidate_model(["embedding_state", "embedding_error"])
        return self.env.cr.rowcount

    @api.model
    def _embedding_queue_domain(self):
        """The records waiting for a vector; models narrow it (to records that can be found)."""
        return [("embedding_state", "=", "todo")]

    @api.model
    def _embedding_todo_count(self):
        return self.with_context(active_test=False).search_count(self._embedding_queue_domain())

    @api.model
    def _embed_pending(self, limit=BATCH_SIZE):
        """Embed up to ``limit`` records waiting for a vector; returns how many were embedded.

        A provider error marks the batch as failed with the reason (tried
        again after RETRY_FAILED_AFTER or when the settings change) instead of
        failing the whole job.
        """
        records = self.with_context(active_test=False).search(self._embedding_queue_domain(), order="id", limit=limit)
        if not records:
            return 0
        provider = self._embedding_provider()
        signature = provider_signature(provider)
        try:
            vectors = provider.embed([record._embedding_text() for record in records])
        except (embed_engine.EmbeddingError, ValueError) as exc:
            _logger.warning("%s: embedding %d records failed: %s", self._name, len(records), exc)
            records.write({"embedding_state": "failed", "embedding_error": str(exc)[:500]})
            return 0
        dimension = len(vectors[0])
        cr = self.env.cr
        # Writers take turns, so versions are committed in the order they were drawn.
        cr.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._table,))
        vector_store.ensure_vector_column(cr, self._table, COLUMN, dimension)
        vector_store.write_vectors(cr, self._table, zip(records.ids, vectors), column=COLUMN)
        cr.execute(f"""SELECT nextval('"{self._table}_embedding_version_seq"')""")
        version = cr.fetchone()[0]
        records.write(
            {
                "embedding_state": "done",
                "embedding_model": signature,
                "embedding_dimension": dimension,
                "embedding_version": version,
                "embedding_error": False,
            }
        )
        return len(records)

    @api.model
    def _trigger_embedding(self):
        cron = self.env.ref(CRON_XMLID, raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()

    # ------------------------------------------------------------------
    # Search

    @api.model
    def _embedding_base_domain(self):
        return [("embedding_model", "=", self._embedding_signature())]

    @api.model
    def _search_similar(self, text, k=5, domain=None, backend="auto"):
        """``[(record, similarity)]``: the ``k`` records closest to ``text``, most similar first.

        ``domain`` narrows the candidates (with the user's access rules);
        only vectors of the current provider are compared. Raises
        EmbeddingError when the provider cannot embed ``text``.
        """
        vector = self._embedding_provider().embed([text or ""])[0]
        return self._search_similar_vector(vector, k=k, domain=domain, backend=backend)

    @api.model
    def _search_similar_vector(self, vector, k=5, domain=None, backend="auto"):
        self.env.flush_all()
        query = self._search(self._embedding_base_domain() + list(domain or []))
        if query.is_empty():
            return []
        subselect = query.subselect()
        cr = self.env.cr
        # The exact search keeps its matrix while no batch of vectors is written
        # (one index lookup instead of a scan); rows deleted or filtered out
        # since then are dropped by the where clause.
        cr.execute(f'SELECT max(embedding_version) FROM "{self._table}"')
        version = cr.fetchone()[0]
        rows = vector_store.knn(
            cr,
            self._table,
            vector,
            k,
            where_sql=f"id IN {subselect.code}",
            params=tuple(subselect.params),
            backend=backend,
            column=COLUMN,
            version=version,
        )
        records = self.browse([record_id for record_id, _similarity in rows])
        return [(record, similarity) for record, (_id, similarity) in zip(records, rows)]
