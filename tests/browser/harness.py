"""Real headless Chromium for widget tests (Debian's chromium; never a downloaded browser).

``player_page`` loads the built bundle (eleven_nb/static/player.js) under a stub
anywidget model, served on a fake https origin through ``page.route`` (ES modules
do not load from file://, and http is not a secure context). The stub implements
get/set/on/off/send and delivers ``msg:custom`` with DataView buffers at an odd
byte offset, as anywidget may. :class:`PlayerDriver` pairs each page model with a
real :class:`~eleven_nb.jupyter.widget.Player` whose comm messages (custom messages
and state updates) are delivered to the page instead of to a kernel's frontend.
An init script records every AudioBufferSourceNode's start and stop, so tests can
assert on what was audible when. ``?theme=light|dark`` also loads JupyterLab's own theme CSS (from the
installed jupyterlab), so the player can be looked at with the real ``--jp-*`` colours.

Everything runs in-process: the browser is a child of Playwright's driver and is
closed by the fixture (no server, no port).
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from ipywidgets.widgets.widget import _remove_buffers

from eleven_nb.jupyter.widget import STATIC, Player

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ELEVEN_NB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("ELEVEN_NB_ARTIFACTS", ROOT / "tests" / "artifacts"))  # git-ignored
BASE_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHROMIUM_ARGS = BASE_ARGS + ["--autoplay-policy=no-user-gesture-required"]
# The browser's real policy: a page may start audio only after the user has interacted with it.
BLOCKING_ARGS = BASE_ARGS + ["--autoplay-policy=document-user-activation-required"]
ORIGIN = "https://enb.test"
LAB_THEMES = Path(sys.prefix) / "share" / "jupyter" / "lab" / "themes" / "@jupyterlab"

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/player.css">
<style>body { margin: 16px; background: var(--jp-layout-color0, Canvas); }</style>
<script>globalThis.__ELEVEN_NB_DEBUG = true;</script>
</head><body><script type="module">
import player from "/player.js";

const theme = new URLSearchParams(location.search).get("theme");
if (theme) {  // JupyterLab's own theme variables, and the body attributes Lab sets
  const link = document.createElement("link");
  link.rel = "stylesheet"; link.href = `/theme-${theme}.css`;
  document.head.prepend(link);
  document.body.dataset.jpThemeLight = String(theme === "light");
  document.body.dataset.jpThemeName = `JupyterLab ${theme === "light" ? "Light" : "Dark"}`;
}

// the part of JupyterLab's kernel connection a player listens to (no id: no early-audio worker)
window.stubKernel = { slots: [],
  statusChanged: { connect: (fn) => { window.stubKernel.slots.push(fn); return true; },
                   disconnect: (fn) => { const k = window.stubKernel; k.slots = k.slots.filter((f) => f !== fn); return true; } },
  setStatus(status) { for (const fn of [...this.slots]) fn(this, status); } };

class StubModel {  // the part of anywidget's model the widget uses
  constructor(state) { this.state = state; this.handlers = new Map(); this.sent = [];
                       this.widget_manager = { kernel: window.stubKernel }; }
  get(key) { return this.state[key]; }
  set(key, value) { this.state[key] = value; this.emit(`change:${key}`, value); }
  on(event, fn) { if (!this.handlers.has(event)) this.handlers.set(event, []); this.handlers.get(event).push(fn); }
  off(event, fn) { this.handlers.set(event, (this.handlers.get(event) || []).filter((f) => f !== fn)); }
  send(content, callbacks, buffers) { this.sent.push(content); }
  save_changes() {}
  emit(event, ...args) { for (const fn of [...(this.handlers.get(event) || [])]) fn(...args); }
}

// bytes -> a DataView at an odd offset in a bigger buffer (as comm buffers may arrive)
function oddView(bytes) {
  const backing = new Uint8Array(bytes.length + 3);
  backing.set(bytes, 1);
  return new DataView(backing.buffer, 1, bytes.length);
}
function fromB64(b64) {
  const raw = atob(b64), bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}
const DEFAULTS = { status: "idle", status_message: "", metrics: {}, words: [], lanes: [], text: "",
                   show_timeline: true, sample_rate: 22050, audio: new DataView(new ArrayBuffer(0)) };

window.models = {};
window.cleanups = {};
window.mount = (state, audioB64) => {  // initialize() then render(), as anywidget does
  const s = Object.assign({}, DEFAULTS, state);
  if (audioB64) s.audio = oddView(fromB64(audioB64));
  const model = new StubModel(s);
  window.models[s.player_id] = model;
  window.cleanups[s.player_id] = player.initialize({ model });
  window.render(s.player_id);
};
window.render = (id) => {  // one more view; a different proxy object, as in anywidget 0.11
  const model = window.models[id];
  const proxy = { get: (k) => model.get(k), set: (k, v) => model.set(k, v), on: (e, f) => model.on(e, f),
                  off: (e, f) => model.off(e, f), send: (...a) => model.send(...a), save_changes() {} };
  const el = document.createElement("div");
  el.className = "cell-output";
  document.body.appendChild(el);
  (window.viewCleanups ||= []).push(player.render({ model: proxy, el }));
  // no return value: Playwright would call a function returned to evaluate()
};
window.deliver = (id, msg, b64) => window.models[id].emit("msg:custom", msg, b64 == null ? [] : [oddView(fromB64(b64))]);
window.deliverZeros = (id, msg, nbytes) =>  // silence made in the page: no decoding cost in the test's task
  window.models[id].emit("msg:custom", msg, [new DataView(new ArrayBuffer(nbytes + 2), 1, nbytes)]);
window.deliverMany = (id, items) => { for (const [msg, b64] of items) window.deliver(id, msg, b64); };
window.setTrait = (id, key, value) => window.models[id].set(key, value);
// what a real Player's comm sent: ["custom", content, b64 | null] or ["update", state, {key: b64}]
window.applied = [];  // when each batch reached the page, on the audio clock (s) and the page clock (ms)
window.applyAll = (id, items) => {
  const ctx = window.__elevenNbAudio && window.__elevenNbAudio.ctx;
  window.applied.push({ id, types: items.map(([kind, a]) => kind === "custom" ? a.type : "update"),
                        t: ctx ? ctx.currentTime : null, at: performance.now() });
  for (const [kind, a, b] of items) {
    if (kind === "custom") window.deliver(id, a, b);
    else {
      for (const [k, v] of Object.entries(a)) window.models[id].set(k, v);
      for (const [k, v] of Object.entries(b)) window.models[id].set(k, oddView(fromB64(v)));
    }
  }
};
window.sentBy = (id) => window.models[id].sent;
window.player = player;
window.ready = true;

if (location.hash === "#autoplay") {  // mount and play from page code alone: no user gesture anywhere
  setTimeout(() => {
    mount({ player_id: "p1", text: "tone" });
    const pcm = new Int16Array(22050);
    for (let i = 0; i < pcm.length; i++) pcm[i] = 8000 * Math.sin(i / 10);
    window.models.p1.emit("msg:custom", { type: "chunk", lane: "speech", at_ms: 0, sample_rate: 22050,
      chars: ["t", "o", "n", "e"], starts_ms: [0, 100, 200, 300], durations_ms: [100, 100, 100, 600] },
      [new DataView(pcm.buffer)]);
  }, 50);
}
</script></body></html>"""


def skip_reason() -> str | None:
    """Why browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; never `playwright install`)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set ELEVEN_NB_CHROMIUM)"
    return None


def have_browser() -> bool:
    return skip_reason() is None


@pytest.fixture(scope="module")
def playwright_driver():
    """One Playwright driver per test module. (Module scope: the sync API keeps an event loop running
    in this thread while it is open, which async tests elsewhere cannot share; and only one sync
    driver may run at a time, so every browser of a module comes from this one.)"""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright_driver):
    """Chromium with audio allowed without a gesture (as in a notebook the user just ran)."""
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def blocking_browser(playwright_driver):
    """Chromium with the real autoplay policy: audio only after the user has interacted with the page."""
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=BLOCKING_ARGS)
    yield chromium
    chromium.close()


def serve_player(page) -> None:
    """Answer every request to the fake origin from memory: the page, the widget, the themes."""
    files = {"/": ("text/html", PAGE.encode()),
             "/player.js": ("text/javascript", (STATIC / "player.js").read_bytes()),
             "/player.css": ("text/css", (STATIC / "player.css").read_bytes())}
    for name in ("light", "dark"):
        css = LAB_THEMES / f"theme-{name}-extension" / "index.css"
        if css.exists():
            files[f"/theme-{name}.css"] = ("text/css", css.read_bytes())

    def handle(route):
        path = route.request.url[len(ORIGIN):].split("?")[0].split("#")[0] or "/"
        kind, body = files.get(path, ("text/plain", b"not found"))
        route.fulfill(status=200 if path in files else 404, content_type=kind, body=body)

    page.route(f"{ORIGIN}/**", handle)


# Every AudioBufferSourceNode's audible interval on its context's clock: [begin, end) in seconds, cut short
# by stop(); `dest` is the node it feeds (a player's own gain node).
SOURCE_RECORDER = """(() => {
  const P = AudioBufferSourceNode.prototype, start = P.start, stop = P.stop, connect = AudioNode.prototype.connect;
  window.__sources = [];
  AudioNode.prototype.connect = function (dest, ...rest) {
    if (this instanceof AudioBufferSourceNode) this.__dest = dest;
    return connect.call(this, dest, ...rest);
  };
  P.start = function (when = 0, offset = 0, duration) {
    const now = this.context.currentTime, begin = Math.max(when, now);
    const length = (duration ?? this.buffer.duration - offset) / this.playbackRate.value;
    this.__rec = { dest: this.__dest, begin, end: begin + length, calledAt: now, perfAt: performance.now() };
    window.__sources.push(this.__rec);
    return start.call(this, when, offset, duration);
  };
  P.stop = function (when = 0) {
    if (this.__rec) this.__rec.end = Math.min(this.__rec.end, Math.max(when, this.context.currentTime));
    return stop.call(this, when);
  };
})();"""


def open_player_page(browser, path: str = "/", viewport=None):
    context = browser.new_context(viewport=viewport or {"width": 1000, "height": 800})
    context.add_init_script(SOURCE_RECORDER)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    serve_player(page)
    page.goto(ORIGIN + path)
    if "#autoplay" not in path:  # that page must see no call from here: each one is a user gesture
        page.wait_for_function("window.ready === true")
    return context, page


def save_failure_screenshot(request, page) -> None:
    from playwright.sync_api import Error as PlaywrightError

    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(PlaywrightError):  # the page may be gone; the test's own error matters more
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)


@pytest.fixture
def player_page(browser, request):
    """A fresh page with the player module loaded and the stub-model helpers on ``window``."""
    context, page = open_player_page(browser)
    yield page
    save_failure_screenshot(request, page)
    context.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class PlayerDriver:
    """A real kernel-side :class:`Player` wired to a stub model in the page, and the player's debug handle.

    ``driver.kernel`` is the Python widget: what its methods send is delivered to the page by
    :meth:`flush` (the driver's own helpers flush for you). :meth:`deliver` sends a raw message.
    """

    def __init__(self, page, pid: str = "p1", **kernel_traits):
        self.page, self.pid = page, pid
        self.handle = f"window.__elevenPlayers[{json.dumps(pid)}]"
        self.kernel = Player(player_id=pid, **kernel_traits)
        self.outbox: list[tuple[dict, list[bytes]]] = []

        def record(data=None, metadata=None, buffers=None):
            self.outbox.append((data, [bytes(b) for b in (buffers or [])]))

        self.kernel.comm.send = record

    def mount(self, audio: bytes | None = None, **state) -> PlayerDriver:
        """initialize() and render() in the page, with the kernel widget's state (and ``state`` over it)."""
        synced, _, _ = _remove_buffers(self.kernel.get_state())
        synced = {k: v for k, v in synced.items() if not k.startswith("_") and k not in ("layout", "tooltip")}
        self.outbox.clear()
        self.page.evaluate("([s, a]) => mount(s, a)", [{**synced, **state}, b64(audio) if audio else None])
        return self

    def flush(self) -> None:
        """Deliver what the kernel widget sent since the last flush, in order."""
        items = []
        for data, buffers in self.outbox:
            if data.get("method") == "custom":
                items.append(["custom", data["content"], b64(buffers[0]) if buffers else None])
            elif data.get("method") == "update":
                state = dict(data["state"])
                binary = {path[0]: b64(buf) for path, buf in zip(data.get("buffer_paths", []), buffers)}
                items.append(["update", state, binary])
        self.outbox.clear()
        self.page.evaluate("([id, items]) => applyAll(id, items)", [self.pid, items])

    def begin(self, text: str, lanes=(), interrupt: bool = False) -> None:
        self.kernel.begin(text, lanes, interrupt=interrupt)
        self.flush()

    def add_chunks(self, chunks, status: str | None = "streaming") -> None:
        """``chunks``: keyword arguments of :meth:`Player.add_chunk`."""
        if status and self.kernel.status != status:
            self.kernel.set_status(status)
        for chunk in chunks:
            self.kernel.add_chunk(**chunk)
        self.flush()

    def finish(self) -> None:
        self.kernel.finish()
        self.flush()

    def deliver(self, msg: dict, pcm: bytes | None = None) -> None:
        self.page.evaluate("([id, m, b]) => deliver(id, m, b)", [self.pid, msg, None if pcm is None else b64(pcm)])

    def deliver_silence(self, msg: dict, nbytes: int) -> None:
        """A chunk whose PCM (silence) is made in the page, so the page's task is the player's work alone."""
        self.page.evaluate("([id, m, n]) => deliverZeros(id, m, n)", [self.pid, msg, nbytes])

    def set(self, key: str, value) -> None:
        self.page.evaluate("([id, k, v]) => setTrait(id, k, v)", [self.pid, key, value])

    def intervals(self) -> list[tuple[float, float]]:
        """The audible intervals (context seconds) of this player's sources, in start order."""
        return [tuple(x) for x in self.page.evaluate(
            f"(() => {{ const out = {self.handle}.out; return window.__sources.filter((r) => r.dest === out)"
            ".filter((r) => r.end > r.begin).map((r) => [r.begin, r.end]); })()")]

    def __getattr__(self, name: str):
        """``driver.audioTime`` -> the value of ``handle.audioTime()`` / ``handle.<name>`` now."""
        if name.startswith("_"):
            raise AttributeError(name)
        return self.page.evaluate(f"(() => {{ const v = {self.handle}[{json.dumps(name)}];"
                                  f" return typeof v === 'function' ? v() : v; }})()")

    def wait(self, condition: str, timeout_ms: int = 10_000) -> None:
        """Wait until ``condition`` (JS, with ``P`` the debug handle) holds."""
        self.page.wait_for_function(f"(() => {{ const P = {self.handle}; return !!P && ({condition}); }})()",
                                    timeout=timeout_ms)


def arrival_time(page, pid: str, message_type: str) -> float:
    """When the last batch holding ``message_type`` for ``pid`` reached the page (audio clock, seconds)."""
    batches = [b for b in page.evaluate("window.applied") if b["id"] == pid and message_type in b["types"]]
    return batches[-1]["t"]


def context_time(page) -> float:
    """The page's AudioContext clock now (seconds)."""
    return page.evaluate("window.__elevenNbAudio.ctx.currentTime")
