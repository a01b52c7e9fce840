"""The reports in a real browser: headless Chromium driven over the DevTools protocol.

Chromium is started with ``--remote-debugging-pipe``: it reads commands on fd 3 and writes
replies and events on fd 4, each a JSON object ended by a NUL byte (standard library only). For
the overview and one client page the test checks that every chart drew (each ``<svg>`` has a
non-empty box and shapes), that the page requested nothing but itself (``Network`` events), that
nothing was logged as an error (``Runtime``/``Log`` events, CSP violations included), and saves a
full-page screenshot to ``$MINDMILES_ARTIFACTS`` (default: the test's temporary folder).

Skips, with the reason, where no Chromium is installed (``apt-get install chromium``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from report.build import write_reports
from tests.test_report import AS_OF, SECRET, WEEKS, make_warehouse

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 30.0
CHART_PROBE = """JSON.stringify(Array.from(document.querySelectorAll('svg')).map(s => {
  const r = s.getBoundingClientRect();
  return {w: r.width, h: r.height,
          shapes: s.querySelectorAll('rect,path,circle,line,polyline,polygon').length};
}))"""


def _browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


class DevTools:
    """A minimal DevTools-protocol client over Chromium's ``--remote-debugging-pipe``."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Move the child's ends above 9 so that dup2 onto 3 and 4 cannot clobber one another.
        high_r, high_w = _dup_high(to_child_r), _dup_high(from_child_w)

        def child_fds() -> None:
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        args = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--mute-audio",
            "--window-size=1000,900",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # a file, not a pipe nobody reads: a full pipe would block Chromium
        self._log = (profile / "chromium-stderr.log").open("wb")
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            close_fds=False,
            preexec_fn=child_fds,
        )
        for fd in (to_child_r, from_child_w, high_r, high_w):
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and wait for its reply; events seen meanwhile go to :attr:`events`."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str) -> dict[str, Any]:
        """Wait for an event (already received, or the next one of that name)."""
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._receive()
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _receive(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_child], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def close(self) -> None:
        """Ask Chromium to quit; kill it if it does not."""
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)
        self._log.close()


def _dup_high(fd: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD, 10)


def inspect_page(tools: DevTools, page: Path, screenshot: Path) -> dict[str, Any]:
    """Open ``page`` in a new tab; return its charts, requests and errors; save a screenshot."""
    target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
        "sessionId"
    ]
    for domain in ("Page", "Network", "Runtime", "Log"):
        tools.send(f"{domain}.enable", session=session)
    tools.events.clear()
    url = page.resolve().as_uri()
    tools.send("Page.navigate", {"url": url}, session=session)
    tools.wait_for("Page.loadEventFired")
    probe = tools.send(
        "Runtime.evaluate", {"expression": CHART_PROBE, "returnByValue": True}, session=session
    )
    charts = json.loads(probe["result"]["value"])
    shot = tools.send(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session
    )
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    events = [e for e in tools.events if e.get("sessionId") == session]
    requests = [
        e["params"]["request"]["url"]
        for e in events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    errors = [e["params"] for e in events if e.get("method") == "Runtime.exceptionThrown"]
    errors += [
        e["params"]
        for e in events
        if e.get("method") == "Runtime.consoleAPICalled"
        and e["params"].get("type") in ("error", "assert")
    ]
    errors += [
        e["params"]["entry"]
        for e in events
        if e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error"
    ]
    tools.send("Target.closeTarget", {"targetId": target})
    return {"url": url, "charts": charts, "requests": requests, "errors": errors}


@pytest.fixture(scope="module")
def devtools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    binary = _browser()
    if binary is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    tools = DevTools(binary, tmp_path_factory.mktemp("chromium-profile"))
    try:
        tools.send("Browser.getVersion")
        yield tools
    finally:
        tools.close()


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser-report")
    warehouse, inbox = make_warehouse(root)
    write_reports(
        warehouse=warehouse,
        inbox=inbox,
        out=root / "reports",
        secret=SECRET,
        weeks=WEEKS,
        as_of=AS_OF,
    )
    return root / "reports"


def _artifacts(tmp_path: Path) -> Path:
    return Path(os.environ.get("MINDMILES_ARTIFACTS") or tmp_path)


@pytest.mark.parametrize(
    ("page", "n_charts"),
    # overview: one strip per client; C001's page is named with sha256("C001")[:8]
    [("index.html", 3), ("clients/C001-a4906a54.html", 2)],
    ids=["overview", "client"],
)
def test_page_renders_offline_without_errors(
    devtools: DevTools, report_dir: Path, tmp_path: Path, page: str, n_charts: int
) -> None:
    shot = _artifacts(tmp_path) / f"report-{Path(page).stem}.png"
    seen = inspect_page(devtools, report_dir / page, shot)
    assert len(seen["charts"]) == n_charts
    for chart in seen["charts"]:
        assert chart["w"] > 0, chart
        assert chart["h"] > 0, chart
        assert chart["shapes"] > 0, chart
    assert seen["requests"] == [seen["url"]]  # the page itself, nothing else
    assert seen["errors"] == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 5_000


def test_the_check_catches_a_request_and_an_error(devtools: DevTools, tmp_path: Path) -> None:
    """A page that tries to load an image and throws is caught (the check can fail)."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
        "<svg></svg><script>throw new Error('boom')</script></body></html>",
        encoding="utf-8",
    )
    seen = inspect_page(devtools, bad, tmp_path / "bad.png")
    assert "http://127.0.0.1:9/x.png" in seen["requests"]
    assert seen["errors"]
    assert seen["charts"][0]["shapes"] == 0
