"""A/B in one run: the size of the first phrase sent (chunking.FIRST_PHRASE_CHARS), in real JupyterLab.

    python bench/bench_first_phrase.py [--repeats 8] [--long 20] [--short 10]

The first chunk of a ``%%speak`` cell is cut to at most FIRST_PHRASE_CHARS characters (20: "Streaming
speech lets "); the engine's time for it is most of the time to first audio. This sets the constant
in the kernel from a cell, alternating the two sizes (in both orders), and prints the median TTFA and
the median of the engine's first phrase per size and voice, from the trace (see docs/latency.md).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_notebook import HEART, P300, notebook, stop_voice_servers  # noqa: E402
from bench.common import machine_line  # noqa: E402
from bench.jupyter_app import CHROMIUM, CHROMIUM_ARGS, JupyterApp  # noqa: E402
from bench.notebook_page import open_notebook, run_and_wait, speak  # noqa: E402

ENGINE = ("server: engine starts first phrase", "server: engine ends first phrase")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--long", type=int, default=20, help="one FIRST_PHRASE_CHARS (the current value)")
    parser.add_argument("--short", type=int, default=10, help="the other, to compare with it")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    sizes = (args.long, args.short)
    cells = ["%load_ext eleven_nb", f"%%speak --wait --voice {HEART}\nWarm up.", "%%speak --wait\nWarm up.",
             "%%speak\n" + P300, f"%%speak --voice {HEART}\n" + P300]
    cells += [f"import eleven_nb.chunking as _c\n_c.FIRST_PHRASE_CHARS = {n}" for n in sizes]
    base = Path(tempfile.mkdtemp(prefix="enb-bench-"))
    (base / "nb").mkdir()
    notebook(base / "nb" / "phrase.ipynb", cells)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    env = {"ELEVEN_NB_ENGINE": "piper", "ELEVEN_NB_TRACE": "1", "ELEVEN_NB_PLAYER_DEBUG": "1",
           "ELEVEN_NB_RUNTIME_DIR": str(base / "rt")}  # piper: the default voice is joe
    app = JupyterApp(base / "nb", env=env)
    runs: dict[tuple[str, int], list] = {(v, n): [] for v in ("piper", HEART) for n in sizes}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = open_notebook(browser, app, "phrase.ipynb")
            for i in range(3):
                run_and_wait(page, i)
            for i in range(args.repeats):
                for n in (sizes if i % 2 else sizes[::-1]):
                    run_and_wait(page, 5 + sizes.index(n))
                    runs[("piper", n)].append(speak(page, 3))
                    runs[(HEART, n)].append(speak(page, 4))
            browser.close()
    finally:
        app.stop()
        stop_voice_servers(base / "rt")
    print(f"{machine_line()} Load average at start: {load}. Medians of {args.repeats} runs, sizes alternating.\n")
    print("| voice | FIRST_PHRASE_CHARS | TTFA (ms) | engine, first phrase (ms) | runs with a gap in the first 3 s "
          "| latest chunk vs its due time, median (ms) |\n|---|---|---|---|---|---|")
    for (voice, n), got in runs.items():
        ttfa = statistics.median(r.to_start_ms for r in got)
        engine = statistics.median(r.stages[ENGINE[1]] - r.stages[ENGINE[0]] for r in got)
        late = [r.late_ms for r in got if r.late_ms is not None]
        gaps = sum(1 for x in late if x > 0)
        print(f"| {voice} | {n} | {ttfa:.0f} | {engine:.0f} | {gaps} of {len(late)} | "
              f"{statistics.median(late) if late else float('nan'):+.0f} |")
    print(f"\nAll TTFA (ms): { {f'{v} {n}': [round(r.to_start_ms) for r in g] for (v, n), g in runs.items()} }")


if __name__ == "__main__":
    main()
