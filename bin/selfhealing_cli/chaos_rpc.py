"""A JSON-RPC session with an Odoo server, as the web client has one: a login cookie and call_kw.

It can also call through XML-RPC, as an integration script does (the same login, no cookie).
"""

import http.cookiejar
import json
import urllib.error
import urllib.request
import xmlrpc.client


class RpcError(Exception):
    """The server answered a call with an error; ``data`` holds Odoo's error details."""

    def __init__(self, message, data=None):
        super().__init__(message)
        self.data = data or {}

    @property
    def exception_name(self):
        return self.data.get("name", "")


class OdooSession:
    def __init__(self, base_url, dbname, timeout=120):
        self.base_url = base_url.rstrip("/")
        self.dbname = dbname
        self.timeout = timeout
        self.uid = None
        self._password = None
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self._ids = 0

    def _post(self, path, params):
        self._ids += 1
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": self._ids, "params": params}).encode()
        request = urllib.request.Request(self.base_url + path, data=body, headers={"Content-Type": "application/json"})
        with self._opener.open(request, timeout=self.timeout) as response:
            answer = json.loads(response.read().decode())
        if answer.get("error"):
            error = answer["error"]
            data = error.get("data") or {}
            raise RpcError(data.get("message") or error.get("message") or "error", data)
        return answer.get("result")

    def login(self, login, password):
        result = self._post("/web/session/authenticate", {"db": self.dbname, "login": login, "password": password})
        self.uid = result.get("uid") if result else None
        if not self.uid:
            raise RpcError(f"login {login!r} refused by {self.base_url}")
        self._password = password
        return self

    def xmlrpc(self, model, method, *args, **kwargs):
        """``execute_kw`` over XML-RPC as the logged-in user; a server fault is raised as RpcError."""
        proxy = xmlrpc.client.ServerProxy(f"{self.base_url}/xmlrpc/2/object", allow_none=True)
        try:
            return proxy.execute_kw(self.dbname, self.uid, self._password, model, method, list(args), kwargs)
        except xmlrpc.client.Fault as fault:
            lines = (fault.faultString or "").strip().splitlines()
            raise RpcError(lines[-1] if lines else "XML-RPC fault", {"name": "xmlrpc.client.Fault"}) from None

    def call(self, model, method, *args, **kwargs):
        return self._post(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )

    def get(self, path):
        """GET ``path`` in this session; returns the HTTP status (errors included, never raised)."""
        try:
            with self._opener.open(self.base_url + path, timeout=self.timeout) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def search_read(self, model, domain, field_names, **kwargs):
        return self.call(model, "search_read", domain, field_names, **kwargs)
