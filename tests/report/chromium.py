"""Open an HTML file in headless Chromium over the DevTools protocol and report what happened.

A small client of the Chrome DevTools Protocol (websocket-client): it records console
errors, uncaught exceptions and every network request the page makes, waits until the
page's charts have drawn, counts them and saves a screenshot.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Debian's package installs ``chromium``; other systems may have one of the others.
BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: URL schemes a self-contained page may load from.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")

#: JavaScript: per chart div, whether plotly has drawn it (its SVG and plot container exist).
CHARTS_JS = """
(() => Array.from(document.querySelectorAll('div.mt-chart')).map(d => ({
    id: (d.querySelector('.plotly-graph-div') || {}).id || null,
    svg: d.querySelectorAll('svg.main-svg').length,
    container: d.querySelectorAll('.plot-container').length,
    traces: d.querySelectorAll('g.trace, g.parcoords, g.trace.bars, g.trace.boxes').length,
})))()
"""


def find_chromium() -> str | None:
    """The path of a Chromium binary, or None."""
    for name in BINARIES:
        if path := shutil.which(name):
            return path
    return None


@dataclass
class PageResult:
    """What a page did in the browser.

    Attributes:
        console_errors: Console messages of level error, and uncaught exceptions.
        requests: URLs of every request that was not to a local scheme.
        charts: Per chart div: ``svg`` and ``container`` counts (see :data:`CHARTS_JS`).
        screenshot: Where the screenshot was saved.
        seconds: How long loading and drawing took.
    """

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    screenshot: Path | None = None
    seconds: float = 0.0


class _Session:
    def __init__(self, url: str) -> None:
        import websocket

        self._ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == msg_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def drain(self, seconds: float) -> None:
        """Collect events for ``seconds``."""
        end = time.monotonic() + seconds
        self._ws.settimeout(0.05)
        try:
            while time.monotonic() < end:
                try:
                    self.events.append(json.loads(self._ws.recv()))
                except Exception:  # websocket timeout: nothing this instant
                    continue
        finally:
            self._ws.settimeout(30)

    def close(self) -> None:
        self._ws.close()


def _devtools_url(user_dir: Path, process: subprocess.Popen[bytes], timeout: float) -> str:
    """The page target's websocket URL (Chromium writes its port to DevToolsActivePort)."""
    import urllib.request

    port_file = user_dir / "DevToolsActivePort"
    end = time.monotonic() + timeout
    while not port_file.is_file() or not port_file.read_text().strip():
        if process.poll() is not None or time.monotonic() > end:
            raise RuntimeError(f"Chromium did not start (exit code {process.poll()})")
        time.sleep(0.05)
    port = port_file.read_text().split()[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
        targets = json.load(response)
    return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")


def open_page(
    html: Path, screenshot: Path, *, width: int = 1280, height: int = 2400, timeout: float = 60.0
) -> PageResult:
    """Load ``html`` in headless Chromium, wait for every chart to draw, screenshot it.

    The browser gets no network (every host name resolves to nothing), so a page that
    tries to load anything from outside records the request and gets nothing back.
    """
    binary = find_chromium()
    if binary is None:
        raise RuntimeError("no chromium binary")
    result = PageResult(screenshot=screenshot)
    # Chromium's helper processes may still write the profile as it is removed ("Directory not
    # empty" under load): a leftover temporary folder must not fail the check.
    with tempfile.TemporaryDirectory(prefix="mt-chromium-", ignore_cleanup_errors=True) as user_dir:
        process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-sync",
                "--disable-component-update",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--user-data-dir={user_dir}",
                "--remote-debugging-port=0",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            session = _Session(_devtools_url(Path(user_dir), process, timeout))
            started = time.monotonic()
            for domain in ("Runtime", "Log", "Network", "Page"):
                session.call(f"{domain}.enable")
            session.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
            session.call("Page.navigate", url=html.resolve().as_uri())
            end = started + timeout
            charts: list[dict[str, Any]] = []
            while time.monotonic() < end:
                session.drain(0.25)
                value = session.call("Runtime.evaluate", expression=CHARTS_JS, returnByValue=True)
                charts = value.get("result", {}).get("value") or []
                loaded = any(e.get("method") == "Page.loadEventFired" for e in session.events)
                if loaded and charts and all(c["svg"] and c["container"] for c in charts):
                    break
            session.drain(0.5)  # late errors
            result.seconds = time.monotonic() - started
            result.charts = charts
            shot = session.call("Page.captureScreenshot", format="png")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            session.close()
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    for event in session.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            result.console_errors.append(f"console.{params['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            result.console_errors.append(f"exception: {text}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            result.console_errors.append(f"log: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(LOCAL_SCHEMES):
                result.requests.append(url)
    return result
