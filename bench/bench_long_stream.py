"""The page's main thread late in a long ``%%speak``: the longest task in each window of the stream.

    python bench/bench_long_stream.py [--voice joe] [--seconds 90] [--window 10] [--ahead S] [--no-write]

bench_notebook.py reads the longest main-thread task over the first 8 s of a 20,000-character cell (a few
hundred words). What grows with the stream (the transcript, the timeline, the chunk list) costs most later,
so this runs the same cell in real JupyterLab + headless Chromium and reads, for each ``--window`` seconds
until ``--seconds``, the words shown so far, the longest task and what the long animation frame holding it
spent its time on. Writes a section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_notebook import P20K, lab_page  # noqa: E402
from bench.common import machine_line, write_section  # noqa: E402
from bench.trace_main_thread import CATEGORIES, report, tasks_in  # noqa: E402
from bench.notebook_page import (  # noqa: E402
    STOP_CELL,
    longest_task_story,
    player_id,
    run_and_wait,
    silence_players,
    speak,
)


def traced_window(page, browser, seconds: int, min_ms: float) -> str:
    """Trace the page for ``seconds`` (Chromium's performance trace, as trace_main_thread.py reads it):
    its tasks over ``min_ms`` with what they did and the JavaScript sampled in them."""
    browser.start_tracing(page=page, categories=CATEGORIES)
    page.evaluate("performance.mark('enb-run')")
    page.wait_for_timeout(seconds * 1000)
    events = json.loads(browser.stop_tracing())["traceEvents"]
    mark = next(e for e in events if e.get("name") == "enb-run")
    return report(tasks_in(events, mark["ts"], seconds * 1000, min_ms), {}, 6)


def measure(page, browser, seconds: int, window: int, trace_at: int | None) -> tuple[list, str]:
    run_and_wait(page, 0)
    run_and_wait(page, 1)  # warm the voice: the windows read the page, not a model load
    silence_players(page)
    # from the key press: the click that puts the cursor in the cell (JupyterLab's own handler, up to
    # 70 ms here) comes before the stream, as a user's typing would
    speak(page, 2, traced=False, keep_playing=True, before_press=lambda: page.evaluate(
        "window.__longest = 0; window.__longestAt = null; window.__longFrames = []; "
        "window.__longSince = performance.now()"))
    pid = player_id(page, 2)
    rows, trace = [], ""
    for end in range(window, seconds + 1, window):
        if trace_at is not None and end - window == trace_at:  # this window under a trace, not timed
            trace = traced_window(page, browser, window, 20)
            trace = f"Traced {end - window}-{end} s (tracing about doubles the work), tasks over 20 ms:\n\n{trace}"
            page.evaluate("window.__longest = 0; window.__longestAt = null; window.__longFrames = []")
            continue
        page.wait_for_timeout(window * 1000)
        longest = page.evaluate("window.__longest")
        story = longest_task_story(page) if longest > 50 else ""
        words = page.evaluate(f"window.__elevenPlayers['{pid}'].words.length")
        rows.append((end, words, longest, story))
        page.evaluate("window.__longest = 0; window.__longestAt = null; window.__longFrames = []")
    silence_players(page)
    run_and_wait(page, 3)
    return rows, trace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voice", default="joe", help="joe (piper) or heart (hibari)")
    parser.add_argument("--seconds", type=int, default=90)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--trace-at", type=int, help="trace the window starting at this second instead of timing it")
    parser.add_argument("--ahead", type=float, help="the cell's --ahead (default: the magic's own)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    cells = ["%load_ext eleven_nb", f"%%speak --wait --voice {args.voice}\nWarm up this voice.",
             f"%%speak --voice {args.voice}{'' if args.ahead is None else f' --ahead {args.ahead:g}'}\n" + P20K,
             STOP_CELL]
    with lab_page(cells, "long.ipynb") as (browser, page):
        rows, trace = measure(page, browser, args.seconds, args.window, args.trace_at)
    table = "| seconds into the stream | words shown | longest task (ms) | the frame holding it |\n|---|---|---|---|\n"
    table += "\n".join(f"| {a - args.window}-{a} | {w} | {t:.0f} | {s} |" for a, w, t, s in rows)
    body = (f"{machine_line()}\n\nJupyterLab 4 + headless Chromium, the 20,000-character cell of bench_notebook.py "
            f"with voice `{args.voice}`, after a warm-up cell; one run, windows of {args.window} s "
            "(`bench/bench_long_stream.py`). Goal: no task over 50 ms.\n\n" + table + (f"\n\n{trace}" if trace else ""))
    print(body)
    if not args.no_write:
        write_section(f"Notebook: main-thread tasks late in a long stream ({args.voice})", body)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
