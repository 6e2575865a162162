"""Driving a JupyterLab page for bench_notebook.py: run a cell, time its player, read its trace.

Times on the page are ``performance.now()``; a player's trace (debug on) is in wall-clock ms
(``performance.timeOrigin + performance.now()``), the clock the kernel and the local server use too.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.jupyter_app import wait_for_kernel

# Before the page loads: when an <audio> starts playing, and the longest main-thread task.
PROBE = """(() => {
  window.__playing = null;
  document.addEventListener("playing", () => { window.__playing = performance.now(); }, true);
  window.__longest = 0; window.__longestAt = null; window.__longSince = 0; // tasks before __longSince: not counted
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) {
      if (e.duration > window.__longest && e.startTime >= window.__longSince) { window.__longest = e.duration; window.__longestAt = e.startTime; }
    }
  }).observe({type: "longtask", buffered: true});
  // what filled each long animation frame (Chromium's LoAF): the scripts, by invoker and function, and
  // the rest (style, layout, paint, garbage collection): what a long task was, without a trace
  window.__longFrames = [];
  try {
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) {
        window.__longFrames.push({ start: e.startTime, duration: e.duration,
          render: e.renderStart ? e.startTime + e.duration - e.renderStart : 0,
          scripts: e.scripts.map((x) => ({ what: `${x.invoker} ${x.sourceURL.split("/").pop()}:${x.sourceFunctionName}`,
                                          duration: x.duration, layout: x.forcedStyleAndLayoutDuration })) });
        if (window.__longFrames.length > 200) window.__longFrames.shift();
      }
    }).observe({type: "long-animation-frame", buffered: true});
  } catch (_) { /* a browser without LoAF */ }
  // when the kernel's messages reach the page's WebSocket, before JupyterLab handles them (wall ms):
  // comm_open of each player, its "begin" and first "chunk" (by player id), and each execute_input
  const wall = () => performance.timeOrigin + performance.now();
  window.__ws = {}; window.__execInputs = [];
  const comms = {};
  const decoder = new TextDecoder();
  const onFrame = (data, at) => {
    let header, content = () => null;
    if (typeof data === "string") { const m = JSON.parse(data); header = m.header; content = () => m.content; }
    else {
      const dv = new DataView(data), n = dv.getUint32(0, true), offsets = [];
      for (let i = 0; i < n; i++) offsets.push(dv.getUint32(8 * (i + 1), true));
      const part = (k) => JSON.parse(decoder.decode(
        new Uint8Array(data, offsets[k], (offsets[k + 1] ?? data.byteLength) - offsets[k])));
      header = part(1); content = () => part(4);
    }
    const type = header.msg_type;
    if (type === "execute_input") window.__execInputs.push(at);
    else if (type === "comm_open") {
      const c = content(), id = c?.data?.state?.player_id;
      if (id) { comms[c.comm_id] = id; window.__ws[id] = { "comm_open": at }; }
    } else if (type === "comm_msg") {
      const c = content(), id = c && comms[c.comm_id], rec = id && window.__ws[id];
      const kind = c?.data?.method === "custom" ? c.data.content?.type : null;
      if (rec && (kind === "begin" || kind === "chunk") && !(kind in rec)) rec[kind] = at;
    }
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        try { onFrame(ev.data, wall()); } catch (_) { /* not a kernel frame */ }
      });
    }
  };
})();"""
WS_STAGES = {"comm_open": "browser: comm_open on the kernel WebSocket",
             "begin": "browser: begin on the kernel WebSocket",
             "chunk": "browser: first chunk on the kernel WebSocket"}
CELL_RUN = "browser: cell run (Ctrl+Enter)"
STOP_CELL = "from eleven_nb.jupyter.extension import active as _active\n_active().stop()"


@dataclass
class SpeakRun:
    """One ``%%speak`` cell: ms from pressing Ctrl+Enter to the first source start and to its audio."""

    to_start_ms: float
    to_audio_ms: float | None
    stages: dict[str, float] = field(default_factory=dict)  # stage -> ms after the key press
    clock_offset_ms: float = 0.0  # Date.now() - (timeOrigin + now()) on the page
    late_ms: float | None = None  # the latest a chunk of the first 3 s arrived after its audio was due (> 0: a gap)
    to_sound_ms: float | None = None  # to_audio_ms + where the first chunk's silence ends (its first sound)


def open_notebook(browser: Any, app: Any, name: str) -> Any:
    """A new page on notebook ``name`` of ``app`` (a JupyterApp), probed, its kernel ready."""
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.add_init_script(PROBE)
    page.goto(app.lab(name))
    wait_for_kernel(page)
    return page


def cell(page: Any, index: int) -> Any:
    return page.locator(".jp-CodeCell").nth(index)


def player_id(page: Any, index: int) -> str | None:
    return page.evaluate(f"document.querySelectorAll('.jp-CodeCell')[{index}]"
                         ".querySelector('.enb-player')?.dataset.playerId || null")


def run_cell(page: Any, index: int, before_press: Callable[[], None] | None = None) -> None:
    """Click cell ``index``'s editor and press Ctrl+Enter (``before_press`` is called just before)."""
    cell(page, index).locator(".jp-InputArea-editor").click()
    if before_press is not None:
        before_press()
    page.evaluate("window.__runAt = performance.now(); window.__playing = null;")
    page.keyboard.press("Control+Enter")


def wait_idle(page: Any, timeout_ms: int = 180_000) -> None:
    page.wait_for_function("document.querySelector('.jp-Notebook-ExecutionIndicator')"
                           "?.getAttribute('data-status') === 'idle'", timeout=timeout_ms)


def prompt(page: Any, index: int) -> str:
    return page.evaluate(f"document.querySelectorAll('.jp-CodeCell')[{index}]"
                         ".querySelector('.jp-InputPrompt')?.textContent || ''")


def error_js(index: int) -> str:
    """A JavaScript expression: the text of cell ``index``'s error output (a traceback), or of its stderr
    if a line there starts with a traceback or an error's name (IPython's ``UsageError``), else ``null``.
    A warning that merely names an exception does not count."""
    return (f"(() => {{ const cell = document.querySelectorAll('.jp-CodeCell')[{index}];"
            " const text = (sel) => [...cell.querySelectorAll(sel)].map((e) => e.innerText).join('\\n');"
            " const err = text('.jp-OutputArea-output[data-mime-type$=\"error\"]');"
            " if (err) return err;"
            " const stderr = text('.jp-OutputArea-output[data-mime-type$=\"stderr\"]');"
            " return /^(Traceback|\\w*Error\\b)/m.test(stderr) ? stderr : null; })()")


class CellFailed(RuntimeError):
    """A cell the benchmark runs showed an error: measuring on would only wait for audio that never comes."""


def raise_if_failed(page: Any, index: int) -> None:
    if (text := page.evaluate(error_js(index))) is not None:
        raise CellFailed(f"cell {index} failed (is eleven_nb installed in the kernel's Python?):\n{text[-2000:]}")


def run_and_wait(page: Any, index: int) -> None:
    """Run cell ``index`` and wait until it has finished: its prompt shows a new execution count (the
    kernel's idle indicator alone may still show the idle from before the cell started)."""
    before = prompt(page, index)
    run_cell(page, index)
    page.wait_for_function(
        f"""() => {{ const t = document.querySelectorAll('.jp-CodeCell')[{index}]
                     .querySelector('.jp-InputPrompt')?.textContent || '';
                   return /\\[\\d+\\]/.test(t) && t !== {json.dumps(before)}; }}""", timeout=180_000)
    wait_idle(page)
    raise_if_failed(page, index)


def silence_players(page: Any) -> None:
    """Press every player's stop button and pause every <audio>, as a user would before the next cell."""
    page.evaluate("document.querySelectorAll('.enb-stop').forEach((b) => b.click());"
                  "document.querySelectorAll('audio').forEach((a) => a.pause());")


def speak(page: Any, index: int, *, traced: bool = True, long: bool = False,
          stop_index: int | None = None, keep_playing: bool = False,
          before_press: Callable[[], None] | None = None) -> SpeakRun:
    """Run the ``%%speak`` cell ``index``; time its first audio; with ``traced`` wait for the kernel's
    trace (sent when synthesis ends). A ``long`` cell is stopped (cell ``stop_index``) once it plays;
    the others are silenced once measured unless ``keep_playing``."""
    before = player_id(page, index)
    run_cell(page, index, before_press)
    handle = (f"(() => {{ const el = document.querySelectorAll('.jp-CodeCell')[{index}].querySelector('.enb-player');"
              f" const h = el && el.dataset.playerId !== {json.dumps(before)} && (window.__elevenPlayers || {{}})"
              "[el.dataset.playerId]; return h || null; })()")
    page.wait_for_function(f"() => {{ const h = {handle}; return (h && h.firstScheduledAt !== null)"
                           f" || {error_js(index)} !== null; }}", timeout=180_000)
    raise_if_failed(page, index)
    to_start = page.evaluate(f"{handle}.firstScheduledAt - window.__runAt")
    if long and stop_index is not None:
        silence_players(page)
        run_and_wait(page, stop_index)
    elif traced:
        page.wait_for_function(f"() => {{ const h = {handle}; return !!h && 'kernel: magic parsed' in h.trace; }}",
                               timeout=180_000)
    wait_idle(page)
    pid = json.dumps(player_id(page, index))
    got = page.evaluate(f"""(() => {{ const h = {handle};
        const ws = window.__ws[{pid}] || {{}};
        const t = h.trace, log = h.chunkLog, lead = t["browser: first audio due (scheduled time)"]
          - t["browser: first source start"], begin = log.length ? log[0].scheduledAt + lead : null;
        const late = log.filter((c) => c.at_ms < 3000).map((c) => c.receivedAt - (begin + c.at_ms));
        return {{ trace: h.trace, runAt: performance.timeOrigin + window.__runAt, ws, sound: h.firstSoundMs,
                  late: begin === null || !late.length ? null : Math.max(...late),
                  exec: window.__execInputs.filter((t) => t >= performance.timeOrigin + window.__runAt)[0] ?? null,
                  offset: Date.now() - (performance.timeOrigin + performance.now()) }}; }})()""")
    if not keep_playing:
        silence_players(page)
    return _speak_run(to_start, got)


def _speak_run(to_start: float, got: dict[str, Any]) -> SpeakRun:
    offset, run_at = float(got["offset"]), float(got["runAt"])
    stages = {CELL_RUN: 0.0}
    seen = dict(got["trace"])
    seen.update({WS_STAGES[k]: at for k, at in got["ws"].items()})
    if got["exec"] is not None:
        seen["browser: execute_input on the kernel WebSocket"] = got["exec"]
    for stage, at in seen.items():
        # browser stages are on the page's wall clock: move them onto the system's (kernel, server)
        system = float(at) + (offset if stage.startswith("browser:") else 0.0)
        stages[stage] = system - (run_at + offset)
    if "browser: early voice claimed" in stages:  # the worklet played the first chunk (js/src/early.js):
        # its first sample on the context clock, read late on the main thread, can come out before the hand-off
        due = max(stages.get("browser: first audio started (worklet, context clock)", 0.0),
                  stages.get("browser: first chunk to the worklet (worker)", 0.0),
                  stages.get("browser: first chunk to the worklet (main thread)", 0.0)) or None
    else:
        due = stages.get("browser: first audio due (scheduled time)")
    sound = got.get("sound")
    return SpeakRun(to_start, due, stages, offset, got.get("late"),
                    due + float(sound) if due is not None and sound is not None else None)


def audio_way(page: Any, index: int) -> float:
    """Run the synthesize-then-Audio cell; ms from the key press to the <audio>'s ``playing``."""
    run_and_wait(page, index)
    page.wait_for_function("window.__playing !== null", timeout=180_000)
    value = page.evaluate("window.__playing - window.__runAt")
    silence_players(page)
    return value


def longest_task_story(page: Any) -> str:
    """What the long animation frame holding the longest task (``window.__longest``) spent its time on."""
    got = page.evaluate("""(() => { const at = window.__longestAt;
        if (at === null) return null;
        return window.__longFrames.find((f) => f.start <= at + 1 && at <= f.start + f.duration) || null; })()""")
    if not got:
        return "no long animation frame matched it"
    scripts = sorted(got["scripts"], key=lambda x: -x["duration"])[:4]
    parts = [f"{x['what']} {x['duration']:.0f} ms" + (f" (forced layout {x['layout']:.0f})" if x["layout"] >= 1 else "")
             for x in scripts]
    rest = got["duration"] - sum(x["duration"] for x in got["scripts"]) - got["render"]
    return (f"a {got['duration']:.0f} ms frame: scripts " + ("; ".join(parts) or "none") +
            f"; rendering {got['render']:.0f} ms; the rest (other tasks, garbage collection) {rest:.0f} ms")

