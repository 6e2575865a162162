"""A/B of a warm ``%%speak``'s time to first audio in real JupyterLab + headless Chromium, alternating.

    python bench/ab_notebook.py --a A.py --b B.py [--repeats 8] [--voice heart] [--json-out runs.json]

``A.py`` and ``B.py`` are Python run in the kernel before each measurement of that way, e.g. one patches
``eleven_nb`` back to an older behaviour (a method of ``Player``, or ``Player._esm`` set to an older
bundle's text) and the other puts the current one back. After it the spare player is made again, so
it is made by that way's code. Then, as bench_notebook.py does, ``%%speak --voice VOICE`` with 300
characters runs twice (every player stopped before each) and the second is measured. The ways alternate
(A B, then B A, ...) so drift in the machine's load hits both alike. Prints the medians of TTFA (Ctrl+Enter
to the first ``AudioBufferSourceNode.start``), every run, and the median stage table of each way.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_notebook import HEART, P300, notebook, stage_table, stop_voice_servers  # noqa: E402
from bench.jupyter_app import CHROMIUM, CHROMIUM_ARGS, JupyterApp  # noqa: E402
from bench.notebook_page import SpeakRun, open_notebook, run_and_wait, silence_players, speak  # noqa: E402

RESPARE = ("\nfrom eleven_nb.jupyter.extension import active as _active\n"
           "_active().spares.take()\n_active().spares.refill()  # the next cell's player, made by this way\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="Python run in the kernel before each A measurement")
    parser.add_argument("--b", required=True, help="the same for B")
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--voice", default=HEART)
    parser.add_argument("--json-out", help="also write every run's stages to this file")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="enb-ab-"))
    root, runtime = base / "nb", base / "enb-runtime"
    root.mkdir()
    ways = {"A": Path(args.a).read_text() + RESPARE, "B": Path(args.b).read_text() + RESPARE}
    cells = ["%load_ext eleven_nb\nimport eleven_nb", f"%%speak --wait --voice {args.voice}\nWarm up this voice.",
             f"%%speak --voice {args.voice}\n" + P300, ways["A"], ways["B"]]
    setup = {"A": 3, "B": 4}
    notebook(root / "ab.ipynb", cells)
    env = {"ELEVEN_NB_ENGINE": "piper", "ELEVEN_NB_TRACE": "1", "ELEVEN_NB_PLAYER_DEBUG": "1",
           "ELEVEN_NB_RUNTIME_DIR": str(runtime)}
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    runs: dict[str, list[SpeakRun]] = {"A": [], "B": []}
    app = JupyterApp(root, env=env)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = open_notebook(browser, app, "ab.ipynb")
            run_and_wait(page, 0)
            run_and_wait(page, 1)
            silence_players(page)
            for i in range(args.repeats):
                for way in ("AB" if i % 2 == 0 else "BA"):
                    run_and_wait(page, setup[way])
                    page.wait_for_timeout(300)  # as between a user's cells: the spare's comm_open has arrived
                    speak(page, 2)
                    page.wait_for_timeout(300)
                    run = speak(page, 2)
                    runs[way].append(run)
                    print(f"repeat {i + 1} {way}: {run.to_start_ms:.0f} ms", flush=True)
            browser.close()
    finally:
        app.stop()
        stop_voice_servers(runtime)
    print(f"\nLoad average at start: {load}. Medians of {args.repeats} warm runs per way, alternating.\n")
    for way, rs in runs.items():
        ttfa = [round(r.to_start_ms) for r in rs]
        print(f"{way}: TTFA median {statistics.median(ttfa):.0f} ms, runs {ttfa}")
    print("\n" + stage_table({"A": runs["A"], "B": runs["B"]}))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({k: [vars(r) for r in v] for k, v in runs.items()}))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
