"""Screenshots of the backend for the README, through headless Chromium.

Logs in with JSON-RPC, hands the session cookie to Chromium over the DevTools
protocol, opens the page and saves a PNG. Run it against a running demo:
``python bin/selfhealing_cli/screenshot.py URL OUT.png``.
"""

import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1440,900",
]


def login(base_url, db, login_name, password):
    payload = json.dumps(
        {"jsonrpc": "2.0", "method": "call", "params": {"db": db, "login": login_name, "password": password}}
    ).encode()
    request = urllib.request.Request(
        f"{base_url}/web/session/authenticate", data=payload, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        cookie = response.headers.get("Set-Cookie", "")
    return cookie.split("session_id=", 1)[1].split(";", 1)[0]


def capture(url, out_path, db="self_healing_demo", login_name="admin", password="admin", settle=4.0):
    import websocket

    parsed = urllib.parse.urlparse(url)
    base_url = f"{parsed.scheme}://{parsed.netloc}"
    session_id = login(base_url, db, login_name, password)
    profile = tempfile.mkdtemp(prefix="sh-chromium-")
    port = 9333
    chromium = subprocess.Popen(
        [
            shutil.which("chromium") or "chromium",
            *CHROMIUM_FLAGS,
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _attempt in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as response:
                    pages = [t for t in json.load(response) if t["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        socket = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30)
        counter = iter(range(1, 10_000))

        def call(method, **params):
            message_id = next(counter)
            socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
            while True:
                answer = json.loads(socket.recv())
                if answer.get("id") == message_id:
                    return answer.get("result", {})

        call("Network.enable")
        call("Network.setCookie", name="session_id", value=session_id, domain=parsed.hostname, path="/")
        call("Page.enable")
        call("Page.navigate", url=url)
        time.sleep(settle)
        shot = call("Page.captureScreenshot", format="png")
        with open(out_path, "wb") as handle:
            handle.write(base64.b64decode(shot["data"]))
        socket.close()
    finally:
        chromium.terminate()
        chromium.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    capture(sys.argv[1], sys.argv[2])
