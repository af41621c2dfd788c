"""A local stand-in for the Anthropic and OpenAI HTTP APIs, for the real SDKs.

It answers ``POST /v1/messages`` (Anthropic Messages) and
``POST /v1/chat/completions`` (OpenAI Chat Completions) with scripted
replies, in the response shapes the installed SDKs parse, and records every
request it receives. Not a test module: tests import it.

    with FakeLLMServer() as server:
        server.script("{...}")
        diagnose("openai", "k", "m", incident, candidates, base_url=server.openai_base_url)
        server.requests[-1].body["messages"]
"""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    # Sent verbatim instead of a well-formed API body (to test garbage).
    raw_body: str = None
    delay: float = 0.0


@dataclass
class RecordedRequest:
    path: str
    headers: dict
    body: object


class FakeLLMServer:
    def __init__(self):
        self.requests = []
        self._replies = []
        self.default_reply = Reply(text="{}")
        self._lock = threading.Lock()
        self._httpd = None
        self._thread = None

    # -- lifecycle ------------------------------------------------------------

    def start(self):
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def url(self):
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def anthropic_base_url(self):
        # The Anthropic SDK appends /v1/messages itself.
        return self.url

    @property
    def openai_base_url(self):
        # The OpenAI SDK appends /chat/completions to a base ending in /v1.
        return self.url + "/v1"

    # -- scripting ------------------------------------------------------------

    def script(self, text="", status=200, raw_body=None, delay=0.0):
        """Queue one reply; once the queue is empty the default reply is used."""
        with self._lock:
            self._replies.append(Reply(text=text, status=status, raw_body=raw_body, delay=delay))

    def _next_reply(self, request):
        with self._lock:
            self.requests.append(request)
            return self._replies.pop(0) if self._replies else self.default_reply


class _Handler(BaseHTTPRequestHandler):
    fake = None

    def log_message(self, *args):
        pass  # keep test output clean

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {key.lower(): value for key, value in self.headers.items()}
        reply = self.fake._next_reply(RecordedRequest(self.path, headers, body))
        if reply.delay:
            time.sleep(reply.delay)

        if self.path.rstrip("/").endswith("/v1/messages"):
            payload = _anthropic_payload(body, reply)
        elif self.path.rstrip("/").endswith("/chat/completions"):
            payload = _openai_payload(body, reply)
        else:
            reply = Reply(status=404)
            payload = {"error": {"message": f"no route {self.path}", "type": "not_found"}}
        if reply.raw_body is not None:
            data = reply.raw_body.encode("utf-8")
        else:
            data = json.dumps(payload).encode("utf-8")

        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            # Scripted failures must not be replayed by the SDK's own retries.
            self.send_header("x-should-retry", "false")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (timeout tests)


def _anthropic_payload(body, reply):
    if reply.status >= 400:
        return {"type": "error", "error": {"type": "api_error", "message": reply.text or "scripted failure"}}
    model = body.get("model", "fake-model") if isinstance(body, dict) else "fake-model"
    return {
        "id": "msg_fake_0001",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": _words(body), "output_tokens": len(reply.text.split())},
    }


def _openai_payload(body, reply):
    if reply.status >= 400:
        return {"error": {"message": reply.text or "scripted failure", "type": "server_error", "code": None}}
    model = body.get("model", "fake-model") if isinstance(body, dict) else "fake-model"
    prompt_tokens = _words(body)
    completion_tokens = len(reply.text.split())
    return {
        "id": "chatcmpl-fake-0001",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _words(body):
    """A rough token count of the request, so usage fields are plausible."""
    return len(json.dumps(body).split())
