"""Time to first audio in the browser, stage by stage, in real JupyterLab + headless Chromium.

    python bench/bench_notebook.py [--repeats 10] [--no-write]

A real JupyterLab (kernels with ``ELEVEN_NB_TRACE=1`` and ``ELEVEN_NB_PLAYER_DEBUG=1``) and the
local voice server its first kernel starts. Every ``%%speak`` is traced (see docs/latency.md):
the kernel's, the server's and the browser's stages on one clock, timed from pressing Ctrl+Enter.

- Warm TTFA, 300 characters, piper (``joe``) and hibari (``heart``), each after a cell with the same voice,
  with and without the player and socket made ahead (A/B, both orders), and against the synthesize
  everything-then-``IPython.display.Audio`` way with the same voice and text (timed to ``playing``);
  10 and 10,000 characters (piper), each after a cell with the same voice too. The ways alternate
  within each repeat, so drift in the machine's load hits them alike. Between cells every player is
  stopped, as a user would.
- Stage table: the median of each stage over the warm 300-character runs, per voice.
- Cold TTFA: the first ``%%speak`` in a fresh kernel with no voice server running (its trace).
- A second kernel's first ``%%speak`` while the first kernel's server is up (shared server).
- Highlight lag behind the audio clock; the longest main-thread task while 20,000 characters stream.

TTFA here is "to the first source start" (the player's ``AudioBufferSourceNode.start`` call, as the
earlier figures were); "to the audio" adds the scheduling lead. Writes a section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line, write_section  # noqa: E402
from bench.jupyter_app import CHROMIUM, CHROMIUM_ARGS, JupyterApp  # noqa: E402
from bench.notebook_page import (  # noqa: E402
    STOP_CELL,
    SpeakRun,
    audio_way,
    longest_task_story,
    open_notebook,
    silence_players,
    player_id,
    run_and_wait,
    speak,
)
from eleven_nb.spawn import stop_pid  # noqa: E402

P300 = ("Streaming speech lets a listener hear the first words while the rest is still being made. "
        "This paragraph is about three hundred characters long, with a few sentences of ordinary prose, "
        "so that both ways have some real work to do before the last word is ready.")
P10 = "Hi there."
P10K = (P300 + " ") * 34
P20K = (P300 + " ") * 68
AUDIO_WAY = '''import numpy as np
from IPython.display import Audio
import eleven_nb
from eleven_nb.jupyter.options import NOTEBOOK_FORMAT as _fmt
_client = eleven_nb.AsyncClient()
async with _client.stream_input(VOICE, output_format=_fmt) as _s:  # synthesize everything first
    await _s.send(TEXT)
    await _s.close()
    async for _ in _s:
        pass
Audio(np.frombuffer(_s.audio(), np.int16), rate=int(_fmt.split("_")[1]), autoplay=True)'''
HEART = "heart"
SPARES = "from eleven_nb.jupyter.extension import active as _a\n"

CELLS = {
    "load": "%load_ext eleven_nb\nimport eleven_nb",
    "cold": "%%speak\n" + P300,  # the first in a fresh kernel: server start and model load
    "warm_heart": f"%%speak --wait --voice {HEART}\nWarm up this voice.",
    "piper300": "%%speak\n" + P300,
    "audio_piper": AUDIO_WAY.replace("VOICE", "eleven_nb.jupyter.options.DEFAULT_VOICE_ID").replace("TEXT", repr(P300)),
    "heart300": f"%%speak --voice {HEART}\n" + P300,
    "audio_heart": AUDIO_WAY.replace("VOICE", repr(HEART)).replace("TEXT", repr(P300)),
    "piper10": "%%speak\n" + P10,
    "piper10k": "%%speak\n" + P10K,
    "piper20k": "%%speak\n" + P20K,
    "plain20k": "_ = " + repr(P20K),  # the same 20,000 characters, not spoken (a control)
    "stop": STOP_CELL,
    "spare_on": SPARES + "_a().spares.enabled = _a().sockets.enabled = True\n_a().spares.refill()",
    "spare_off": SPARES + "_a().spares.enabled = _a().sockets.enabled = False",
}
INDEX = {name: i for i, name in enumerate(CELLS)}
SECOND = ["%load_ext eleven_nb", "%%speak\n" + P300]


def notebook(path: Path, cells: list[str]) -> None:
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    book.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(book, path)


@contextlib.contextmanager
def lab_page(cells: list[str], name: str) -> Iterator[tuple[Any, Any]]:
    """(browser, page): a fresh JupyterLab on a notebook of ``cells`` (kernels traced, player debug on, a fresh
    runtime dir so no voice server is running yet) opened in headless Chromium; all stopped after."""
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="enb-bench-"))
    root, runtime = base / "nb", base / "enb-runtime"
    root.mkdir()
    notebook(root / name, cells)
    env = {"ELEVEN_NB_ENGINE": "piper", "ELEVEN_NB_TRACE": "1", "ELEVEN_NB_PLAYER_DEBUG": "1",
           "ELEVEN_NB_RUNTIME_DIR": str(runtime)}
    app = JupyterApp(root, env=env)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser, open_notebook(browser, app, name)
            browser.close()
    finally:
        app.stop()
        stop_voice_servers(runtime)


def median_stages(runs: list[SpeakRun]) -> dict[str, tuple[float, int]]:
    """stage -> (median ms after the key press, runs it was seen in)."""
    names = {k for r in runs for k in r.stages}
    return {k: (statistics.median(v), len(v)) for k in names
            if (v := [r.stages[k] for r in runs if k in r.stages])}


def stage_table(columns: dict[str, list[SpeakRun]]) -> str:
    meds = {name: median_stages(runs) for name, runs in columns.items()}
    first = next(iter(meds.values()))
    names = sorted({k for m in meds.values() for k in m}, key=lambda k: (first.get(k, (1e9,))[0], k))
    head = "| stage (ms after Ctrl+Enter) | " + " | ".join(f"{n} (runs)" for n in columns) + " |"
    lines = [head, "|---" * (len(columns) + 1) + "|"]
    for k in names:
        cells = [f"{m[k][0]:.0f} ({m[k][1]})" if k in m else "" for m in meds.values()]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def single_table(run: SpeakRun) -> str:
    rows = sorted(run.stages.items(), key=lambda kv: kv[1])
    return "| stage | ms after Ctrl+Enter |\n|---|---|\n" + "\n".join(f"| {k} | {v:.0f} |" for k, v in rows)


def stop_voice_servers(runtime: Path) -> None:
    """The kernels' shared voice server outlives Jupyter (own session, idle exit): stop it by its PID."""
    for info in runtime.glob("eleven_nb-server-*.json"):
        try:
            stop_pid(int(json.loads(info.read_text())["pid"]))
        except (OSError, ValueError, KeyError):
            pass


def measure(page, app, browser, repeats: int) -> dict:
    out: dict = {k: [] for k in ("piper300", "heart300", "audio_piper", "audio_heart", "piper10", "piper10k",
                                 "piper300_nospare", "heart300_nospare")}
    run_and_wait(page, INDEX["load"])
    out["cold"] = speak(page, INDEX["cold"])
    run_and_wait(page, INDEX["warm_heart"])
    silence_players(page)
    for i in range(repeats):  # alternate, so drift hits every way alike
        for spare in ((False, True) if i % 2 else (True, False)):  # A/B, in both orders
            run_and_wait(page, INDEX["spare_on" if spare else "spare_off"])
            page.wait_for_timeout(300)  # as between a user's cells: the spare's comm_open has arrived
            tag = "" if spare else "_nospare"  # no spare: the player and socket are made in the cell, as before
            for name in ("piper300", "heart300"):  # each twice: the second follows a cell with the same voice
                speak(page, INDEX[name])
                out[name + tag].append(speak(page, INDEX[name]))
        out["audio_piper"].append(audio_way(page, INDEX["audio_piper"]))
        out["audio_heart"].append(audio_way(page, INDEX["audio_heart"]))
        # 10 and 10,000 characters in the 300 way's conditions: after a cell with the same voice, not
        # straight after the synthesize-then-Audio cells (their 1 MB outputs still being drawn)
        page.wait_for_timeout(300)
        speak(page, INDEX["piper300"])
        out["piper10"].append(speak(page, INDEX["piper10"]))
        out["piper10k"].append(speak(page, INDEX["piper10k"], long=True, stop_index=INDEX["stop"]))
    # highlight lag over 12 s of a 300-character playback
    speak(page, INDEX["piper300"], traced=False, keep_playing=True)
    page.wait_for_timeout(12_000)
    out["lags"] = page.evaluate(f"window.__elevenPlayers['{player_id(page, INDEX['piper300'])}'].lags")
    silence_players(page)
    # the long transcript: the longest main-thread task while it streams for 8 s
    page.evaluate("window.__longest = 0; window.__longestAt = null; window.__longFrames = []")
    speak(page, INDEX["piper20k"], traced=False, keep_playing=True)
    page.wait_for_timeout(8_000)
    out["longest"] = page.evaluate("window.__longest")
    out["longest_story"] = longest_task_story(page) if out["longest"] > 50 else ""
    pid20 = player_id(page, INDEX["piper20k"])
    out["words20"] = page.evaluate(f"window.__elevenPlayers['{pid20}'].words.length")
    silence_players(page)
    run_and_wait(page, INDEX["stop"])
    page.evaluate("window.__longest = 0")
    run_and_wait(page, INDEX["plain20k"])
    page.wait_for_timeout(2_000)
    out["longest_plain"] = page.evaluate("window.__longest")
    # a second kernel, the shared server already up
    second = open_notebook(browser, app, "second.ipynb")
    run_and_wait(second, 0)
    silence_players(page)
    out["second"] = speak(second, 1)
    return out


def report(out: dict, repeats: int, load: str) -> str:
    def med(key: str, attr: str = "to_start_ms") -> float:
        values = [getattr(r, attr) if isinstance(r, SpeakRun) else r for r in out[key]]
        return statistics.median([v for v in values if v is not None])

    def early_runs(key: str, by: str) -> int:
        return sum("browser: early voice claimed" in r.stages and f"browser: first chunk to the worklet ({by})"
                   in r.stages for r in out[key])

    lags, m = out["lags"], {k: med(k) for k in ("piper300", "heart300", "audio_piper", "audio_heart",
                                                 "piper10", "piper10k", "piper300_nospare", "heart300_nospare")}
    heard = {k: med(k, "to_audio_ms") for k in ("piper300", "heart300")}
    sound = {k: med(k, "to_sound_ms") for k in ("piper300", "heart300")}
    offsets = [r.clock_offset_ms for k in ("piper300", "heart300") for r in out[k]]
    rows = [
        ("warm TTFA, `%%speak` 300 characters, piper (ms)", f"{m['piper300']:.0f} (heard at {heard['piper300']:.0f})",
         "≤ 100"),
        (f"warm TTFA, the same with hibari `{HEART}` (ms)", f"{m['heart300']:.0f} (heard at {heard['heart300']:.0f})",
         "≤ 60"),
        ("first sound (the first sample of the first chunk above -34 dBFS, heard at), piper / heart (ms)",
         f"{sound['piper300']:.0f} / {sound['heart300']:.0f}", ""),
        ("runs whose first chunk the worklet played, handed over by the worker / by the main thread, piper; heart",
         f"{early_runs('piper300', 'worker')} / {early_runs('piper300', 'main thread')}; "
         f"{early_runs('heart300', 'worker')} / {early_runs('heart300', 'main thread')} of {repeats}", ""),
        ("A/B, the same cells with no player or socket made ahead (as before), piper / heart (ms)",
         f"{m['piper300_nospare']:.0f} / {m['heart300_nospare']:.0f}", ""),
        ("synthesize-then-`Audio`, piper / heart, to `playing` (ms)",
         f"{m['audio_piper']:.0f} / {m['audio_heart']:.0f}", ""),
        ("ratio to synthesize-then-`Audio`, piper / heart",
         f"{m['piper300'] / m['audio_piper']:.2f} / {m['heart300'] / m['audio_heart']:.2f}", "≤ 0.12"),
        ("TTFA at 10 and 10,000 characters vs 300, piper (ms)",
         f"{m['piper10']:.0f} / {m['piper10k']:.0f} vs {m['piper300']:.0f}", "within ±20 %"),
        ("first `%%speak` in a second kernel, shared server up (ms, 1 run)", f"{out['second'].to_start_ms:.0f}",
         "≤ 200"),
        ("cold TTFA, fresh kernel, no server running (ms, 1 run)", f"{out['cold'].to_start_ms:.0f}", "≤ 1500"),
        (f"longest main-thread task while 20,000 characters stream ({out['words20']} words so far) (ms)",
         f"{out['longest']:.0f}", "≤ 50"),
        ("control: longest task while Lab runs a 20,000-character cell that speaks nothing (ms)",
         f"{out['longest_plain']:.0f}", ""),
        (f"highlight lag behind the audio clock, median over {len(lags)} words (ms)",
         f"{statistics.median(lags):.1f}" if lags else "n/a", "≤ 17"),
    ]
    table = "| measure | value | goal |\n|---|---|---|\n" + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    raw = {k: [round(r.to_start_ms if isinstance(r, SpeakRun) else r) for r in out[k]]
           for k in ("piper300", "heart300", "audio_piper", "audio_heart", "piper10", "piper10k",
                     "piper300_nospare", "heart300_nospare")}
    return (f"{machine_line()} Load average at start: {load}.\n\n"
            f"JupyterLab 4 + headless Chromium, local server (piper `joe`, hibari `{HEART}`), tracing on. "
            f"Medians of {repeats} warm runs per way, the ways alternating within each repeat. "
            "TTFA: Ctrl+Enter to the player's first `AudioBufferSourceNode.start`, or, when the worklet played the "
            "first chunk (early audio), to its hand-off to the AudioWorklet by the worker or the main thread (\"heard at\": the time "
            "that source was scheduled to sound, after the scheduling lead, or the worklet's first sample, but never "
            "before the hand-off: both are read on the page's AudioContext clock, which runs ahead of the sound)."
            "\n\n" + table +
            (f"\n\nThe longest task while 20,000 characters streamed was {out['longest_story']}."
             if out.get("longest_story") else "") +
            "\n\n### Stage table (medians of the warm 300-character runs)\n\n" +
            stage_table({"piper": out["piper300"], HEART: out["heart300"], "piper, no spare": out["piper300_nospare"],
                         f"{HEART}, no spare": out["heart300_nospare"]}) +
            f"\n\nPage clock vs system clock (median): {statistics.median(offsets):+.2f} ms, corrected.\n\n"
            "### Cold: the first `%%speak` in a fresh kernel, no voice server running\n\n" +
            single_table(out["cold"]) + "\n\n### A second kernel's first `%%speak`, shared server up\n\n" +
            single_table(out["second"]) + f"\n\nAll runs, TTFA (ms): {raw}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    parser.add_argument("--json-out", help="also write every run's stages to this file")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="enb-bench-"))
    root, runtime = base / "nb", base / "enb-runtime"
    root.mkdir()
    notebook(root / "bench.ipynb", list(CELLS.values()))
    notebook(root / "second.ipynb", SECOND)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    env = {"ELEVEN_NB_ENGINE": "piper", "ELEVEN_NB_TRACE": "1", "ELEVEN_NB_PLAYER_DEBUG": "1",
           "ELEVEN_NB_RUNTIME_DIR": str(runtime)}  # a fresh runtime dir: no voice server running yet
    app = JupyterApp(root, env=env)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = open_notebook(browser, app, "bench.ipynb")
            out = measure(page, app, browser, args.repeats)
            browser.close()
    finally:
        app.stop()
        stop_voice_servers(runtime)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(
            {k: [vars(r) if isinstance(r, SpeakRun) else r for r in v] if isinstance(v, list) else
             (vars(v) if isinstance(v, SpeakRun) else v) for k, v in out.items()}))
    body = report(out, args.repeats, load)
    print(body)
    if not args.no_write:
        write_section("Notebook: time to first audio, stage by stage", body)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
