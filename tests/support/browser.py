"""Open a local HTML file in headless Chromium over the Chrome DevTools Protocol (CDP), for tests.

``with HeadlessChromium() as browser: page = browser.open(path)`` waits for the load event plus a short
settle time and returns a :class:`PageResult`: PNG screenshot, console messages, errors (console errors,
uncaught exceptions, ``Log`` errors such as failed loads) and every URL requested; ``browser.evaluate(js)``
runs JavaScript in that page. Offline by design: every host name fails to resolve at once, so a page
reaching for the network shows up in ``network_requests``/``errors`` instead of hanging. Each ``open``
navigates the same tab. ``require_chromium()`` gives the browser's path or skips the test (fails it under
``OPENCLARIFY_REQUIRE_BROWSER=1``, as in CI).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

__all__ = ["HeadlessChromium", "PageResult", "browser_required", "chromium_path", "require_chromium"]

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-dev-shm-usage", "--no-default-browser-check", "--mute-audio", "--hide-scrollbars",
    # offline and deterministic: any host name fails at once, loopback still works
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--remote-debugging-port=0",
]  # fmt: skip


def chromium_path() -> str | None:
    """The Chromium (or Chrome) executable: Debian's /usr/bin/chromium, else the first one on PATH."""
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


def browser_required() -> bool:
    """True where a missing browser must fail the tests instead of skipping them (CI)."""
    return os.environ.get("OPENCLARIFY_REQUIRE_BROWSER") == "1"


def require_chromium() -> str:
    """Chromium's path; skips the calling test without one, or fails it when ``browser_required()``."""
    path = chromium_path()
    if path is None:
        reason = "no Chromium: install the Debian package `chromium` (or put chromium/google-chrome on PATH)"
        if browser_required():
            pytest.fail(f"OPENCLARIFY_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return path


def _real_binary(path: str) -> str:
    # Debian's /usr/bin/chromium is a shell wrapper that adds flags (remote extensions) and prints
    # shell errors on some machines; start the browser it wraps directly when it is there.
    real = "/usr/lib/chromium/chromium"
    return real if os.path.realpath(path) == "/usr/bin/chromium" and os.access(real, os.X_OK) else path


@dataclass
class PageResult:
    screenshot_png: bytes
    console: list[tuple[str, str]] = field(default_factory=list)  # (console API type, text)
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, Log errors
    network_requests: list[str] = field(default_factory=list)  # every URL requested, in order


class HeadlessChromium:
    """A headless Chromium process and one CDP connection to its page; use as a context manager."""

    def __init__(self, path: str | None = None, *, startup_timeout: float = 90.0) -> None:
        """``path``: the browser (default ``require_chromium()``); started on ``__enter__`` or ``start()``."""
        self.path = path or require_chromium()
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._profile: str | None = None
        self._ws: ClientConnection | None = None
        self._exit = contextlib.ExitStack()
        self._stderr: list[str] = []
        self._drain: threading.Thread | None = None
        self._events: list[dict[str, Any]] = []  # events that arrived while waiting for something else
        self._next_id = 0

    def __enter__(self) -> HeadlessChromium:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self._profile = tempfile.mkdtemp(prefix="openclarify-chromium-")
        argv = [_real_binary(self.path), *FLAGS, f"--user-data-dir={self._profile}", "about:blank"]
        # own session, so close() can kill the renderer and zygote children with the browser
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        listening, ws_url = threading.Event(), list[str]()

        def drain(stream: Any) -> None:  # keep reading stderr (dbus noise) so Chromium never blocks on it
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip()
                if len(self._stderr) < 500:
                    self._stderr.append(line)
                if not ws_url and line.startswith("DevTools listening on "):
                    ws_url.append(line.split()[-1])
                    listening.set()
            listening.set()  # stderr closed: the browser exited

        self._drain = threading.Thread(target=drain, args=(self._proc.stderr,), daemon=True)
        self._drain.start()
        if not listening.wait(self.startup_timeout) or not ws_url:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(1)  # stderr closed: it is exiting; else still running (returncode None)
            raise RuntimeError(
                f"Chromium printed no 'DevTools listening on ws://...' line within {self.startup_timeout:.0f}s "
                f"(exit status {self._proc.returncode}); its stderr so far:\n" + "\n".join(self._stderr[-40:])
            )
        port = ws_url[0].split("/")[2].rsplit(":", 1)[1]
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + self.startup_timeout
        while True:  # the about:blank tab may be listed a moment after the browser target
            with no_proxy.open(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
                pages = [t for t in json.load(response) if t.get("type") == "page"]
            if pages or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if not pages:
            raise RuntimeError(f"Chromium on port {port} lists no page target")
        # entered as a context manager (websockets >= 17.1 warns otherwise); no proxy from the environment
        connection = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, proxy=None, open_timeout=10)
        self._ws = self._exit.enter_context(connection)
        for domain in ("Page", "Runtime", "Log", "Network"):  # once: Log.enable replays earlier entries
            self.send(f"{domain}.enable")

    def close(self) -> None:
        self._ws = None
        self._exit.close()  # closes the websocket
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._proc.wait(10)
            if self._drain is not None:
                self._drain.join(5)  # stderr's EOF, once every process of the group is gone
            if self._proc.stderr and not (self._drain and self._drain.is_alive()):
                self._proc.stderr.close()
            self._proc = None
        if self._profile is not None:
            for _ in range(20):  # a dying child may still write for a moment after the kill
                shutil.rmtree(self._profile, ignore_errors=True)
                if not os.path.exists(self._profile):
                    break
                time.sleep(0.05)
            self._profile = None

    def _recv(self, timeout: float) -> dict[str, Any]:
        assert self._ws is not None, "HeadlessChromium is not started"
        return json.loads(self._ws.recv(timeout=max(timeout, 0.0)))  # type: ignore[no-any-return]

    def send(self, method: str, params: dict[str, Any] | None = None, *, timeout: float = 30) -> dict[str, Any]:
        """Send one CDP command and return its result; events that arrive meanwhile are buffered."""
        assert self._ws is not None, "HeadlessChromium is not started"
        self._next_id += 1
        self._ws.send(json.dumps({"id": self._next_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self._recv(deadline - time.monotonic())
            except TimeoutError:
                raise TimeoutError(f"no answer to CDP {method} within {timeout}s") from None
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"CDP {method} failed: {message['error']}")
                return message.get("result", {})  # type: ignore[no-any-return]
            if "method" in message:  # an event: keep it for open(); a stale answer: drop it
                self._events.append(message)

    def _next_event(self, deadline: float) -> dict[str, Any] | None:
        """The oldest buffered event, else the next one to arrive before ``deadline``, else None."""
        if self._events:
            return self._events.pop(0)
        try:
            message = self._recv(deadline - time.monotonic())
        except TimeoutError:
            return None
        return message if "method" in message else None

    def evaluate(self, expression: str, *, timeout: float = 30) -> Any:
        """The JSON value of ``expression`` in the page (promises awaited); raises on a JavaScript error."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        result = self.send("Runtime.evaluate", params, timeout=timeout)
        if details := result.get("exceptionDetails"):
            raise RuntimeError(f"{expression!r} threw: {details.get('exception', {}).get('description') or details}")
        return result["result"].get("value")

    def open(
        self, path_or_url: str | os.PathLike[str], *, width: int = 1280, height: int = 900, mobile: bool = False,
        timeout: float = 30, settle: float = 0.3, full_page: bool = True,
    ) -> PageResult:  # fmt: skip
        """Load a file (or URL), wait for its load event plus ``settle`` seconds, screenshot it."""
        url = str(path_or_url)
        if "://" not in url and not url.startswith(("data:", "about:")):
            url = Path(url).resolve().as_uri()
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
        self.send("Emulation.setDeviceMetricsOverride", metrics)
        self._events.clear()  # drop whatever the previous page left behind
        deadline = time.monotonic() + timeout
        nav = self.send("Page.navigate", {"url": url}, timeout=timeout)
        if nav.get("errorText"):
            raise RuntimeError(f"cannot open {url}: {nav['errorText']}")
        page = PageResult(b"")
        loaded_at: float | None = None
        while True:
            now = time.monotonic()
            if loaded_at is None and now >= deadline:
                raise TimeoutError(f"{url} fired no load event within {timeout}s")
            if loaded_at is not None and now >= loaded_at + settle:
                break
            event = self._next_event(deadline if loaded_at is None else loaded_at + settle)
            if event is None:
                continue
            method, p = event["method"], event.get("params", {})
            if method == "Page.loadEventFired" and loaded_at is None:
                loaded_at = time.monotonic()
            elif method == "Runtime.consoleAPICalled":
                text = " ".join(_arg_text(a) for a in p.get("args", []))
                page.console.append((p["type"], text))
                if p["type"] in ("error", "assert"):
                    page.errors.append(f"console.{p['type']}: {text}")
            elif method == "Runtime.exceptionThrown":
                details = p["exceptionDetails"]
                page.errors.append(f"exception: {details.get('exception', {}).get('description') or details['text']}")
            elif method == "Log.entryAdded" and (entry := p["entry"])["level"] == "error":
                page.errors.append(f"log: {entry['text']} ({entry.get('url', '')})")
            elif method == "Network.requestWillBeSent":
                page.network_requests.append(p["request"]["url"])
        shot: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:  # the whole document, at least the viewport
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            clip_w, clip_h = max(width, int(size["width"])), max(height, int(size["height"]))
            shot["clip"] = {"x": 0, "y": 0, "width": clip_w, "height": clip_h, "scale": 1}
        data = self.send("Page.captureScreenshot", shot, timeout=timeout)["data"]
        page.screenshot_png = base64.b64decode(data)
        return page


def _arg_text(arg: dict[str, Any]) -> str:
    """A console.log argument as text: primitives by value, objects by their description."""
    if "value" in arg:
        value = arg["value"]
        return value if isinstance(value, str) else json.dumps(value)
    return str(arg.get("unserializableValue") or arg.get("description") or arg.get("type", ""))
