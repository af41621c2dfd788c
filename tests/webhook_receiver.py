"""A webhook receiver on 127.0.0.1 for the notification tests: records requests, answers as scripted.

with WebhookReceiver() as receiver:
    receiver.script(Reply(status=503), Reply(status=200))
    ...
    receiver.requests[0].json()
"""

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: str = "ok"
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self):
        self.requests = []
        self._replies = []
        self._lock = threading.Lock()
        self._httpd = None

    def __enter__(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server hook name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    reply = receiver._replies.pop(0) if receiver._replies else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body.encode("utf-8")
                with contextlib.suppress(OSError):  # the client gave up waiting (the timeout tests)
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    def url(self, path="/hook"):
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def script(self, *replies):
        with self._lock:
            self._replies.extend(replies)
