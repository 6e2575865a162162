"""What the page's main thread does between Ctrl+Enter and a warm ``%%speak``'s first audio.

    python bench/trace_main_thread.py [--repeats 3] [--voice heart] [--min-ms 2] [--save-trace DIR]

A real JupyterLab and headless Chromium, as bench_notebook.py runs them (tracing and the player's debug
handles on). The ``%%speak --voice VOICE`` cell (300 characters) runs twice in a row; the second run is
recorded with a Chromium performance trace (``devtools.timeline``, ``v8``, ``blink.user_timing`` and the
V8 sampling profiler). Before each run every player is stopped, as bench_notebook.py does.

For each recorded run it prints the main-thread tasks longer than ``--min-ms`` from the key press to the
player's first ``AudioBufferSourceNode.start``, each with what it was: the events inside it that took
the most time (script evaluation, a WebSocket ``message`` dispatch, style recalculation, layout, GC, ...),
the time in the player's own module (its outermost function on the sampled stack) and the JavaScript
functions the profiler sampled most in it (self time, with their script). Then each kernel message: when
the kernel made it (its header's ``date``) and when the page's main thread got it (CDP
``Network.webSocketFrameReceived``, which Chromium reports from the renderer's main thread, so it is not
the network's arrival time). A message that is late while the main thread was idle was late upstream
(the kernel's iopub thread, the Jupyter server). Tracing makes everything about twice as slow: read the
shares, not the TTFA.

Times are ms after the key press, on the page's ``performance.now()`` clock (a ``performance.mark`` at
the key press ties the trace's clock to it). ``--save-trace DIR`` keeps each trace (JSON, for
chrome://tracing or the Performance panel).
"""
from __future__ import annotations

import argparse
import base64
import collections
import datetime
import json
import os
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_notebook import HEART, P300, lab_page  # noqa: E402
from bench.notebook_page import run_and_wait, silence_players, speak  # noqa: E402

CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "v8.execute",
              "blink.user_timing", "disabled-by-default-v8.cpu_profiler", "loading", "blink"]
TASK_NAMES = {"RunTask", "ThreadControllerImpl::RunTask"}
# trace events that say what a task is (inclusive times; nested ones are listed too)
WHAT = {"FunctionCall", "EventDispatch", "TimerFire", "FireAnimationFrame", "RunMicrotasks", "v8.evaluateModule",
        "v8.compileModule", "EvaluateScript", "v8.compile", "UpdateLayoutTree", "Layout", "Paint", "PrePaint",
        "Layerize", "MinorGC", "MajorGC", "V8.GC_SCAVENGER", "BlinkGC.AtomicPhase", "ParseHTML",
        "ParseAuthorStyleSheet", "HitTest", "IntersectionObserverController::computeIntersections",
        "UpdateLayerTree", "Commit", "v8.run", "XHRReadyStateChange", "ResourceReceivedData"}


@dataclass
class Task:
    start: float  # ms after the key press
    dur: float
    parts: collections.Counter = field(default_factory=collections.Counter)  # "what" -> ms (inclusive)
    functions: collections.Counter = field(default_factory=collections.Counter)  # sampled fn -> ms (self)
    ours: collections.Counter = field(default_factory=collections.Counter)  # our outermost fn -> ms (inclusive)


def _detail(e: dict[str, Any]) -> str:
    data = e.get("args", {}).get("data", {}) or {}
    name = e["name"]
    if name == "EventDispatch":
        return f"EventDispatch {data.get('type', '?')}"
    if name == "FunctionCall":
        url = (data.get("url") or "").rsplit("/", 1)[-1].split("?")[0]
        return f"FunctionCall {data.get('functionName') or '(anonymous)'} {url}".rstrip()
    if name in ("EvaluateScript", "v8.compile"):
        return f"{name} {(data.get('url') or '').rsplit('/', 1)[-1][:50]}"
    return name


def main_thread(events: list[dict[str, Any]]) -> tuple[int, int]:
    """(pid, tid) of the renderer main thread that saw the key-press mark."""
    for e in events:
        if e.get("name") == "enb-run":
            return e["pid"], e["tid"]
    raise RuntimeError("no enb-run mark in the trace (is blink.user_timing on?)")


def tasks_in(events: list[dict[str, Any]], run_ts: float, end_ms: float, min_ms: float) -> list[Task]:
    """The main thread's tasks over ``min_ms`` that overlap [key press, end_ms], with what they did."""
    pid, tid = main_thread(events)
    main = [e for e in events if e.get("pid") == pid and e.get("tid") == tid]
    ms = lambda ts: (ts - run_ts) / 1000.0  # noqa: E731
    tasks = [Task(ms(e["ts"]), e.get("dur", 0) / 1000.0) for e in main
             if e.get("ph") == "X" and e["name"] in TASK_NAMES and e.get("dur", 0) / 1000.0 >= min_ms
             and ms(e["ts"] + e.get("dur", 0)) >= 0 and ms(e["ts"]) <= end_ms]
    for e in main:
        if e.get("ph") == "X" and e["name"] in WHAT:
            t = ms(e["ts"])
            for task in tasks:
                if task.start <= t < task.start + task.dur:
                    task.parts[_detail(e)] += e.get("dur", 0) / 1000.0
    _add_samples(events, pid, tid, run_ts, tasks)
    return tasks


def _add_samples(events: list[dict[str, Any]], pid: int, tid: int, run_ts: float, tasks: list[Task]) -> None:
    """Self time per JS function from the V8 sampling profiler's ProfileChunk events, and the time
    inside the player's module (its outermost function on the stack; the module is the script that
    defines ``makeView``, a blob URL anywidget made)."""
    chunks = [e for e in events if e.get("name") == "ProfileChunk" and e.get("pid") == pid]
    nodes: dict[int, str] = {}
    parent: dict[int, int] = {}
    urls: dict[int, str] = {}
    for e in chunks:
        for n in e["args"]["data"].get("cpuProfile", {}).get("nodes", []):
            cf = n["callFrame"]
            url = cf.get("url", "").rsplit("/", 1)[-1].split("?")[0][:40]
            nodes[n["id"]] = f"{cf.get('functionName') or '(anonymous)'} {url}:{cf.get('lineNumber', -1) + 1}"
            urls[n["id"]] = cf.get("url", "")
            if "parent" in n:
                parent[n["id"]] = n["parent"]
    ours = {u for i, u in urls.items() if nodes[i].startswith(("makeView ", "onMessage "))}
    for e in chunks:
        data = e["args"]["data"]
        t = data.get("startTime", e["ts"])
        for node, delta in zip(data.get("cpuProfile", {}).get("samples", []), data.get("timeDeltas", []),
                               strict=False):
            t += delta
            when = (t - run_ts) / 1000.0
            for task in tasks:
                if task.start <= when < task.start + task.dur:
                    task.functions[nodes.get(node, str(node))] += delta / 1000.0
                    if (top := _outermost(node, parent, urls, nodes, ours)) is not None:
                        task.ours[top] += delta / 1000.0


def _outermost(node: int, parent: dict[int, int], urls: dict[int, str], nodes: dict[int, str],
               ours: set[str]) -> str | None:
    """The outermost frame of the player's module on the sampled stack, or None."""
    found = None
    while node in nodes:
        if urls.get(node) in ours:
            found = nodes[node]
        node = parent.get(node, -1)
    return found


def profile_start(events: list[dict[str, Any]]) -> None:
    """ProfileChunk sample times continue from their Profile event's startTime: set it on each chunk."""
    starts: dict[Any, float] = {}
    for e in events:
        if e.get("name") == "Profile":
            starts[e.get("id")] = e["args"]["data"]["startTime"]
    for e in events:
        if e.get("name") == "ProfileChunk" and e.get("id") in starts:
            data = e["args"]["data"]
            if "startTime" not in data:
                data["startTime"] = starts.pop(e["id"])  # the first chunk; later chunks go on from the last time
                last = data["startTime"] + sum(data.get("timeDeltas", []))
                starts[("last", e["id"])] = last
        elif e.get("name") == "ProfileChunk" and ("last", e.get("id")) in starts:
            data = e["args"]["data"]
            data["startTime"] = starts[("last", e["id"])]
            starts[("last", e["id"])] = data["startTime"] + sum(data.get("timeDeltas", []))


def kernel_frame(payload: str, opcode: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, content) of one kernel WebSocket frame: JSON text, or Jupyter's binary v1 framing."""
    if opcode == 1:
        msg = json.loads(payload)
        return msg["header"], msg.get("content") or {}
    data = base64.b64decode(payload)
    n = struct.unpack_from("<Q", data, 0)[0]
    offsets = [struct.unpack_from("<Q", data, 8 * (i + 1))[0] for i in range(n)] + [len(data)]
    part = lambda k: json.loads(data[offsets[k]:offsets[k + 1]])  # noqa: E731 (0 channel, 1 header, 4 content)
    return part(1), part(4) or {}


def frame_kind(header: dict[str, Any], content: dict[str, Any]) -> tuple[float, str]:
    """(when the kernel made it, wall s; a short name: the message type, or the player's custom message
    type: begin, chunk, ...)."""
    made = datetime.datetime.fromisoformat(header["date"].replace("Z", "+00:00")).timestamp()
    return made, _kind(header["msg_type"], content)


def _kind(msg_type: str, content: dict[str, Any]) -> str:
    data = content.get("data") or {}
    if msg_type == "comm_msg" and data.get("method") == "custom":
        return "custom " + str((data.get("content") or {}).get("type"))
    if msg_type == "comm_msg":
        return f"comm_msg {data.get('method')} {','.join(sorted((data.get('state') or {}).keys()))[:40]}"
    if msg_type == "status":
        return "status " + str(content.get("execution_state"))
    return msg_type


Frame = tuple[float, float, str]  # (page got it: monotonic s, the kernel made it: wall s, kind)


def record(page: Any, browser: Any, index: int) -> tuple[list[dict[str, Any]], dict[str, Any], list[Frame], float]:
    """Run cell ``index`` (a warm %%speak) under a trace: (trace events, page timings in ms after the press,
    the kernel's frames, the key press in wall-clock s)."""
    cdp = page.context.new_cdp_session(page)
    frames: list[Frame] = []

    def got(ev: dict[str, Any]) -> None:
        try:
            frames.append((ev["timestamp"], *frame_kind(*kernel_frame(ev["response"]["payloadData"],
                                                                      ev["response"]["opcode"]))))
        except (ValueError, KeyError, struct.error):
            pass  # not a kernel message

    cdp.on("Network.webSocketFrameReceived", got)
    cdp.send("Network.enable")
    browser.start_tracing(page=page, categories=CATEGORIES)
    page.evaluate("window.__markRun = true")
    run = speak(page, index)
    raw = browser.stop_tracing()
    cdp.detach()
    pressed = (page.evaluate("performance.timeOrigin + window.__runAt") + run.clock_offset_ms) / 1000.0
    stages = {k: round(v, 1) for k, v in sorted(run.stages.items(), key=lambda kv: kv[1])
              if k.startswith("browser:") or k.startswith("kernel: first chunk")}
    return json.loads(raw)["traceEvents"], stages, frames, pressed


def report(tasks: list[Task], stages: dict[str, Any], top: int) -> str:
    lines = ["| start | ms | what (inclusive ms) | ours (sampled, inclusive) | JS self time (sampled ms) |",
             "|---|---|---|---|---|"]
    for t in sorted(tasks, key=lambda t: t.start):
        what = ", ".join(f"{k} {v:.1f}" for k, v in t.parts.most_common(top))
        fns = ", ".join(f"{k} {v:.1f}" for k, v in t.functions.most_common(top))
        ours = ", ".join(f"{k} {v:.1f}" for k, v in t.ours.most_common(3))
        lines.append(f"| {t.start:.1f} | {t.dur:.1f} | {what} | {ours} | {fns} |")
    busy, ours = sum(t.dur for t in tasks), sum(sum(t.ours.values()) for t in tasks)
    return "\n".join(lines) + (f"\n\nbusy in these tasks: {busy:.0f} ms, of which in the player's module "
                                f"(sampled): {ours:.0f} ms. Stages: {json.dumps(stages)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--voice", default=HEART)
    parser.add_argument("--min-ms", type=float, default=2.0)
    parser.add_argument("--top", type=int, default=6, help="events and functions listed per task")
    parser.add_argument("--save-trace", help="keep each trace as DIR/run-N.json")
    args = parser.parse_args()
    cells = ["%load_ext eleven_nb\nimport eleven_nb", f"%%speak --wait --voice {args.voice}\nWarm up this voice.",
             f"%%speak --voice {args.voice}\n" + P300]
    with lab_page(cells, "trace.ipynb") as (browser, page):
        # the key press, as a mark in the trace (run_cell sets __runAt just before pressing)
        page.evaluate("""(() => { let at = null; Object.defineProperty(window, '__runAt', {
            configurable: true, get: () => at,
            set: (v) => { at = v; if (window.__markRun) performance.mark('enb-run', {startTime: v}); } }); })()""")
        run_and_wait(page, 0)
        run_and_wait(page, 1)
        silence_players(page)
        for i in range(args.repeats):
            page.evaluate("window.__markRun = false")
            speak(page, 2)  # the first of the two: the one after it follows a cell with the same voice
            page.wait_for_timeout(300)  # as between a user's cells
            events, stages, frames, pressed = record(page, browser, 2)
            if args.save_trace:
                Path(args.save_trace).mkdir(parents=True, exist_ok=True)
                Path(args.save_trace, f"run-{i}.json").write_text(json.dumps(events))
            profile_start(events)
            run_ts = next(e["ts"] for e in events if e.get("name") == "enb-run")
            end = stages.get("browser: first source start", 200.0)
            print(f"\n## run {i + 1}: first source start at {end:.0f} ms\n")
            print(report(tasks_in(events, run_ts, end, args.min_ms), stages, args.top))
            print("\n| kernel message | kernel made it | the page's main thread got it | late by |\n|---|---|---|---|")
            for t, made, kind in frames:
                got, sent = (t * 1e6 - run_ts) / 1000, (made - pressed) * 1000
                if -5 < got < end + 5:
                    print(f"| {kind} | {sent:.1f} | {got:.1f} | {got - sent:.1f} |")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
