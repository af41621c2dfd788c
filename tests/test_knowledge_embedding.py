"""Knowledge vectors in a real database: the job, the search on both backends, provider changes."""

import os
from unittest.mock import patch

from odoo.tests import tagged

from ..engine.similar import vector_store
from ..models.embedding_mixin import COLUMN
from .common import jobs_see_the_test
from .knowledge_common import FAULTS, HAS_VECTOR, FakeOpenAIEmbeddings, KnowledgeCase

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@tagged("post_install", "-at_install")
class TestKnowledgeEmbedding(KnowledgeCase):
    def make_faults(self):
        """One entry per known fault (its first text), the new occurrences kept for queries."""
        return {name: self.make_entry(f"emb-{name}", texts[0]) for name, texts in FAULTS.items()}

    def vector_column_type(self, table="self_healing_knowledge_entry"):
        self.env.cr.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname = %s AND NOT attisdropped",
            (table, COLUMN),
        )
        row = self.env.cr.fetchone()
        return row and row[0]

    def test_the_job_embeds_in_batches_and_records_the_provider(self):
        entries = self.make_faults()
        everything = self.Entry.browse([entry.id for entry in entries.values()])
        self.assertEqual(set(everything.mapped("embedding_state")), {"todo"})
        first = self.Entry._cron_embed(batch_size=50)
        self.assertEqual(first["done"], 50, "one batch per call: the job runner calls again")
        self.assertGreater(first["remaining"], 0)
        self.embed_all(batch_size=50)
        for entry in entries.values():
            self.assertEqual(
                (entry.embedding_state, entry.embedding_model, entry.embedding_dimension),
                ("done", "offline/feature-hash-v1/384", 384),
            )
        active_guardrails = self.Guardrail.search_count([("state", "=", "active")])
        self.assertEqual(self.GuardrailVector.search_count([("embedding_state", "=", "done")]), active_guardrails)
        # Editing the problem text queues the entry again; editing the tags does not.
        entries["pkey"].tags = "postgres"
        self.assertEqual(entries["pkey"].embedding_state, "done")
        entries["pkey"].problem += "\nAfter a database restore."
        self.assertEqual(entries["pkey"].embedding_state, "todo")
        self.assertEqual(self.embed_all(), 1)

    def test_each_new_occurrence_finds_its_own_fault_first(self):
        entries = self.make_faults()
        self.embed_all()
        for name, texts in FAULTS.items():
            found = self.Entry._search_similar(texts[1], k=3)
            ranking = [entry for entry, _similarity in found]
            if name == "unique":
                # Look-alikes share almost every word: another unique constraint is
                # nearer to the pkey case than to its own. The rules tell them
                # apart (test_matcher); similarity only ranks it second.
                self.assertEqual(ranking[:2], [entries["pkey"], entries["unique"]])
                continue
            self.assertEqual(ranking[0], entries[name], f"{name}: {ranking[0].name} came first")
            self.assertGreater(found[0][1], 0.45, name)

    def test_the_pgvector_column_follows_the_server_and_both_backends_agree(self):
        entries = self.make_faults()
        # Fillers, so that the index has more than a handful of rows to choose from.
        for index in range(120):
            name = list(FAULTS)[index % len(FAULTS)]
            word = "".join(chr(97 + (index // 26**place) % 26) for place in range(3))
            self.make_entry(f"emb-filler-{index}", f"{FAULTS[name][index % 2]}\nseen on host {word} in job x{word}q")
        self.embed_all()
        column = self.vector_column_type()
        if HAS_VECTOR == "1":
            self.assertEqual(column, "vector(384)")
        elif HAS_VECTOR == "0":
            self.assertIsNone(column, "no pgvector here: only the float8[] array is kept")
        backends = ["numpy"] + (["pgvector", "pgvector_exact"] if column else [])
        for name, texts in FAULTS.items():
            results = {backend: self.Entry._search_similar(texts[1], k=5, backend=backend) for backend in backends}
            reference = [(entry.id, round(similarity, 4)) for entry, similarity in results["numpy"]]
            for backend, found in results.items():
                self.assertEqual(
                    [(entry.id, round(similarity, 4)) for entry, similarity in found],
                    reference,
                    f"{name}: {backend} differs from the exact search",
                )
        # A domain narrows the candidates, on every backend.
        for backend in backends:
            found = self.Entry._search_similar(
                FAULTS["pkey"][1], k=5, domain=[("key", "like", "emb-%")], backend=backend
            )
            self.assertEqual(found[0][0], entries["pkey"])

    def test_archived_and_other_provider_vectors_are_not_searched(self):
        entries = self.make_faults()
        self.embed_all()
        entries["pkey"].active = False
        found = [entry for entry, _similarity in self.Entry._search_similar(FAULTS["pkey"][1], k=20)]
        self.assertNotIn(entries["pkey"], found)
        self.env.cr.execute(
            "UPDATE self_healing_knowledge_entry SET embedding_model = 'someone/else' WHERE id = %s",
            (entries["column"].id,),
        )
        self.Entry.invalidate_model(["embedding_model"])
        found = [entry for entry, _similarity in self.Entry._search_similar(FAULTS["column"][1], k=20)]
        self.assertNotIn(entries["column"], found)

    def test_changing_the_provider_re_embeds_everything_in_the_background(self):
        entries = self.make_faults()
        self.embed_all()
        cron = self.env.ref("self_healing.ir_cron_knowledge_embed")
        self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]).unlink()
        self.set_param("embedding_dimensions", "256")
        self.assertEqual(set(self.Entry.browse([e.id for e in entries.values()]).mapped("embedding_state")), {"todo"})
        self.assertEqual(set(self.GuardrailVector.search([]).mapped("embedding_state")), {"todo"})
        self.assertTrue(
            self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id)]), "the job is woken up, not waited for"
        )
        self.embed_all()
        for entry in entries.values():
            self.assertEqual((entry.embedding_model, entry.embedding_dimension), ("offline/feature-hash-v1/256", 256))
        if HAS_VECTOR == "1":
            self.assertEqual(self.vector_column_type(), "vector(256)")
        (best, _similarity), *_rest = self.Entry._search_similar(FAULTS["table"][1], k=3)
        self.assertEqual(best, entries["table"])
        # Setting the same value again changes nothing.
        self.set_param("embedding_dimensions", "256")
        self.assertEqual(entries["table"].embedding_state, "done")

    def test_openai_provider_through_the_sdk_with_the_key_from_settings(self):
        entries = self.make_faults()
        self.embed_all()
        clean_env = {key: value for key, value in os.environ.items() if key not in PROXY_VARIABLES}
        with FakeOpenAIEmbeddings() as server, patch.dict(os.environ, clean_env, clear=True):
            self.set_param("embedding_base_url", server.base_url)
            self.set_param("embedding_dimensions", "64")
            self.set_param("openai_embedding_key", "wrong-key")
            self.set_param("embedding_provider", "openai")
            self.assertEqual(entries["pkey"].embedding_state, "todo")
            self.embed_all()
            self.assertEqual(entries["pkey"].embedding_state, "failed")
            self.assertIn("Incorrect API key", entries["pkey"].embedding_error)
            # A new key puts the failed entries back in the queue.
            self.set_param("openai_embedding_key", "test-key")
            self.assertEqual(entries["pkey"].embedding_state, "todo")
            self.embed_all()
            self.assertEqual(
                (entries["pkey"].embedding_state, entries["pkey"].embedding_model, entries["pkey"].embedding_dimension),
                ("done", "openai/text-embedding-3-small/64", 64),
            )
            sent = [request for request in server.requests if request.get("dimensions") == 64]
            self.assertTrue(sent and all(request["model"] == "text-embedding-3-small" for request in sent))
            (best, _similarity), *_rest = self.Entry._search_similar(FAULTS["singleton"][1], k=3)
            self.assertEqual(best, entries["singleton"])

    def test_failed_batches_are_retried_later_not_at_once(self):
        entry = self.make_entry("emb-retry", FAULTS["smtp"][0])
        entry.write({"embedding_state": "failed", "embedding_error": "network down"})
        self.assertEqual(self.Entry._embedding_requeue(), 0, "a fresh failure waits before a retry")
        self.env.cr.execute(
            "UPDATE self_healing_knowledge_entry SET write_date = now() - interval '2 hours' WHERE id = %s", (entry.id,)
        )
        self.Entry.invalidate_model(["write_date"])
        self.assertEqual(self.Entry._embedding_requeue(), 1)
        self.assertEqual((entry.embedding_state, entry.embedding_error), ("todo", False))

    def test_exact_search_reuses_its_matrix_until_a_batch_is_written(self):
        self.make_faults()
        self.embed_all()
        self.Entry._search_similar(FAULTS["pkey"][1], k=3, backend="numpy")
        key = next(
            key
            for key in vector_store._cache
            if key[1:] == ("self_healing_knowledge_entry", COLUMN, 384) and key[0][2] == self.env.cr.dbname
        )
        cached = vector_store._cache[key]
        self.Entry._search_similar(FAULTS["column"][1], k=3, backend="numpy")
        self.assertIs(vector_store._cache[key], cached, "no new batch: the same matrix")
        late = 'psycopg2.errors.UndefinedTable: relation "mrp_workcenter_capacity" does not exist'
        self.make_entry("emb-late", late)
        self.embed_all()
        found = self.Entry._search_similar(late, k=1, backend="numpy")
        self.assertEqual(found[0][0].key, "emb-late")
        self.assertIsNot(vector_store._cache[key], cached)

    def test_the_scheduled_action_runs_the_job(self):
        entry = self.make_entry("emb-cron", FAULTS["python_lib"][0])
        cron = self.env.ref("self_healing.ir_cron_knowledge_embed")
        with jobs_see_the_test(self):
            for _round in range(5):
                cron.method_direct_trigger()
        self.env.invalidate_all()  # 19.0 ran the job on a cursor of its own
        self.assertEqual(entry.embedding_state, "done")
        self.env.cr.execute("SELECT pg_get_serial_sequence('self_healing_knowledge_entry', 'embedding_version')")
        self.assertEqual(
            self.env.cr.fetchone()[0],
            "public.self_healing_knowledge_entry_embedding_version_seq",
            "the version sequence belongs to the table and leaves with it",
        )
