"""Headless Chromium (Debian's package) with every network request caught by a local recorder."""

from __future__ import annotations

import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar


class _Recorder(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def _refuse(self):
        _Recorder.requests.append(f"{self.command} {self.path}")
        self.send_response(502)
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = do_PUT = do_OPTIONS = _refuse

    def log_message(self, *args):
        pass


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "make test installs Debian's chromium package"
    return path


def open_page(page: Path, profile: Path, screenshot: Path | None = None, size=(1400, 2600)) -> dict:
    """Render ``page`` offline; return the DOM after its scripts ran, the console log and any request."""
    _Recorder.requests = []
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    common = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-quic",
        f"--user-data-dir={profile}",
        f"--proxy-server=http://127.0.0.1:{proxy.server_address[1]}",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=15000",
        f"--window-size={size[0]},{size[1]}",
    ]
    try:
        dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
        if screenshot:
            subprocess.run(
                [*common, f"--screenshot={screenshot}", page.as_uri()], capture_output=True, timeout=120, check=True
            )
    finally:
        proxy.shutdown()
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    return {"dom": dom.stdout, "console": console, "requests": list(_Recorder.requests)}
