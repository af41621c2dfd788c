"""A throwaway SMTP server on 127.0.0.1 that can be told to fail its next connections.

Pure Python, no Odoo: the chaos command runs it in its own process, the tests
in theirs. ``fail_next(n)`` makes the next ``n`` connections get the greeting
a real provider sends while it is down (421, try again later), which is the
transient failure Odoo records on the mail and the mail_retry auto-patch is
meant to recover from.
"""

import socketserver
import threading

# Worded like a provider's greeting during an outage (host name and all).
UNAVAILABLE = "421 4.3.2 smtp.example.com ESMTP service not available, try again later"


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    def reply(self, line):
        self.wfile.write(line.encode("ascii") + b"\r\n")

    def handle(self):
        if self.server.take_failure():
            self.reply(UNAVAILABLE)
            return
        envelope = {"from": None, "to": []}
        self.reply("220 localhost self_healing test SMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode("utf-8", "replace").strip()
            verb = command[:4].upper()
            if verb == "EHLO":
                self.reply("250-localhost")
                self.reply("250-8BITMIME")
                self.reply("250 SMTPUTF8")
            elif verb == "HELO":
                self.reply("250 localhost")
            elif verb == "MAIL":
                envelope = {"from": command.split(":", 1)[1].strip(), "to": []}
                self.reply("250 OK")
            elif verb == "RCPT":
                envelope["to"].append(command.split(":", 1)[1].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while True:
                    chunk = self.rfile.readline()
                    if not chunk:
                        return  # the client hung up before the end: nothing was sent (a connection test)
                    if chunk in (b".\r\n", b".\n"):
                        break
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                self.server.messages.append(dict(envelope, data=b"".join(data)))
                self.reply("250 OK: queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class LocalSMTPServer(socketserver.ThreadingTCPServer):
    """SMTP on 127.0.0.1 (``port`` 0 picks a free one); accepted messages land in ``messages``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port=0):
        super().__init__(("127.0.0.1", port), _SMTPHandler)
        self.messages = []
        self.port = self.server_address[1]
        self.refused = 0
        self._failures = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def fail_next(self, count=1):
        """Answer the next ``count`` connections with 421 and hang up, as a provider in an outage does."""
        with self._lock:
            self._failures = count

    def take_failure(self):
        with self._lock:
            if self._failures <= 0:
                return False
            self._failures -= 1
            self.refused += 1
            return True

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
