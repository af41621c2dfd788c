"""The website_forum bridge: solved questions (accepted answers only) become knowledge entries.

The regular test database has no website_forum: there the bridge must do
nothing. The rest runs where website_forum is installed next to self_healing.
"""

from odoo.tests import tagged

from .knowledge_common import FAULTS, KnowledgeCase


@tagged("post_install", "-at_install")
class TestKnowledgeForum(KnowledgeCase):
    def test_without_website_forum_the_bridge_does_nothing(self):
        if self.Entry._website_forum_available():
            self.skipTest("website_forum is installed here")
        before = self.Entry.search_count([])
        self.assertIsNone(self.Entry._ingest_website_forum())
        self.Entry._cron_ingest_website_forum()
        self.assertEqual(self.Entry.search_count([]), before)
        cron = self.env.ref("self_healing.ir_cron_knowledge_website_forum")
        self.assertTrue(cron.active)

    def test_solved_questions_are_ingested_and_follow_the_forum(self):
        if not self.Entry._website_forum_available():
            self.skipTest("website_forum is not installed in this database")
        Post = self.env["forum.post"]
        forum = self.env["forum.forum"].create({"name": "Odoo Help"})
        tag = self.env["forum.tag"].create({"name": "postgresql", "forum_id": forum.id})
        question = Post.create(
            {
                "forum_id": forum.id,
                "name": "Cannot create contacts after restoring a backup",
                "content": f"<p>Since the restore every new contact fails:</p><pre>{FAULTS['pkey'][0]}</pre>",
                "tag_ids": [(6, 0, tag.ids)],
            }
        )
        wrong = Post.create({"forum_id": forum.id, "parent_id": question.id, "content": "<p>Reinstall Odoo.</p>"})
        right = Post.create(
            {
                "forum_id": forum.id,
                "parent_id": question.id,
                "content": "<p>Run <code>SELECT setval('res_partner_id_seq', max(id))</code>.</p>",
            }
        )
        unsolved = Post.create({"forum_id": forum.id, "name": "Report is blank", "content": "<p>wkhtmltopdf</p>"})
        Post.create({"forum_id": forum.id, "parent_id": unsolved.id, "content": "<p>Maybe fonts?</p>"})

        self.assertEqual(self.Entry._ingest_website_forum()["created"], 0, "nothing accepted yet")
        right.is_correct = True
        summary = self.Entry._ingest_website_forum()
        self.assertEqual((summary["created"], summary["archived"], summary["errors"]), (1, 0, []))
        entry = self.Entry.search([("key", "=", f"website_forum:{question.id}")])
        self.assertEqual(
            (entry.source, entry.name), ("website_forum", "Cannot create contacts after restoring a backup")
        )
        self.assertIn('unique constraint "res_partner_pkey"', entry.problem)
        self.assertNotIn("<pre>", entry.problem)
        self.assertIn("setval('res_partner_id_seq'", entry.solution)
        self.assertNotIn("Reinstall", entry.solution)
        self.assertTrue(entry.url.startswith("http") and entry.url.endswith(question.website_url))
        self.assertEqual(entry.tags, "Odoo Help, postgresql")
        self.assertEqual(self.Entry._ingest_website_forum()["skipped"], 1, "a second run changes nothing")

        # The accepted answer moves: the entry follows; no accepted answer: the entry is archived.
        (right | wrong).write({"is_correct": False})
        wrong.is_correct = True
        self.assertEqual(self.Entry._ingest_website_forum()["updated"], 1)
        self.assertIn("Reinstall Odoo", entry.solution)
        wrong.is_correct = False
        self.assertEqual(self.Entry._ingest_website_forum()["archived"], 1)
        self.assertFalse(entry.active)
        right.is_correct = True
        self.Entry._ingest_website_forum()
        self.assertTrue(entry.active, "solved again: back in the knowledge base")
        # Found by the matcher like any other solved case.
        self.embed_all()
        incident = self.make_incident(name="pkey", sample_traceback=FAULTS["pkey"][1])
        self.assertIn(entry, [record for record, _similarity in self.Matcher.match(incident).neighbours])
