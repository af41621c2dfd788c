"""Importing solved cases: JSON Lines and CSV, idempotent, bad rows reported, wizard and command."""

import base64
import contextlib
import json
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

import psycopg2

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import config

from .knowledge_common import KnowledgeCase

DATA = Path(__file__).resolve().parent / "data"
ADDON_ROOT = Path(__file__).resolve().parents[1]


def jsonl(*rows):
    return "\n".join(row if isinstance(row, str) else json.dumps(row) for row in rows).encode()


@tagged("post_install", "-at_install")
class TestKnowledgeImport(KnowledgeCase):
    def import_file(self, content, filename):
        return self.Entry._import_knowledge_file(content, filename=filename)

    def test_sample_files_import_then_reimport_changes_nothing(self):
        jsonl_content = (DATA / "knowledge_sample.jsonl").read_bytes()
        csv_content = (DATA / "knowledge_sample.csv").read_bytes()
        first = self.import_file(jsonl_content, "knowledge_sample.jsonl")
        self.assertEqual(
            (first["format"], first["created"], first["updated"], first["skipped"], first["errors"]),
            ("jsonl", 5, 0, 0, []),
        )
        second = self.import_file(csv_content, "knowledge_sample.csv")
        self.assertEqual((second["format"], second["created"], second["errors"]), ("csv", 3, []))
        entry = self.Entry.search([("key", "=", "sample-seq-restore")])
        self.assertEqual(
            (entry.source, entry.error_class, entry.guardrail_id.code, entry.odoo_versions, entry.tags),
            ("forum", "SEQ_PKEY_DRIFT", "GR-SEQ-001", "16.0,17.0,18.0", "postgresql, restore"),
        )
        self.assertEqual(entry.embedding_state, "todo")
        anonymous = self.Entry.search([("name", "=", "Report prints blank pages")])
        self.assertTrue(anonymous.key.startswith("content:"), "neither key nor url: a hash of the text is the key")
        table = self.Entry.search([("key", "=", "sample-table-uninstalled")])
        self.assertIn('relation "hr_expense_sheet" does not exist\nLINE 1', table.problem)
        self.assertEqual(table.odoo_versions, "17.0,18.0")
        count = self.Entry.search_count([])
        again = self.import_file(jsonl_content, "knowledge_sample.jsonl")
        self.assertEqual((again["created"], again["updated"], again["skipped"]), (0, 0, 5))
        again_csv = self.import_file(csv_content, "knowledge_sample.csv")
        self.assertEqual((again_csv["created"], again_csv["updated"], again_csv["skipped"]), (0, 0, 3))
        self.assertEqual(self.Entry.search_count([]), count, "re-import never duplicates")

    def test_reimport_updates_given_columns_and_leaves_the_others(self):
        self.import_file(
            jsonl(
                {
                    "key": "imp-1",
                    "title": "T",
                    "problem": "P",
                    "solution": "S",
                    "error_class": "UNDEFINED_TABLE",
                    "tags": "a",
                }
            ),
            "a.jsonl",
        )
        entry = self.Entry.search([("key", "=", "imp-1")])
        entry.write({"embedding_state": "done"})
        changed = jsonl({"key": "imp-1", "title": "T", "problem": "P changed", "tags": "b"})
        summary = self.import_file(changed, "a.jsonl")
        self.assertEqual((summary["created"], summary["updated"], summary["skipped"]), (0, 1, 0))
        self.assertEqual(
            (entry.problem, entry.tags, entry.solution, entry.error_class), ("P changed", "b", "S", "UNDEFINED_TABLE")
        )
        self.assertEqual(entry.embedding_state, "todo", "a changed problem is embedded again")
        # Found by url when the key is new: the entry is updated, not duplicated.
        self.import_file(jsonl({"title": "U", "problem": "P", "url": "https://example.com/t/9"}), "b.jsonl")
        summary = self.import_file(
            jsonl({"key": "thread-9", "title": "U2", "problem": "P", "url": "https://example.com/t/9"}), "b.jsonl"
        )
        self.assertEqual((summary["created"], summary["updated"]), (0, 1))
        self.assertEqual(self.Entry.search([("url", "=", "https://example.com/t/9")]).mapped("key"), ["thread-9"])

    def test_bad_rows_are_reported_by_line_and_good_rows_kept(self):
        content = jsonl(
            {"key": "good-1", "title": "Good", "problem": "P"},
            {"key": "bad-guardrail", "title": "X", "problem": "P", "guardrail": "GR-NOPE-001"},
            "not json at all",
            {"key": "bad-class", "title": "X", "problem": "P", "error_class": "NOT_A_CLASS"},
            {"key": "good-2", "title": "Good too", "problem": "P", "url": "https://example.com/g2", "pages": 3},
        )
        summary = self.import_file(content, "mixed.jsonl")
        self.assertEqual((summary["created"], summary["skipped"]), (2, 0))
        self.assertEqual(
            [(error["line"], error["reason"]) for error in summary["errors"]],
            [
                (2, "unknown guardrail GR-NOPE-001"),
                (3, summary["errors"][1]["reason"]),
                (4, "error_class 'NOT_A_CLASS' is not a known class"),
            ],
        )
        self.assertTrue(summary["errors"][1]["reason"].startswith("invalid JSON"))
        self.assertEqual(summary["ignored_columns"], ["pages"])
        self.assertEqual(len(self.Entry.search([("key", "in", ["good-1", "good-2"])])), 2)

    def test_two_rows_updating_one_entry_are_refused(self):
        self.import_file(jsonl({"key": "dup", "title": "T", "problem": "P", "url": "https://example.com/d"}), "d.jsonl")
        summary = self.import_file(
            jsonl(
                {"key": "dup", "title": "T", "problem": "P1"},
                {"key": "other", "title": "T", "problem": "P2", "url": "https://example.com/d"},
            ),
            "d.jsonl",
        )
        self.assertEqual(summary["updated"], 1)
        self.assertEqual(summary["errors"], [{"line": 2, "reason": "updates the same entry as line 1 (key or url)"}])

    def test_wizard_shows_the_summary_and_the_rejected_rows(self):
        content = jsonl({"key": "wiz-1", "title": "T", "problem": "P"}, {"key": "wiz-2", "title": "T"})
        wizard = (
            self.env["self_healing.knowledge.import"]
            .with_user(self.sh_manager)
            .create({"file": base64.b64encode(content), "filename": "upload.jsonl"})
        )
        action = wizard.action_import()
        self.assertEqual((action["res_model"], action["res_id"]), (wizard._name, wizard.id))
        self.assertEqual(
            (wizard.state, wizard.created_count, wizard.updated_count, wizard.skipped_count, wizard.error_count),
            ("done", 1, 0, 0, 1),
        )
        self.assertEqual(wizard.error_report, "line 2: problem is missing")
        self.assertEqual(wizard.entry_ids.mapped("key"), ["wiz-1"])
        self.assertEqual(wizard.action_open_entries()["domain"], [("id", "in", wizard.entry_ids.ids)])
        csv_wizard = (
            self.env["self_healing.knowledge.import"]
            .with_user(self.sh_manager)
            .create({"file": base64.b64encode(b"title,problem\nA,B\n"), "filename": "upload.txt", "file_format": "csv"})
        )
        csv_wizard.action_import()
        self.assertEqual(csv_wizard.created_count, 1)
        broken = (
            self.env["self_healing.knowledge.import"]
            .with_user(self.sh_manager)
            .create({"file": base64.b64encode(b"name,text\nA,B\n"), "filename": "upload.csv"})
        )
        with self.assertRaisesRegex(UserError, "header lacks the column"):
            broken.action_import()

    def test_only_managers_import_and_users_read(self):
        for user in (self.sh_user, self.sh_approver):
            with self.assertRaises(AccessError):
                self.env["self_healing.knowledge.import"].with_user(user).create(
                    {"file": base64.b64encode(b"title,problem\nA,B\n"), "filename": "x.csv"}
                )
        self.import_file(jsonl({"key": "acl-1", "title": "T", "problem": "P"}), "x.jsonl")
        self.assertEqual(self.Entry.with_user(self.sh_user).search([("key", "=", "acl-1")]).name, "T")
        with self.assertRaises(AccessError):
            self.Entry.with_user(self.sh_approver).create({"name": "x", "problem": "y"})

    def test_command_line_import_into_this_database(self):
        """`bin/self-healing import-knowledge` in a child process, committing into the test database."""
        keys = ("cli-test-good", "cli-test-good-2")
        content = jsonl(
            {"key": keys[0], "title": "Imported from the command line", "problem": "P", "solution": "S"},
            {"key": "cli-test-bad", "title": "No problem"},
            {"key": keys[1], "title": "Second", "problem": "P2", "url": "ftp://nope"},
        )
        host = config["db_host"] or "localhost"
        query = {"host": host} if host.startswith("/") else {}
        netloc = urllib.parse.quote(config["db_user"] or "odoo")
        if config["db_password"]:
            netloc += ":" + urllib.parse.quote(config["db_password"])
        uri = f"postgresql://{netloc}@{'localhost' if query else host}:{config['db_port'] or 5432}/"
        uri += "?" + urllib.parse.urlencode(query) if query else ""
        with tempfile.TemporaryDirectory() as folder, self.committed_rows_removed(keys):
            path = Path(folder) / "cases.jsonl"
            path.write_bytes(content)
            command = [
                sys.executable,
                str(ADDON_ROOT / "bin" / "self-healing"),
                "import-knowledge",
                str(path),
                "--db",
                self.env.cr.dbname,
                "--pg",
                uri,
            ]
            first = subprocess.run(command + ["--json"], capture_output=True, text=True, timeout=300, check=False)
            self.assertEqual(first.returncode, 1, first.stderr)
            summary = json.loads(first.stdout.strip().splitlines()[-1])
            self.assertEqual((summary["created"], summary["updated"], summary["skipped"]), (1, 0, 0))
            self.assertEqual([error["line"] for error in summary["errors"]], [2, 3])
            second = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
            self.assertEqual(second.returncode, 1, second.stderr)
            self.assertIn("cases.jsonl (jsonl): 0 created, 0 updated, 1 unchanged, 2 rejected", second.stdout)
            self.assertIn("  line 2: problem is missing", second.stdout)
            self.assertEqual(self.committed_count(keys), 1)

    @contextlib.contextmanager
    def committed_rows_removed(self, keys):
        """The command commits in its own transaction: clean up the same way, whatever happens."""
        try:
            yield
        finally:
            with contextlib.closing(self.raw_connection()) as conn, conn.cursor() as cr:
                cr.execute("DELETE FROM self_healing_knowledge_entry WHERE key = ANY(%s)", (list(keys),))

    def committed_count(self, keys):
        with contextlib.closing(self.raw_connection()) as conn, conn.cursor() as cr:
            cr.execute("SELECT count(*) FROM self_healing_knowledge_entry WHERE key = ANY(%s)", (list(keys),))
            return cr.fetchone()[0]

    def raw_connection(self):
        conn = psycopg2.connect(
            dbname=self.env.cr.dbname,
            host=config["db_host"] or None,
            port=config["db_port"] or None,
            user=config["db_user"] or None,
            password=config["db_password"] or None,
        )
        conn.autocommit = True
        return conn
