"""Headless Chromium driven over the DevTools protocol, for tests that look at a page as a person
would: what the console said, whether each image loaded and shows something, a screenshot.

Only the `websockets` client already installed (uvicorn's) is used: no Selenium, no driver
binary. Chromium comes from Debian's `chromium` package (`make test` installs it as root).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",  # root in a container has no user namespace to sandbox with
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1280,1000",
]

# Every <img>: loaded, its natural size, and how many of its pixels differ from the first one
# (a blank or single-colour image has none). A data: image never taints the canvas.
IMAGES_JS = """
Array.from(document.images).map(img => {
  const out = {alt: img.alt, complete: img.complete, width: img.naturalWidth,
               height: img.naturalHeight, differing: 0, pixels: 0};
  if (!img.complete || !img.naturalWidth) return out;
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  out.pixels = d.length / 4;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) {
      out.differing++;
    }
  }
  return out;
})
"""


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).is_file():
        return (
            f"headless Chromium not found at {CHROMIUM}: `apt-get install -y chromium` "
            "(`make test` does so when run as root), or set CHROMIUM to its path"
        )
    try:
        import websockets.sync.client  # noqa: F401
    except ImportError:
        return "the `websockets` package (installed with uvicorn[standard]) is missing"
    return None


class Browser:
    """One headless Chromium with one page, closed on exit.

    Args:
        timeout: seconds to wait for the browser to start and for each page load or command.
    """

    def __init__(self, timeout: float = 60.0):
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._profile = tempfile.mkdtemp(prefix="churnops-chromium-")
        self._proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-port=0",
             "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            port = self._port()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = json.loads(r.read())
            page = next(t for t in targets if t["type"] == "page")
            from websockets.sync.client import connect

            self._ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=timeout)
        except BaseException:
            self.close()
            raise

    def _port(self) -> int:
        # Chromium writes the port it picked (port 0: any free one) to this file once listening.
        active = Path(self._profile, "DevToolsActivePort")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._proc.returncode} on start")
            if active.is_file() and active.read_text().strip():
                return int(active.read_text().split()[0])
            time.sleep(0.1)
        raise TimeoutError(f"chromium: no DevToolsActivePort after {self.timeout} s")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Run one DevTools command; events that arrive meanwhile are kept in `events`."""
        self._next_id += 1
        self._ws.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while True:
            message = json.loads(self._ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str) -> dict[str, Any]:
        """The first `event` received (kept ones included)."""
        deadline = time.monotonic() + self.timeout
        while True:
            for message in self.events:
                if message.get("method") == event:
                    return message
            message = json.loads(self._ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            self.events.append(message)

    def open(self, path: Path) -> None:
        """Load a local file and wait for its load event, listening to the console."""
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far."""
        errors = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value")) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                errors.append(params["entry"].get("text", ""))
        return errors

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate: {result['exceptionDetails']}")
        return result["result"].get("value")

    def images(self) -> list[dict[str, Any]]:
        """Each image of the page: loaded or not, size, pixels differing from the first."""
        return self.evaluate(IMAGES_JS)

    def screenshot(self, path: Path) -> Path:
        """The whole page as PNG at `path`."""
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            ws.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
