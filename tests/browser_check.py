"""Open a listening page (:mod:`bssmask.listening`) in headless Chromium and report what works.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ending in a NUL byte on file descriptors 3 and 4), so nothing
beyond the standard library and the ``chromium`` executable is needed and
nothing is downloaded.

:func:`check_page` loads ``index.html`` from disk and returns, for each
``<audio>``, whether it decoded (``canplay``) and its duration against the
file's (``data-seconds``); for each ``<img>`` whether it loaded; the
values of a sortable column after one and two clicks on its header; and
every URL the page requested.

Usage (writes a screenshot as well)::

    python tests/browser_check.py results/x/index.html --sort-by sdr --screenshot docs/listening_page.png \
        --screenshot-from h2
"""

from __future__ import annotations

import argparse
import io
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: JavaScript run in the page: plays nothing, loads every audio and image in turn, sorts the first table.
CHECKS = """(async () => {
  const audio = [], images = [];
  for (const player of document.querySelectorAll("audio")) {
    const state = await new Promise(resolve => {
      player.addEventListener("canplay", () => resolve("ok"), {once: true});
      player.addEventListener("error", () => resolve("error " + (player.error && player.error.code)), {once: true});
      setTimeout(() => resolve("timeout"), 15000);
      player.preload = "auto";
      player.load();
    });
    audio.push({src: player.getAttribute("src"), state: state, duration: player.duration,
                seconds: Number(player.dataset.seconds), label: player.getAttribute("aria-label")});
    player.removeAttribute("src");
    player.load();
  }
  for (const img of document.images) {
    await img.decode().catch(() => null);
    images.push({src: img.getAttribute("src"), ok: img.complete && img.naturalWidth > 0, alt: img.alt});
  }
  const table = document.querySelector("table.sortable");
  const heads = table ? Array.from(table.tHead.rows[0].cells) : [];
  const column = heads.findIndex(h => h.textContent === SORT_BY);
  const button = column < 0 ? null : heads[column].querySelector("button");
  let sort = null;
  if (button) {
    const values = () => Array.from(table.tBodies[0].rows, r => r.cells[column].getAttribute("data-sort"));
    sort = {before: values()};
    button.click();
    sort.ascending = values();
    button.click();
    sort.descending = values();
  }
  const resources = performance.getEntriesByType("resource").map(e => e.name);
  return JSON.stringify({audio, images, sort, resources});
})()"""


class Chromium:
    """A headless Chromium with one page, commanded over the DevTools pipe."""

    def __init__(self, executable: str, profile: Path):
        to_browser, from_browser = os.pipe(), os.pipe()
        keep = (to_browser[0], from_browser[1])

        def wire():  # in the child: its fd 3 reads our commands, its fd 4 writes the replies
            os.dup2(keep[0], 3)
            os.dup2(keep[1], 4)

        self.process = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--remote-debugging-pipe", "--mute-audio", "--no-first-run",
             "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(*keep, 3, 4) if all(_is_open(fd) for fd in (3, 4)) else keep,
            preexec_fn=wire, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser[0])
        os.close(from_browser[1])
        self.write, self.read = to_browser[1], from_browser[0]
        self.buffer, self.events, self.next_id = b"", [], 0
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def send(self, method: str, session: bool = False, timeout: float = 60, **params) -> dict:
        """Run one protocol command (on the page when ``session``) and return its result; events are kept."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self.write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        """The first event ``method`` received (waiting for it)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._receive(deadline))

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            if not select.select([self.read], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self.read, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.write)
        os.close(self.read)


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def find_chromium() -> str | None:
    """The Chromium executable on the PATH (Debian's ``chromium``), or None."""
    return next((path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None)


def check_page(page: str | Path, sort_by: str, screenshot: str | Path | None = None, width: int = 1000,
               height: int = 760, screenshot_from: str = "h1") -> dict:
    """Load ``page`` from disk in headless Chromium and run :data:`CHECKS` (sorting by the column ``sort_by``).

    Returns:
        ``{"audio": [...], "images": [...], "sort": {"before", "ascending", "descending"} (None without
        a sortable column ``sort_by``),
        "resources": [...], "requests": [every URL requested]}``. With ``screenshot``,
        ``width`` x ``height`` pixels of the page as it loaded, from the first element that the CSS
        selector ``screenshot_from`` matches down, are saved there (PNG, 64 colors).
    """
    executable = find_chromium()
    if executable is None:
        raise FileNotFoundError("chromium: not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        browser = Chromium(executable, Path(profile))
        try:
            for domain in ("Page", "Network", "Runtime"):
                browser.send(f"{domain}.enable", session=True)
            browser.send("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                         deviceScaleFactor=1, mobile=False)
            browser.send("Page.navigate", session=True, url=Path(page).resolve().as_uri())
            browser.wait_for("Page.loadEventFired")
            if screenshot:
                top = browser.send("Runtime.evaluate", session=True, returnByValue=True, expression=(
                    f"document.querySelector({json.dumps(screenshot_from)}).getBoundingClientRect().top"))
                clip = dict(x=0, y=max(0, top["result"]["value"] - 8), width=width, height=height, scale=1)
                _save_screenshot(browser.send("Page.captureScreenshot", session=True, format="png", clip=clip,
                                              captureBeyondViewport=True)["data"], screenshot)
            result = browser.send("Runtime.evaluate", session=True, timeout=600, awaitPromise=True,
                                  returnByValue=True, expression=CHECKS.replace("SORT_BY", json.dumps(sort_by)))
            if "exceptionDetails" in result:
                raise RuntimeError(f"the page's checks failed: {result['exceptionDetails']}")
            report = json.loads(result["result"]["value"])
            report["requests"] = [e["params"]["request"]["url"] for e in browser.events
                                  if e.get("method") == "Network.requestWillBeSent"]
            return report
        finally:
            browser.close()


def _save_screenshot(data: str, path: str | Path) -> None:
    import base64

    from PIL import Image

    Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB").quantize(64).save(path, format="PNG",
                                                                                     optimize=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", help="the page's index.html")
    parser.add_argument("--sort-by", default="mask", help="the column whose sorting is checked")
    parser.add_argument("--screenshot", help="also save a screenshot (PNG) here")
    parser.add_argument("--screenshot-from", default="h1", help="CSS selector of the screenshot's top element")
    args = parser.parse_args(argv)
    report = check_page(args.page, args.sort_by, args.screenshot, screenshot_from=args.screenshot_from)
    bad = [a for a in report["audio"] if a["state"] != "ok"] + [i for i in report["images"] if not i["ok"]]
    print(f"{len(report['audio'])} players, {len(report['images'])} images, {len(bad)} failed, "
          f"{len(report['requests'])} requests")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
