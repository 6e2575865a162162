"""A real JupyterLab for end-to-end widget tests (the server helper lives in bench/, shared), and page recorders."""
from __future__ import annotations

from bench.jupyter_app import JupyterApp, wait_for_kernel

__all__ = ["CELL_AUDIO", "PAGE_RECORDER", "JupyterApp", "run_all", "wait_for_kernel"]


def run_all(page) -> None:
    page.click("text=Run", timeout=10_000)
    page.click("text=Run All Cells", timeout=10_000)


# What a test needs besides the harness's SOURCE_RECORDER (audible intervals of every source): when each
# source was stopped (page clock), every status a player's root shows, and when each cell's execute_input
# and each player's "begin" arrived from the kernel, decoded off the kernel WebSocket (JSON, or Jupyter's v1 binary framing). Each
# record carries performance.now() and the shared AudioContext's time, so both clocks can be compared.
PAGE_RECORDER = """(() => {
  globalThis.__ELEVEN_NB_DEBUG = true;
  const ctxTime = () => globalThis.__elevenNbAudio?.ctx?.currentTime ?? null;
  window.__statuses = []; window.__begins = []; window.__inputs = [];
  const P = AudioBufferSourceNode.prototype, stop = P.stop;
  P.stop = function (when = 0) {
    if (this.__rec && this.__rec.stopPerf === undefined) this.__rec.stopPerf = performance.now();
    return stop.call(this, when);
  };
  new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target;
      if (!(el instanceof HTMLElement) || !el.classList.contains('enb-player')) continue;
      window.__statuses.push({ id: el.dataset.playerId, status: el.dataset.status, perf: performance.now(),
                               ctx: ctxTime() });
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-status'] });
  const decoder = new TextDecoder();
  const parts = (buf) => {
    const dv = new DataView(buf), n = dv.getUint32(0, true), offsets = [];
    for (let i = 0; i < n; i++) offsets.push(dv.getUint32(8 * (i + 1), true));
    return (k) => decoder.decode(new Uint8Array(buf, offsets[k], (offsets[k + 1] ?? buf.byteLength) - offsets[k]));
  };
  const onFrame = (data) => {
    let type, content;
    if (typeof data === 'string') { const m = JSON.parse(data); type = m.header.msg_type; content = m.content; }
    else {
      const part = parts(data); type = JSON.parse(part(1)).msg_type;
      if (type === 'comm_msg' || type === 'execute_input') content = JSON.parse(part(4));
    }
    if (type === 'execute_input')
      window.__inputs.push({ code: content.code, perf: performance.now(), ctx: ctxTime() });
    const msg = type === 'comm_msg' && content?.data?.method === 'custom' ? content.data.content : null;
    if (msg && msg.type === 'begin')
      window.__begins.push({ text: msg.text, interrupt: !!msg.interrupt, perf: performance.now(), ctx: ctxTime() });
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => { try { onFrame(ev.data); } catch (_) { /* not a kernel frame */ } });
    }
  };
})();"""


# Per code cell: the player's id, its audible intervals [begin, end) (AudioContext seconds, cut by stop) with
# the page time each was stopped, the lane colour slot of each speaker label, and the statuses its root went through.
CELL_AUDIO = """(i) => {
  const el = document.querySelectorAll('.jp-CodeCell')[i]?.querySelector('.enb-player');
  const h = el && (window.__elevenPlayers || {})[el.dataset.playerId];
  if (!h) return null;
  const sources = window.__sources.filter((r) => r.dest === h.out)
    .map((r) => ({ begin: r.begin, end: r.end, stopPerf: r.stopPerf ?? null }));
  // the first chunk, when the early voice (an AudioWorklet, not a source node) played it
  if (h.early) sources.unshift({ begin: h.early.begin, end: h.early.end, stopPerf: null, early: true });
  const colours = [...el.querySelectorAll('.enb-speaker')].map((s) => [s.textContent, s.dataset.color]);
  return { id: el.dataset.playerId, sources, colours, status: el.dataset.status,
           statuses: window.__statuses.filter((s) => s.id === el.dataset.playerId) };
}"""
