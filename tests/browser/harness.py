"""Real headless Chromium for widget tests (Debian's chromium; never a downloaded browser).

``player_page`` loads js/player.js under a stub anywidget model, served on a fake
https origin through ``page.route`` (ES modules do not load from file://, and
http is not a secure context). The stub delivers ``msg:custom`` with DataView
buffers, as anywidget does.
"""
from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ELEVEN_NB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]
ORIGIN = "https://enb.test"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="/player.css"></head>
<body><script type="module">
import player from "/player.js";
class StubModel {
  constructor(state) { this.state = state; this.handlers = {}; this.sent = []; }
  get(k) { return this.state[k]; }
  set(k, v) { this.state[k] = v; this.emit("change:" + k); }
  on(ev, fn) { (this.handlers[ev] ||= []).push(fn); }
  off(ev, fn) { this.handlers[ev] = (this.handlers[ev] || []).filter((f) => f !== fn); }
  send(m) { this.sent.push(m); }
  save_changes() {}
  emit(ev, ...args) { for (const f of this.handlers[ev] || []) f(...args); }
}
function view(b64) {
  const raw = atob(b64); const bytes = new Uint8Array(raw.length + 1);
  for (let i = 0; i < raw.length; i++) bytes[i + 1] = raw.charCodeAt(i);
  return new DataView(bytes.buffer, 1, raw.length); // an odd offset, as buffers may have
}
window.models = {};
window.mount = (state) => {
  const m = new StubModel(Object.assign({status: "idle", status_message: "", metrics: {}, words: [], lanes: [],
                                         text: "", show_timeline: true, sample_rate: 22050}, state));
  window.models[state.player_id] = m;
  const cleanup = player.initialize({ model: m });
  const el = document.createElement("div"); document.body.appendChild(el);
  player.render({ model: m, el });
  return true;
};
window.rerender = (id) => { const el = document.createElement("div"); document.body.appendChild(el);
                            player.render({ model: window.models[id], el }); };
window.deliver = (id, msg, b64) => window.models[id].emit("msg:custom", msg, b64 === null ? [] : [view(b64)]);
window.setTrait = (id, k, v) => window.models[id].set(k, v);
window.ready = true;
if (location.hash === "#blocked") {  // mount and play from page code alone: no user gesture anywhere
  setTimeout(() => {
    mount({player_id: "p1", text: "tone"});
    const pcm = new Int16Array(22050);
    for (let i = 0; i < pcm.length; i++) pcm[i] = 8000 * Math.sin(i / 10);
    window.models.p1.emit("msg:custom", {type: "chunk", lane: "speech", at_ms: 0, sample_rate: 22050,
      chars: ["t"], starts_ms: [0], durations_ms: [1000]}, [new DataView(pcm.buffer)]);
  }, 50);
}
</script></body></html>"""


def have_browser() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists()


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module. (Module scope: the sync Playwright API keeps an event loop
    running in this thread while it is open, which async tests elsewhere cannot share.)"""
    if not have_browser():
        pytest.skip(f"needs playwright and Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def serve_player(page) -> None:
    files = {"/player.js": ("text/javascript", (ROOT / "js" / "player.js").read_bytes()),
             "/player.css": ("text/css", (ROOT / "js" / "player.css").read_bytes()),
             "/": ("text/html", PAGE.encode())}

    def handle(route):
        path = route.request.url[len(ORIGIN):].split("?")[0] or "/"
        kind, body = files.get(path, ("text/plain", b""))
        route.fulfill(status=200 if path in files else 404, content_type=kind, body=body)

    page.route(f"{ORIGIN}/**", handle)


@pytest.fixture
def player_page(browser, request):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    serve_player(page)
    page.goto(ORIGIN + "/")
    page.wait_for_function("window.ready === true")
    page.errors = errors
    yield page
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
