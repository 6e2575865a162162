"""Time to first audio in the browser, highlight lag and a long transcript, in real JupyterLab + Chromium.

    python bench/bench_notebook.py [--repeats 5]

Warm TTFA: from pressing Shift+Enter on a ``%%speak`` cell to the first audio scheduled by the player
(both on the browser's clock), local piper voice, server already warm; 10, 300 and 10,000 characters.
Side by side, in the same run: what a user does today, synthesize everything and then
``IPython.display.Audio(..., autoplay=True)``, timed to the audio element's ``playing`` event.
Cold TTFA: the first ``%%speak`` in a fresh kernel (server start and model load included).
Highlight lag: how long after the audio clock enters a word the highlight moves to it.
Long transcript: the longest main-thread task while a 20,000-character cell streams.
Writes a section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line, write_section  # noqa: E402
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.browser.jupyter_app import JupyterApp, wait_for_kernel  # noqa: E402

P300 = ("Streaming speech lets a listener hear the first words while the rest is still being made. "
        "This paragraph is about three hundred characters long, with a few sentences of ordinary prose, "
        "so that both ways have some real work to do before the last word is ready.")
P10 = "Hi there."
P10K = (P300 + " ") * 34
P20K = (P300 + " ") * 68
AUDIO_WAY = '''import numpy as np
from IPython.display import Audio
import eleven_nb
_client = eleven_nb.AsyncClient()
async with _client.stream_input(output_format="pcm_22050") as _s:  # synthesize everything first
    await _s.send(TEXT)
    await _s.close()
    async for _ in _s:
        pass
Audio(np.frombuffer(_s.audio(), np.int16), rate=22050, autoplay=True)'''

CELLS = ["%load_ext eleven_nb\nimport eleven_nb", "%%speak --wait\nWarm up the voice.",
         "%%speak\n" + P10, "%%speak\n" + P300, "%%speak\n" + P10K, AUDIO_WAY.replace("TEXT", repr(P300)),
         "%%speak\n" + P20K, "_ = " + repr(P20K)]  # the last: the same 20,000 characters, not spoken
SPEAK_10, SPEAK_300, SPEAK_10K, AUDIO_300, SPEAK_20K, PLAIN_20K = 2, 3, 4, 5, 6, 7

PROBE = """() => {
  window.__playing = null;
  document.addEventListener("playing", () => { window.__playing = performance.now(); }, true);
  window.__longest = 0;
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longest = Math.max(window.__longest, e.duration); })
    .observe({type: "longtask"});
}"""


def cell(page, index):
    return page.locator(".jp-CodeCell").nth(index)


def player_id(page, index):
    return page.evaluate(f"document.querySelectorAll('.jp-CodeCell')[{index}].querySelector('.enb-player')?.dataset.playerId || null")


def run_cell(page, index):
    cell(page, index).locator(".jp-InputArea-editor").click()
    page.evaluate("window.__runAt = performance.now(); window.__playing = null;")
    page.keyboard.press("Control+Enter")


def speak_ttfa(page, index) -> float:
    before = player_id(page, index)
    run_cell(page, index)
    page.wait_for_function(
        f"""() => {{ const el = document.querySelectorAll('.jp-CodeCell')[{index}].querySelector('.enb-player');
                   const p = el && (window.__elevenPlayers || {{}})[el.dataset.playerId];
                   return p && el.dataset.playerId !== {json.dumps(before)} && p.firstScheduledAt !== null; }}""",
        timeout=120_000)
    pid = player_id(page, index)
    value = page.evaluate(f"window.__elevenPlayers['{pid}'].firstScheduledAt - window.__runAt")
    wait_idle(page)
    # a next %%speak would queue behind this one: measure each with the queue empty
    page.wait_for_function(f"document.querySelectorAll('.jp-CodeCell')[{index}].querySelector('.enb-status')"
                           f"?.textContent === 'done'", timeout=180_000)
    return value


def audio_ttfa(page, index) -> float:
    run_cell(page, index)
    page.wait_for_function("window.__playing !== null", timeout=120_000)
    value = page.evaluate("window.__playing - window.__runAt")
    wait_idle(page)
    return value


def wait_idle(page):
    page.wait_for_function("document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status') === 'idle'",
                           timeout=180_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="enb-bench-")) / "nb"
    root.mkdir()
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    book.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nbformat.write(book, root / "bench.ipynb")
    app = JupyterApp(root, env={"ELEVEN_NB_ENGINE": "piper"})
    results: dict[str, list[float]] = {k: [] for k in ("10", "300", "10k", "audio300", "cold")}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.goto(app.lab("bench.ipynb"))
            wait_for_kernel(page)
            page.evaluate(PROBE)
            run_cell(page, 0)
            wait_idle(page)
            results["cold"].append(speak_ttfa(page, SPEAK_300))  # fresh kernel: server start + model load
            run_cell(page, 1)
            wait_idle(page)
            for _ in range(args.repeats):  # alternate, so drift hits every way alike
                results["300"].append(speak_ttfa(page, SPEAK_300))
                results["audio300"].append(audio_ttfa(page, AUDIO_300))
                results["10"].append(speak_ttfa(page, SPEAK_10))
                results["10k"].append(speak_ttfa(page, SPEAK_10K))
                page.keyboard.press("Escape")
            # highlight lag over a whole 300-character playback
            pid = player_id(page, SPEAK_300)
            speak_ttfa(page, SPEAK_300)
            pid = player_id(page, SPEAK_300)
            page.wait_for_timeout(15_000)
            lags = page.evaluate(f"window.__elevenPlayers['{pid}'].lags")
            page.evaluate("window.__longest = 0")
            speak_ttfa(page, SPEAK_20K)
            page.wait_for_timeout(8_000)
            longest = page.evaluate("window.__longest")
            pid20 = player_id(page, SPEAK_20K)
            words20 = page.evaluate(f"window.__elevenPlayers['{pid20}'].words.length")
            page.evaluate("window.__longest = 0")  # control: JupyterLab running a 20,000-character cell alone
            run_cell(page, PLAIN_20K)
            wait_idle(page)
            page.wait_for_timeout(2_000)
            longest_plain = page.evaluate("window.__longest")
            browser.close()
    finally:
        app.stop()

    med = {k: statistics.median(v) for k, v in results.items() if v}
    lag_med = statistics.median(lags) if lags else float("nan")
    body = (f"{machine_line()}\n\nJupyterLab 4 + headless Chromium, local piper voice. Medians of {args.repeats} "
            "runs, the ways alternating in one run.\n\n"
            "| measure | value | goal |\n|---|---|---|\n"
            f"| warm TTFA, `%%speak`, 300 characters (ms) | {med['300']:.0f} | ≤ 100 |\n"
            f"| synthesize everything, then `IPython.display.Audio`, 300 characters (ms) | {med['audio300']:.0f} | |\n"
            f"| ratio `%%speak` / synthesize-then-Audio | {med['300'] / med['audio300']:.2f} | ≤ 0.12 |\n"
            f"| warm TTFA, 10 characters (ms) | {med['10']:.0f} | about the same as 300 |\n"
            f"| warm TTFA, 10,000 characters (ms) | {med['10k']:.0f} | about the same as 300 |\n"
            f"| cold TTFA, first `%%speak` in a fresh kernel (ms) | {med['cold']:.0f} | ≤ 2000 |\n"
            f"| highlight lag behind the audio clock, median over {len(lags)} words (ms) | {lag_med:.1f} | ≤ 17 |\n"
            f"| longest main-thread task while a 20,000-character cell streams ({words20} words so far) (ms) | "
            f"{longest:.0f} | no task > 50 |\n"
            f"| control: longest task while JupyterLab runs a 20,000-character cell that speaks nothing (ms) | "
            f"{longest_plain:.0f} | |\n\n"
            f"All runs (ms): {', '.join(f'{k}: {[round(x) for x in v]}' for k, v in results.items())}.")
    print(body)
    write_section("Notebook: time to first audio, highlight lag, long transcript", body)


if __name__ == "__main__":
    main()
