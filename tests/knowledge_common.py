"""Shared by the knowledge and matcher tests: fault texts, a queue drainer, a local OpenAI server."""

import base64
import json
import os
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..engine.similar import embed
from .common import SelfHealingCase

HAS_VECTOR = os.environ.get("SELF_HEALING_TEST_HAS_VECTOR")
PARAM = "self_healing.%s"

# Odoo 18 / psycopg2 texts of distinct faults, each with a new occurrence on other names.
FAULTS = {
    "pkey": (
        'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "res_partner_pkey"\n'
        "DETAIL:  Key (id)=(1187) already exists.",
        'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "stock_move_pkey"\n'
        "DETAIL:  Key (id)=(90211) already exists.",
    ),
    "unique": (
        "psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "
        '"res_partner_ref_company_uniq"\nDETAIL:  Key (ref, company_id)=(C042, 1) already exists.',
        "psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "
        '"product_product_barcode_uniq"\nDETAIL:  Key (barcode)=(5901234123457) already exists.',
    ),
    "column": (
        "psycopg2.errors.UndefinedColumn: column res_partner.x_loyalty_tier does not exist\n"
        'LINE 1: SELECT "res_partner"."x_loyalty_tier" FROM "res_partner" WHERE ...',
        "psycopg2.errors.UndefinedColumn: column sale_order_line.x_margin_rate does not exist\n"
        'LINE 1: SELECT "sale_order_line"."x_margin_rate" FROM "sale_order_line"',
    ),
    "table": (
        'psycopg2.errors.UndefinedTable: relation "hr_expense_sheet" does not exist\n'
        'LINE 1: SELECT "hr_expense_sheet"."id" FROM "hr_expense_sheet"',
        'psycopg2.errors.UndefinedTable: relation "fleet_vehicle" does not exist\n'
        'LINE 1: SELECT "fleet_vehicle"."id" FROM "fleet_vehicle"',
    ),
    "singleton": (
        "ValueError: Expected singleton: sale.order(12, 15)",
        "ValueError: Expected singleton: res.partner(3, 7, 9)",
    ),
    "missing": (
        "odoo.exceptions.MissingError: Record does not exist or has been deleted.\n"
        "(Record: sale.order(4821,), User: 2)",
        "odoo.exceptions.MissingError: Record does not exist or has been deleted.\n"
        "(Record: account.move(77,), User: 6)",
    ),
    "smtp": (
        "smtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted')",
        "smtplib.SMTPAuthenticationError: (535, b'Authentication failed for user billing')",
    ),
    "python_lib": (
        "ModuleNotFoundError: No module named 'phonenumbers'",
        "ModuleNotFoundError: No module named 'xlsxwriter'",
    ),
}


class KnowledgeCase(SelfHealingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Entry = cls.env["self_healing.knowledge.entry"]
        cls.GuardrailVector = cls.env["self_healing.guardrail.vector"]
        cls.Matcher = cls.env["self_healing.matcher"]

    def set_param(self, name, value):
        self.env["ir.config_parameter"].sudo().set_param(PARAM % name, value)

    def embed_all(self, batch_size=100):
        """Run the embedding job until its queue is empty; returns how many records it embedded."""
        total = 0
        for _round in range(200):
            progress = self.Entry._cron_embed(batch_size=batch_size)
            total += progress["done"]
            if not progress["remaining"] or not progress["done"]:
                return total
        raise AssertionError("the embedding queue does not drain")

    def make_entry(self, key, problem, **values):
        defaults = {"name": key, "key": key, "problem": problem, "solution": "Fixed.", "confirmed_by": "maintainer"}
        return self.Entry.create(dict(defaults, **values))


class FakeOpenAIEmbeddings:
    """A local server answering POST /v1/embeddings as OpenAI does.

    Its vectors are the offline provider's at the requested size, so results
    stay meaningful; only the key ``test-key`` is accepted.
    """

    def __init__(self):
        self.requests = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(body)
                if self.headers.get("Authorization") != "Bearer test-key":
                    return self._send(
                        401,
                        {
                            "error": {
                                "message": "Incorrect API key provided",
                                "type": "invalid_request_error",
                                "code": "invalid_api_key",
                            }
                        },
                    )
                size = body.get("dimensions") or 64
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                vectors = embed.get_provider("offline", dimension=size).embed(texts)
                data = []
                for index, vector in enumerate(vectors):
                    if body.get("encoding_format") == "base64":
                        vector = base64.b64encode(struct.pack("<%df" % size, *vector)).decode()
                    data.append({"object": "embedding", "index": index, "embedding": vector})
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": data,
                        "model": body["model"],
                        "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    },
                )

            def _send(self, status, payload):
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
