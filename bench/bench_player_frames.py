"""The player's own main-thread cost per second of a long stream, as the transcript grows.

    python bench/bench_player_frames.py [--at 500,1500,3000] [--seconds 6] [--repeats 3] [--style CSS]

bench_long_stream.py reads the longest task in real JupyterLab, where the voice server, the kernel and
Lab share two cores with the page, so one run says little about the player alone. This runs only the
player: the built bundle on the stub page of the browser tests (tests/browser/harness.py), in headless
Chromium, playing while a 20,000-character text streams in as ``%%speak`` sends it (a chunk of six words
with its audio, as silence, every 250 ms: the rate piper's words reached the page in bench_long_stream.py).
When the transcript holds each of ``--at`` words, a Chromium performance trace of ``--seconds`` records
every main-thread task; the figures are per second of stream: frames drawn, layouts that started at the
page's root (in JupyterLab those cover the whole notebook), the time in tasks, in each rendering step
(style, layout, pre-paint, paint, layerize, commit) and in the player's script (animation frames and
message handling), and the longest task. Medians over ``--repeats`` fresh pages.

``--style`` adds CSS to the page (to probe what a rendering step costs); ``--bundle`` plays another
build of player.js (an A/B of the player's code, side by side in one run).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line  # noqa: E402
from bench.trace_main_thread import CATEGORIES, TASK_NAMES  # noqa: E402
from tests.browser import harness  # noqa: E402

TEXT = ("The quick brown fox jumps over the lazy dog, again and again. Streaming speech is heard "
        "while it is made! " * 200)[:20000]
RATE = 22050
MS_PER_CHAR = 60  # a word's time on the timeline: about as fast as piper speaks
WORDS_PER_CHUNK = 6
CHUNK_EVERY_MS = 250
STEPS = ("UpdateLayoutTree", "Layout", "PrePaint", "Paint", "Layerize", "Commit")
SCRIPT = ("FireAnimationFrame", "FunctionCall")


class Stream:
    """The chunks of TEXT, as the kernel's widget sends them: words with their times, silence as audio."""

    def __init__(self, page, pid: str = "big"):
        self.page, self.pid = page, pid
        self.words = TEXT.split()
        self.sent = 0
        self.chars = 0
        self.at = 0.0

    def begin(self) -> None:
        self.page.evaluate("(id) => mount({player_id: id, text: ''})", self.pid)
        self.page.evaluate("([id, t]) => deliver(id, {type: 'begin', text: t, lanes: []})", [self.pid, TEXT])

    def chunk(self) -> None:
        batch = self.words[self.sent:self.sent + WORDS_PER_CHUNK]
        words, start = [], self.at
        for w in batch:
            words.append({"text": w, "start_ms": self.at, "end_ms": self.at + MS_PER_CHAR * len(w)})
            self.at += MS_PER_CHAR * (len(w) + 1)
            self.chars += len(w) + 1
        self.sent += len(batch)
        msg = {"type": "chunk", "lane": "speech", "at_ms": start, "sample_rate": RATE, "words": words,
               "grow": None, "aligned_chars": self.chars}
        self.page.evaluate("([id, m, n]) => deliverZeros(id, m, n)",
                           [self.pid, msg, 2 * int(RATE * (self.at - start) / 1000)])


def fill(stream: Stream, words: int) -> None:
    while stream.sent < words:
        stream.chunk()
        stream.page.wait_for_timeout(5)  # a frame now and then, as a fast stream gets
    stream.page.wait_for_timeout(500)


def traced(page, browser, stream: Stream, seconds: float) -> dict[str, float]:
    browser.start_tracing(page=page, categories=CATEGORIES)
    page.evaluate("performance.mark('enb-run')")
    for _ in range(int(seconds * 1000 / CHUNK_EVERY_MS)):
        stream.chunk()
        page.wait_for_timeout(CHUNK_EVERY_MS)
    page.evaluate("performance.mark('enb-end')")
    events = json.loads(browser.stop_tracing())["traceEvents"]
    return per_second(events)


def per_second(events: list[dict]) -> dict[str, float]:
    marks = {e["name"]: e for e in events if e.get("name") in ("enb-run", "enb-end")}
    pid, tid = marks["enb-run"]["pid"], marks["enb-run"]["tid"]
    begin, end = marks["enb-run"]["ts"], marks["enb-end"]["ts"]
    seconds = (end - begin) / 1e6
    inside = [e for e in events if e.get("pid") == pid and e.get("tid") == tid and e.get("ph") == "X"
              and begin <= e["ts"] <= end]
    tasks = [e["dur"] / 1000 for e in inside if e["name"] in TASK_NAMES]
    out = {"tasks": sum(tasks) / seconds, "longest task": max(tasks, default=0.0)}
    for name in STEPS:  # outermost of each (a step can nest in a forced layout inside script)
        out[name] = sum(e["dur"] for e in _outermost(inside, name)) / 1000 / seconds
    out["script"] = sum(e["dur"] for e in _outermost(inside, *SCRIPT)) / 1000 / seconds
    out["frames"] = len(_outermost(inside, "Commit")) / seconds
    # layouts that started at the page's root, not at a box Chromium lays out on its own (a relayout boundary)
    out["whole layouts"] = sum(1 for e in inside if e["name"] == "Layout"
                               and not e.get("args", {}).get("beginData", {}).get("partialLayout")) / seconds
    return out


def _outermost(events: list[dict], *names: str) -> list[dict]:
    chosen = sorted((e for e in events if e["name"] in names), key=lambda e: (e["ts"], -e["dur"]))
    out, reach = [], -1.0
    for e in chosen:
        if e["ts"] >= reach:
            out.append(e)
            reach = e["ts"] + e["dur"]
    return out


def run(browser, at: list[int], seconds: float, style: str | None, bundle: Path | None) -> dict[int, dict]:
    if bundle is not None:
        harness.STATIC = bundle.parent  # serve_player reads STATIC / "player.js" when a page opens
    context, page = harness.open_player_page(browser)
    try:
        if style:
            page.add_style_tag(content=style)
        stream = Stream(page)
        stream.begin()
        rows = {}
        for words in at:
            fill(stream, words)
            rows[words] = traced(page, browser, stream, seconds)
        return rows
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--at", default="500,1500,3000", help="word counts to measure at")
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--style", help="extra CSS for the page (a probe)")
    parser.add_argument("--bundle", type=Path, help="a directory with player.js and player.css to play instead")
    args = parser.parse_args()
    at = [int(x) for x in args.at.split(",")]
    from playwright.sync_api import sync_playwright

    runs: dict[int, list[dict]] = {w: [] for w in at}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
        try:
            for _ in range(args.repeats):
                for w, row in run(browser, at, args.seconds, args.style, args.bundle).items():
                    runs[w].append(row)
        finally:
            browser.close()
    keys = ["frames", "whole layouts", "tasks", *STEPS, "script", "longest task"]
    print(machine_line())
    print(f"\nms per second of stream (frames and whole layouts: per second; longest task: ms), medians of "
          f"{args.repeats}\n")
    print("| words shown | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for w in at:
        print(f"| {w} | " + " | ".join(f"{statistics.median(r[k] for r in runs[w]):.1f}" for k in keys) + " |")
    print("\nAll runs:", json.dumps({w: [{k: round(v, 1) for k, v in r.items()} for r in rs] for w, rs in runs.items()}))


if __name__ == "__main__":
    main()
