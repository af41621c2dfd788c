"""Embedding providers: the offline feature hashing and the OpenAI SDK path.

The OpenAI tests drive the real ``openai`` SDK against a small HTTP server on
127.0.0.1 written below. It answers POST /v1/embeddings in OpenAI's wire
format: base64 little-endian float32 when the request asks for it (which the
SDK does by default), float lists otherwise, or float lists regardless for
the model ``compat-float`` (as some OpenAI-compatible servers do).
"""

import base64
import json
import math
import os
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.similar import embed

ADDON_ROOT = Path(__file__).resolve().parents[2]


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b))


def norm(vector):
    return math.sqrt(sum(x * x for x in vector))


# --------------------------------------------------------------------------
# Offline provider

# One text per kind of fault, worded as Odoo 18 / psycopg2 print them.
KNOWN_FAULTS = {
    "pkey": 'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "res_partner_pkey"\n'
    "DETAIL:  Key (id)=(1187) already exists.",
    "column": "psycopg2.errors.UndefinedColumn: column res_partner.x_loyalty_tier does not exist\n"
    'LINE 1: SELECT "res_partner"."x_loyalty_tier" FROM "res_partner" WHERE ...',
    "table": 'psycopg2.errors.UndefinedTable: relation "hr_expense_sheet" does not exist\n'
    'LINE 1: SELECT "hr_expense_sheet"."id" FROM "hr_expense_sheet"',
    "xpath": "odoo.tools.convert.ParseError: while parsing /opt/odoo/custom/sale_ext/views/sale_views.xml:12\n"
    "Element '<xpath expr=\"//field[@name='payment_term_id']\">' cannot be located in parent view",
    "view_field": 'Field "x_delivery_slot" does not exist in model "sale.order"',
    "xmlid": "ValueError: External ID not found in the system: sale_ext.action_delivery_slots",
    "filestore": "FileNotFoundError: [Errno 2] No such file or directory: "
    "'/var/lib/odoo/filestore/prod/3f/3f2a9c0d5e1b7a4c8d9e0f1a2b3c4d5e6f7a8b9c'",
    "singleton": "ValueError: Expected singleton: sale.order(12, 15)",
    "access": "odoo.exceptions.AccessError: You are not allowed to access 'Journal Entry' (account.move) records.",
    "serialization": "psycopg2.errors.SerializationFailure: could not serialize access due to concurrent update",
    "smtp": "smtplib.SMTPAuthenticationError: (535, b'5.7.8 Username and Password not accepted')",
    "domain": "ValueError: Invalid field res.partner.x_region in leaf ('x_region', '=', 'north')",
    "python_lib": "ModuleNotFoundError: No module named 'phonenumbers'",
}

# The same faults met again, on other records, tables, fields and modules.
NEW_OCCURRENCES = {
    "pkey": 'psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "account_move_line_pkey"\n'
    "DETAIL:  Key (id)=(99812) already exists.",
    "column": "psycopg2.errors.UndefinedColumn: column sale_order_line.x_margin_rate does not exist",
    "table": 'psycopg2.errors.UndefinedTable: relation "fleet_vehicle" does not exist',
    "xpath": "Element '<xpath expr=\"//div[@name='button_box']\">' cannot be located in parent view",
    "view_field": 'Field "x_priority" does not exist in model "project.task"',
    "xmlid": "ValueError: External ID not found in the system: base.group_portal_custom",
    "filestore": "FileNotFoundError: [Errno 2] No such file or directory: "
    "'/srv/odoo/data/filestore/db1/a1/a1b2c3d4e5f60718293a4b5c6d7e8f9012345678'",
    "singleton": "ValueError: Expected singleton: res.partner(3, 7, 9)",
    "access": "AccessError: You are not allowed to modify 'Contact' (res.partner) records.",
    "serialization": "could not serialize access due to concurrent update",
    "smtp": "SMTPAuthenticationError: (535, b'Authentication failed')",
    "domain": "ValueError: Invalid field account.move.x_batch in leaf ('x_batch', '!=', False)",
    "python_lib": "ModuleNotFoundError: No module named 'xlsxwriter'",
}


def test_offline_vectors_have_the_dimension_and_unit_length():
    provider = embed.get_provider()
    assert (provider.name, provider.model, provider.dimension) == ("offline", "feature-hash-v1", 384)
    vectors = provider.embed(list(KNOWN_FAULTS.values()) + ["", "   ", "42 17"])
    assert len(vectors) == len(KNOWN_FAULTS) + 3
    for vector in vectors:
        assert len(vector) == 384
        assert norm(vector) == pytest.approx(1.0, abs=1e-9)
    assert len(embed.get_provider("offline", dimension=64).embed(["x"])[0]) == 64


def test_offline_vectors_are_the_same_in_another_process():
    text = KNOWN_FAULTS["pkey"]
    script = (
        "import json; from engine.similar import embed; print(json.dumps(embed.get_provider().embed([%r])[0]))" % text
    )
    outputs = []
    for seed in ("1", "2"):
        # A different string-hash seed per process: only a stable hash survives it.
        env = dict(os.environ, PYTHONHASHSEED=seed)
        completed = subprocess.run(
            [sys.executable, "-c", script], cwd=ADDON_ROOT, env=env, capture_output=True, text=True, check=True
        )
        outputs.append(json.loads(completed.stdout))
    assert outputs[0] == outputs[1] == pytest.approx(embed.get_provider().embed([text])[0], abs=1e-12)


def test_occurrences_differing_only_in_ids_get_the_same_vector():
    provider = embed.get_provider()
    pairs = [
        (
            'duplicate key value violates unique constraint "sale_order_pkey"\nDETAIL: Key (id)=(42) already exists.',
            'duplicate key value violates unique constraint "sale_order_pkey"\n'
            "DETAIL: Key (id)=(98765) already exists.",
        ),
        ("Record does not exist or has been deleted.\n(Record: res.partner(7,), User: 2)",
         "Record does not exist or has been deleted.\n(Record: res.partner(1204,), User: 31)"),
        ("<odoo.addons.base.models.res_partner object at 0x7f3a2c1d9e50> is not JSON serializable",
         "<odoo.addons.base.models.res_partner object at 0x7fb0aa017310> is not JSON serializable"),
        ("session 3f2b8c1e-9a7d-4e2f-b1c3-5d6e7f8a9b0c expired",
         "session 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d expired"),
    ]  # fmt: skip
    for first, second in pairs:
        vector_a, vector_b = provider.embed([first, second])
        assert cosine(vector_a, vector_b) == pytest.approx(1.0, abs=1e-9), first
    assert embed.mask_variable_parts("Key (id)=(42)") == "Key (id)=(N)"


def test_new_occurrences_find_their_fault_first():
    provider = embed.get_provider()
    names = list(KNOWN_FAULTS)
    known = provider.embed([KNOWN_FAULTS[name] for name in names])
    for name, text in NEW_OCCURRENCES.items():
        query = provider.embed([text])[0]
        scores = sorted(((cosine(query, vector), other) for other, vector in zip(names, known)), reverse=True)
        assert scores[0][1] == name, (name, scores[:3])
        # Clearly ahead: not a near tie with the next fault.
        assert scores[0][0] - scores[1][0] > 0.05, (name, scores[:3])


def test_stack_frames_count_less_than_the_error_line():
    frames = (
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/http.py", line 2375, in __call__\n'
        "    response = request._serve_db()\n"
        '  File "/opt/odoo/odoo/service/model.py", line 156, in retrying\n'
        "    result = func()\n"
        '  File "/opt/odoo/odoo/sql_db.py", line 354, in execute\n'
        "    res = self._obj.execute(query, params)\n"
    )
    other_frames = (
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/addons/stock/models/stock_move.py", line 912, in _action_done\n'
        "    moves._create_account_move_line()\n"
    )
    column_error = "psycopg2.errors.UndefinedColumn: column stock_move.x_lot_ref does not exist"
    smtp_error = "smtplib.SMTPAuthenticationError: (535, b'Authentication failed')"
    same_error, same_frames, reference = embed.get_provider().embed(
        [other_frames + column_error, frames + smtp_error, frames + column_error]
    )
    assert cosine(reference, same_error) > 0.6
    assert cosine(reference, same_error) > cosine(reference, same_frames) + 0.2


def test_identifiers_are_split_into_their_words():
    features = embed.text_features("psycopg2.errors.UndefinedColumn in sale_order_line")
    assert {"psycopgn.errors.undefinedcolumn", "sale_order_line"} <= set(features["w"])
    assert {"undefined", "column", "sale", "order", "line", "errors"} <= set(features["s"])
    assert "<co" in features["c"] and "umn>" in features["c"]
    # Related wording meets through the sub-words and n-grams.
    provider = embed.get_provider()
    camel, spaced, unrelated = provider.embed(["UndefinedColumn", "undefined column", "SMTP timeout"])
    assert cosine(camel, spaced) > 0.3 > cosine(camel, unrelated) + 0.2


def test_get_provider_by_name_and_settings():
    assert isinstance(embed.get_provider(None), embed.HashingEmbeddingProvider)
    assert isinstance(embed.get_provider(" OpenAI ", api_key="k"), embed.OpenAIEmbeddingProvider)
    # Unset settings (as an empty form field gives them) keep their defaults.
    assert embed.get_provider("offline", dimension=None).dimension == 384
    provider = embed.get_provider("openai", api_key="k", model="text-embedding-3-large", base_url="", dimensions=None)
    assert (provider.model, provider.dimension) == ("text-embedding-3-large", 3072)
    assert embed.get_provider("openai", api_key="k").dimension == 1536
    with pytest.raises(ValueError):
        embed.get_provider("word2vec")
    with pytest.raises(ValueError):
        embed.get_provider("offline", dimension=4)


# --------------------------------------------------------------------------
# OpenAI provider against a local server speaking OpenAI's wire format


def server_vector(text, size):
    """What the fake server answers for ``text``: not normalised, on purpose."""
    return [float(len(text)), float(sum(map(ord, text)) % 97)] + [0.5] * (size - 2)


class FakeOpenAIHandler(BaseHTTPRequestHandler):
    requests = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
            pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        authorization = self.headers.get("Authorization")
        type(self).requests.append({"path": self.path, "authorization": authorization, "body": body})
        if self.path != "/v1/embeddings":
            return self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
        if authorization != "Bearer test-key":
            error = {
                "message": "Incorrect API key provided",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
            return self._send(401, {"error": error})
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if "sleep" in inputs:
            time.sleep(2)
        size = body.get("dimensions") or 8
        as_base64 = body.get("encoding_format") == "base64" and body["model"] != "compat-float"
        data = []
        for index, text in enumerate(inputs):
            vector = server_vector(text, size)
            encoded = base64.b64encode(struct.pack("<%df" % size, *vector)).decode() if as_base64 else vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        # Answer out of order: clients must use "index".
        data.reverse()
        tokens = sum(len(text.split()) for text in inputs)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        self._send(200, {"object": "list", "data": data, "model": body["model"], "usage": usage})


@pytest.fixture(scope="module")
def openai_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAIHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def requests_seen(openai_server, monkeypatch):
    # A proxy configured in the environment must not capture the local server.
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    FakeOpenAIHandler.requests = []
    return FakeOpenAIHandler.requests


def expected(text, size):
    vector = server_vector(text, size)
    length = norm(vector)
    return [value / length for value in vector]


def test_openai_batches_and_decodes_base64_in_order(openai_server, requests_seen):
    provider = embed.get_provider(
        "openai", api_key="test-key", base_url=openai_server, batch_size=2, max_retries=0, max_chars=40
    )
    texts = ["KeyError: 'x_pos_note'", "", "Expected singleton: sale.order(1, 2)", "duplicate key", "x" * 50]
    vectors = provider.embed(texts)

    assert [request["path"] for request in requests_seen] == ["/v1/embeddings"] * 3
    assert {request["authorization"] for request in requests_seen} == {"Bearer test-key"}
    sent = [text for request in requests_seen for text in request["body"]["input"]]
    # Empty texts are refused by the API and long ones cut to the configured size.
    assert sent == [texts[0], "(empty)", texts[2], texts[3], "x" * 40]
    for request in requests_seen:
        assert request["body"]["model"] == "text-embedding-3-small"
        assert request["body"]["encoding_format"] == "base64"
        assert "dimensions" not in request["body"]
    for text, vector in zip(sent, vectors):
        assert vector == pytest.approx(expected(text, 8), abs=1e-6)
        assert norm(vector) == pytest.approx(1.0, abs=1e-9)


def test_openai_dimensions_and_float_answers(openai_server, requests_seen):
    provider = embed.get_provider(
        "openai", api_key="test-key", base_url=openai_server, model="text-embedding-3-large", dimensions=16
    )
    assert provider.dimension == 16
    (vector,) = provider.embed(['UndefinedTable: relation "pos_config" does not exist'])
    assert requests_seen[0]["body"]["dimensions"] == 16
    assert vector == pytest.approx(expected(requests_seen[0]["body"]["input"][0], 16), abs=1e-6)

    # A compatible server answering floats although base64 was asked; its
    # unknown model tells its size by answering a probe.
    compat = embed.get_provider("openai", api_key="test-key", base_url=openai_server, model="compat-float")
    assert compat.dimension == 8
    assert len(requests_seen) == 2
    vectors = compat.embed(["a", "bb"])
    assert vectors == [pytest.approx(expected("a", 8), abs=1e-12), pytest.approx(expected("bb", 8), abs=1e-12)]


def test_openai_failures_raise_embedding_error(openai_server, requests_seen):
    wrong_key = embed.get_provider("openai", api_key="wrong", base_url=openai_server, max_retries=0)
    with pytest.raises(embed.EmbeddingError, match="Incorrect API key"):
        wrong_key.embed(["anything"])

    slow = embed.get_provider("openai", api_key="test-key", base_url=openai_server, timeout=0.3, max_retries=0)
    started = time.monotonic()
    with pytest.raises(embed.EmbeddingError):
        slow.embed(["sleep"])
    assert time.monotonic() - started < 1.5
