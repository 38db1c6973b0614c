"""report.html in a real headless browser (Debian's chromium, installed by .ci/run).

Chromium is driven over the Chrome DevTools Protocol on --remote-debugging-pipe
(JSON messages on file descriptors 3 and 4): no extra dependency, no port, no
websocket. The page must render with no console error and no network request,
show the matrix and the perimeter picture, and keep hostile names inert.
A screenshot goes to the test's tmp dir, and to $SLPC_REPORT_SCREENSHOT if set.
Without chromium the tests skip, except in CI (CI=true, or SLPC_REQUIRE_CHROMIUM
set by .ci/run), where they fail.
"""

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from test_report import example_evidence, hostile_evidence
from slpc.report import render

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
if CHROMIUM is None:
    if os.environ.get("CI") == "true" or os.environ.get("SLPC_REQUIRE_CHROMIUM"):
        raise RuntimeError("chromium is missing in CI: .ci/run installs it (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)", allow_module_level=True)

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-pipe"]
WAIT = 60  # seconds: a safety net against a hung browser, not a speed check


class Browser:
    """A chromium process and one page, spoken to over the CDP pipe."""

    def __init__(self, profile: Path):
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        # above 4 first, so that placing them on 3 and 4 cannot overwrite one another
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child, from_child)]
        for fd in (to_child, from_child):
            os.close(fd)

        def fds():  # the child reads commands on fd 3 and writes replies on fd 4 (dup2 keeps them open)
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     preexec_fn=fds, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in high:
            os.close(fd)
        self._buf, self._id, self.events = b"", 0, []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _message(self) -> dict:
        deadline = time.monotonic() + WAIT
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._read], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, session: bool = False, **params) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._write, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._message()
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_for(self, method: str) -> None:
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._message())

    def evaluate(self, expression: str):
        r = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        return r["result"].get("value")

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._read)
        os.close(self._write)


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


def _open(browser: Browser, page: Path) -> None:
    browser.call("Page.navigate", session=True, url=page.as_uri())
    browser.wait_for("Page.loadEventFired")


def _problems(events) -> tuple[list, list]:
    """(console errors and uncaught exceptions, requests for anything but the page itself)."""
    errors, requests = [], []
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append(p)
        elif method == "Runtime.exceptionThrown":
            errors.append(p)
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            errors.append(p["entry"])
        elif method == "Network.requestWillBeSent" and p["type"] != "Document":
            requests.append(p["request"]["url"])
    return errors, requests


def _box(browser: Browser, selector: str) -> dict:
    return browser.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                            ".getBoundingClientRect(); return {width: r.width, height: r.height}; })()")


def _screenshot(browser: Browser, path: Path) -> bytes:
    """The page from the top through the access matrix: the glance, the picture, the matrix."""
    bottom = browser.evaluate("document.querySelector('#by-asset').getBoundingClientRect().top + window.scrollY")
    browser.call("Emulation.setDeviceMetricsOverride", session=True, width=1280, height=int(bottom),
                 deviceScaleFactor=1, mobile=False)
    png = base64.b64decode(browser.call("Page.captureScreenshot", session=True, format="png")["data"])
    path.write_bytes(png)
    return png


def test_example_report_renders_offline_with_matrix_and_picture(browser, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render(example_evidence())["report.html"], encoding="utf-8")
    browser.call("Emulation.setDeviceMetricsOverride", session=True, width=1280, height=900,
                 deviceScaleFactor=1, mobile=False)
    _open(browser, page)
    errors, requests = _problems(browser.events)
    assert errors == []
    assert requests == []
    documents = [e["params"]["request"]["url"] for e in browser.events
                 if e.get("method") == "Network.requestWillBeSent"]
    assert documents == [page.as_uri()]  # the page itself, from disk, and nothing else
    for selector in ("#access-matrix", "#perimeter"):
        box = _box(browser, selector)
        assert box["width"] > 200 and box["height"] > 100, (selector, box)
    # every principal is a row of the matrix, every grant edge and box is drawn
    assert browser.evaluate("document.querySelectorAll('#access-matrix tr').length") == 1 + 8
    assert browser.evaluate("document.querySelectorAll('#becoming-table tr').length") == 1 + 8
    assert browser.evaluate("document.querySelectorAll('#perimeter .box').length") == 3 + 4 + 1 + 8
    assert browser.evaluate("document.querySelectorAll('#perimeter .edge').length") > 7
    # each network's security groups are drawn under it, one line per rule, none cut
    rules = browser.evaluate("Array.from(document.querySelectorAll('#perimeter .rule')).map(t => t.textContent)")
    assert "in  tcp 443 from 10.20.0.0/19" in rules and "out tcp 443 to slpc endpoints group" in rules
    assert browser.evaluate("document.querySelectorAll('#perimeter .group').length") == 3
    widest = browser.evaluate("Math.max(...Array.from(document.querySelectorAll('#perimeter .network')).map("
                              "g => Math.max(...Array.from(g.querySelectorAll('text')).map(t => t.getBBox().x "
                              "+ t.getBBox().width - g.querySelector('rect').getBBox().x - "
                              "g.querySelector('rect').getBBox().width))))")
    assert widest <= 0  # every line of a network's box ends inside the box
    assert browser.evaluate("document.querySelectorAll('#security-groups tr').length") == 1 + 3
    assert browser.evaluate("document.scripts.length") == 0
    png = _screenshot(browser, tmp_path / "report.png")
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    if os.environ.get("SLPC_REPORT_SCREENSHOT"):
        Path(os.environ["SLPC_REPORT_SCREENSHOT"]).write_bytes(png)


def test_hostile_names_stay_text_in_the_browser(browser, tmp_path):
    page = tmp_path / "hostile.html"
    page.write_text(render(hostile_evidence())["report.html"], encoding="utf-8")
    _open(browser, page)
    errors, requests = _problems(browser.events)
    assert errors == [] and requests == []
    assert browser.evaluate("document.scripts.length") == 0
    assert browser.evaluate("document.querySelectorAll('img, iframe, object, embed, a').length") == 0
    assert browser.evaluate("window.pwned === undefined")
    # the hostile text is shown literally
    assert "<img src=x onerror=window.pwned=1>" in browser.evaluate("document.body.innerText")
    assert _box(browser, "#perimeter")["height"] > 100
