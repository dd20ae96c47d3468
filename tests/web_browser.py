#!/usr/bin/env python3
"""Drives headless Chromium over the DevTools protocol (--remote-debugging-pipe:
no extra Python modules) through every dashboard page and checks, per page:

  * it loads (HTTP 200) and renders with no console error, no uncaught
    exception and no CSP violation;
  * no injected script ran: no JavaScript dialog opened, window.__pwned is
    unset, and no element of the page came from committee text (the hostile
    markup shows as text);
  * every figure marked data-fig="SCOPE PATH" equals `linli report --json`
    for the same replica (REPORT_JSON file);
  * expected text is on the page (the hostile strings, as text).

A second load of each page with the CSP bypassed checks that escaping alone
stops the injected script (the CSP is the second wall, not the only one).

Screenshots (PNG) go to SHOTS_DIR. Usage:
  web_browser.py BASE_URL REPORT_JSON SHOTS_DIR PATH...
Exit 0 when every check holds; 1 with each failure on stderr.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HOSTILE_MARKERS = ["<img src=x onerror=", "<script>"]


class Browser:
    def __init__(self):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise SystemExit("chromium not found")
        self.profile = tempfile.mkdtemp(prefix="linli-chromium.")
        r_cmd, w_cmd = os.pipe()   # we write commands; chromium reads fd 3
        r_ev, w_ev = os.pipe()     # chromium writes fd 4; we read
        args = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-sync", "--hide-scrollbars", "--mute-audio", "--font-render-hinting=none",
                "--user-data-dir=" + self.profile, "--remote-debugging-pipe", "--window-size=1280,900",
                "about:blank"]

        def child():
            os.dup2(r_cmd, 3)
            os.dup2(w_ev, 4)

        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=child, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(r_cmd)
        os.close(w_ev)
        self.w = os.fdopen(w_cmd, "wb", buffering=0)
        self.r = os.fdopen(r_ev, "rb", buffering=0)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def _read_message(self, deadline):
        import select
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer")
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.r.fileno(), 1 << 20)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self.w.write(json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_event(self, name, timeout=30):
        deadline = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e["method"] == name:
                del self.events[i]
                return e
        while True:
            m = self._read_message(deadline)
            if m.get("method") == name:
                return m
            if "method" in m:
                self.events.append(m)

    def open_tab(self):
        t = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        a = self.call("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True}, session=False)
        self.session = a["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(domain + ".enable")

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def lookup(report, scope, path):
    if scope == "TOTAL":
        obj = report["total"]
    else:
        rows = [c for c in report["committees"] if c["scope"] == scope]
        if not rows:
            return KeyError
        obj = rows[0]
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return KeyError
        obj = obj[part]
    return obj


def as_text(v):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "%.1f" % v
    return str(v)


PROBE = r"""
(() => {
  const figs = [...document.querySelectorAll('[data-fig]')].map(e => [e.dataset.fig, e.textContent.trim()]);
  const injected = [...document.querySelectorAll('img[src="x"], main script, [onerror], [onload], [onclick]')].length;
  return JSON.stringify({title: document.title, figs, injected, pwned: window.__pwned === undefined ? null : String(window.__pwned),
                         text: document.body ? document.body.innerText : '', h1: (document.querySelector('h1') || {}).textContent || ''});
})()
"""


def load(b, url, bypass_csp=False):
    b.events = []
    b.call("Page.setBypassCSP", {"enabled": bypass_csp})
    b.call("Page.navigate", {"url": url})
    b.wait_event("Page.loadEventFired")
    time.sleep(0.3)   # let deferred scripts and late console messages arrive
    r = b.call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True})
    probe = json.loads(r["result"]["value"])
    # drain what arrived meanwhile
    r2 = b.call("Runtime.evaluate", {"expression": "1", "returnByValue": True})
    del r2
    status = None
    errors = []
    dialogs = []
    for e in b.events:
        m, p = e["method"], e.get("params", {})
        if m == "Network.responseReceived" and p.get("type") == "Document":
            status = p["response"]["status"]
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append("console.%s: %s" % (p["type"], " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))))
        elif m == "Runtime.exceptionThrown":
            errors.append("exception: %s" % p["exceptionDetails"].get("text", ""))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            errors.append("log: %s (%s)" % (p["entry"].get("text", ""), p["entry"].get("url", "")))
        elif m == "Page.javascriptDialogOpening":
            dialogs.append(p.get("message", ""))
            b.call("Page.handleJavaScriptDialog", {"accept": True})
    return status, probe, errors, dialogs


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    base, report_file, shots = sys.argv[1], sys.argv[2], sys.argv[3]
    paths = sys.argv[4:]
    report = json.load(open(report_file, encoding="utf-8"))
    os.makedirs(shots, exist_ok=True)
    failures = []
    b = Browser()
    try:
        b.open_tab()
        b.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        nfigs = 0
        for path in paths:
            want_text = None
            if "|" in path:
                path, want_text = path.split("|", 1)
            url = base + path
            status, probe, errors, dialogs = load(b, url)
            tag = path
            if status != 200:
                failures.append("%s: HTTP %s" % (tag, status))
            for e in errors:
                failures.append("%s: %s" % (tag, e))
            for d in dialogs:
                failures.append("%s: a JavaScript dialog opened (injected script ran): %s" % (tag, d))
            if probe["pwned"] is not None:
                failures.append("%s: injected script ran (window.__pwned = %s)" % (tag, probe["pwned"]))
            if probe["injected"]:
                failures.append("%s: %d element(s) built from committee text" % (tag, probe["injected"]))
            if want_text:
                for w in want_text.split("|"):
                    if w not in probe["text"]:
                        failures.append("%s: the page does not show %r" % (tag, w))
            for fig, text in probe["figs"]:
                scope, fpath = fig.split(" ", 1)
                want = lookup(report, scope, fpath)
                nfigs += 1
                if want is KeyError:
                    failures.append("%s: figure %s is not in the report" % (tag, fig))
                elif as_text(want) != text:
                    failures.append("%s: figure %s shows %r, linli report says %r" % (tag, fig, text, as_text(want)))
            # full-page screenshot
            m = b.call("Page.getLayoutMetrics")
            h = int(min(max(m["cssContentSize"]["height"], 600), 6000))
            b.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": h, "deviceScaleFactor": 1, "mobile": False})
            shot = b.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
            b.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
            name = (path.strip("/").split("?")[0] or "overview").replace("/", "_")
            with open(os.path.join(shots, name + ".png"), "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            # the second wall: escaping alone, with the CSP switched off
            status2, probe2, errors2, dialogs2 = load(b, url, bypass_csp=True)
            if dialogs2 or probe2["pwned"] is not None or probe2["injected"]:
                failures.append("%s: with the CSP bypassed, injected script ran (escaping failed)" % tag)
            print("  %-40s HTTP %s  %3d figures  %d console errors  title %s" %
                  (path, status, len(probe["figs"]), len(errors), probe["title"]))
        b.call("Page.setBypassCSP", {"enabled": False})
        print("checked %d page(s), %d figure(s) against linli report; screenshots in %s" % (len(paths), nfigs, shots))
    finally:
        b.close()
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
