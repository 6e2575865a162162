"""%%speak end to end: real JupyterLab 4 and Notebook 7, a real kernel, the local server, headless Chromium.

What is heard is asserted from the AudioBufferSourceNodes' start/stop intervals (recorded by an init
script), not from the widget's classes. The espeak-ng engine keeps these runs fast: the voice does not
matter here, the timing does.
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import time
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.harness import ARTIFACTS, SOURCE_RECORDER
from tests.browser.jupyter_app import (
    CELL_AUDIO,
    PAGE_RECORDER,
    JupyterApp,
    run_all,
    wait_for_kernel,
)

PARAGRAPH = ("Streaming speech lets you hear the first words while the rest is still being made. "
             "This paragraph is long enough that the voice needs a moment to finish it, so the first sentence "
             "should already be playing while the later ones are synthesized. Every word lights up as it is "
             "spoken, and clicking a word jumps straight to it. The timeline below shows each word as a block.")
SAME = "The same sentence, spoken twice, at two speeds."
LONG = " ".join(f"This is sentence number {n} of a long cell that is still playing when it is interrupted."
                for n in range(1, 13))
DYING = " ".join(f"Sentence {n} of a long cell that is still streaming when its kernel goes away." for n in range(1, 80))
# the dying cell streams for longer than JupyterLab's restart takes: with DYING, espeak-ng had made all of its
# 345 s of audio before a restart through the menu had taken effect, on a slow host (the speech was complete)
DYING_LONGER = " ".join(f"Sentence {n} of a long cell that is still streaming when its kernel goes away."
                        for n in range(1, 240))
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
TOLERANCE_S = 0.1  # "within 100 ms"
VOICES_CELL = ("from eleven_nb.jupyter.extension import active\nimport time\n"
               "while active().queue.pending: time.sleep(0.05)\n"
               "print('voices:', sorted(set(active().history[-1].voices.values())))")


def write_notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    root = tmp_path_factory.mktemp("jupyter") / "nb"
    root.mkdir()
    write_notebook(root / "speak.ipynb", ["%load_ext eleven_nb", "%%speak\n" + PARAGRAPH,
                                          "import eleven_nb\neleven_nb.voice_controls()", "%%speak\n" + SAME])
    write_notebook(root / "order.ipynb", [
        "%load_ext eleven_nb",
        "%%speak\nThe first cell speaks first. It has two sentences.",
        "%%speak\nThe second cell waits for the first one to finish.",
        "%%speak --dialog\nAlice: Hello, I am Alice.\nBob: And I am Bob, with a voice of my own.",
        VOICES_CELL,
    ])
    write_notebook(root / "interrupt.ipynb", ["%load_ext eleven_nb", "%%speak\n" + LONG, "import time\ntime.sleep(3)",
                                              "%%speak --interrupt\nStop that, and listen to me."])
    # made flat out (--ahead 0): minutes of audio reach the page ahead of the listener, as the worst case
    write_notebook(root / "dying.ipynb", ["%load_ext eleven_nb", "import os; os.getpid()",
                                          "%%speak --ahead 0\n" + DYING_LONGER,
                                          "%%speak\nAfter the restart, a new cell speaks as usual."])
    write_notebook(root / "early.ipynb", ["%load_ext eleven_nb", "%%speak\n" + PARAGRAPH, "%%speak\n" + SAME,
                                          "%%speak\n" + DYING])
    write_notebook(root / "offered.ipynb", ["%load_ext eleven_nb", "%%speak\n" + PARAGRAPH])
    write_notebook(root / "silent.ipynb", ["%load_ext eleven_nb", "%%speak\n... - ...", "%%speak\nNow words."])
    shutil.copy(NOTEBOOKS / "01-quickstart.ipynb", root / "01-quickstart.ipynb")
    app = JupyterApp(root, env={"ELEVEN_NB_ENGINE": "espeak"})
    yield app
    app.stop()


@pytest.fixture
def page(browser, request):
    """A page recording what is audible, the players' statuses and the kernel's "begin" messages."""
    context = browser.new_context(viewport={"width": 1280, "height": 2400})
    context.add_init_script(SOURCE_RECORDER)
    context.add_init_script(PAGE_RECORDER)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def player_in_cell(index: int) -> str:
    """JS expression for the debug handle of the player in code cell ``index``."""
    return (f"(window.__elevenPlayers || {{}})[document.querySelectorAll('.jp-CodeCell')[{index}]"
            f"?.querySelector('.enb-player')?.dataset.playerId]")


def wait_player(page, index: int, condition: str, timeout_ms: int = 60_000) -> None:
    handle = player_in_cell(index)
    page.wait_for_function(f"(() => {{ const p = {handle}; return !!p && ({condition.replace('P', 'p')}); }})()",
                           timeout=timeout_ms)


def wait_done(page, index: int, timeout_ms: int = 90_000) -> None:
    """Until the player in code cell ``index`` says it has played to the end."""
    page.wait_for_function(f"document.querySelectorAll('.jp-CodeCell')[{index}]"
                           "?.querySelector('.enb-player')?.dataset.status === 'done'", timeout=timeout_ms)


def audio(page, index: int) -> dict:
    found = page.evaluate(CELL_AUDIO, index)
    assert found is not None, f"no player in code cell {index}"
    return found


def heard(player: dict) -> tuple[float, float]:
    """First start and last end of what the player made audible (AudioContext seconds)."""
    spans = [(s["begin"], s["end"]) for s in player["sources"] if s["end"] > s["begin"]]
    assert spans, f"player {player['id']} played nothing"
    return min(b for b, _ in spans), max(e for _, e in spans)


def test_cells_play_one_after_another_in_order_and_say_so(page, jupyter):
    """Run All: each cell's first audio starts when the previous cell's last audio ends (within 100 ms), never
    over it; the status line goes through "playing" and says "done" only after the last audio has played; a
    dialog without --voices speaks with two voices and two lane colours."""
    page.goto(jupyter.lab("order.ipynb"))
    wait_for_kernel(page)
    run_all(page)
    for cell in (1, 2, 3):
        wait_done(page, cell)
    players = [audio(page, cell) for cell in (1, 2, 3)]
    spans = [heard(p) for p in players]
    print("gaps between cells (ms):", [round(1000 * (b - e), 1) for (_, e), (b, _) in itertools.pairwise(spans)])
    for (_, end), (begin, _) in itertools.pairwise(spans):
        assert end - 0.005 <= begin <= end + TOLERANCE_S, spans  # in order: no overlap, no long gap
    for player, (_, end) in zip(players, spans):
        kinds = [s["status"] for s in player["statuses"]]
        assert "playing" in kinds and kinds[-1] == "done", kinds
        done = next(s for s in player["statuses"] if s["status"] == "done")
        assert done["ctx"] >= end - 0.02, (done, end)  # "done" only once the last audio has played
        assert all(s["status"] != "done" for s in player["statuses"][:kinds.index("playing")])
    dialog = players[2]
    colours = dict(dialog["colours"])
    assert set(colours) == {"Alice: ", "Bob: "} and colours["Alice: "] != colours["Bob: "]  # two lane colours
    page.wait_for_function("document.querySelectorAll('.jp-CodeCell')[4].textContent.includes('voices:')",
                           timeout=30_000)
    printed = page.locator(".jp-CodeCell").nth(4).locator(".jp-OutputArea-output").inner_text()
    voices = json.loads(printed.split("voices:", 1)[1].strip().replace("'", '"'))
    assert len(voices) == 2, printed


def test_a_cell_the_voice_cannot_read_says_it_is_silent_and_the_next_plays(page, jupyter):
    page.goto(jupyter.lab("silent.ipynb"))
    wait_for_kernel(page)
    run_all(page)
    wait_done(page, 1)
    wait_done(page, 2)
    # the status line's text follows the player's state on the next frame: wait for it, not read it at once
    line = "document.querySelectorAll('.jp-CodeCell')[{}].querySelector('.enb-status')?.textContent"
    page.wait_for_function(f"{line.format(1)}?.startsWith('done: silent: the voice could read none of this text')",
                           timeout=10_000)
    page.wait_for_function(f"{line.format(2)} === 'done'", timeout=10_000)
    heard(audio(page, 2))  # the next cell is heard


def test_interrupt_silences_the_playing_cell_at_once(page, jupyter):
    """The interrupting cell's first message reaches the browser; within 100 ms the earlier player is
    silent, and the new one plays after it."""
    page.goto(jupyter.lab("interrupt.ipynb"))
    wait_for_kernel(page)
    run_all(page)
    wait_done(page, 3)
    first, second = audio(page, 1), audio(page, 3)
    begins = page.evaluate("window.__begins")
    urgent = next(b for b in begins if b["interrupt"])
    assert urgent["text"].startswith("Stop that")
    first_begin, first_end = heard(first)
    cut = [s for s in first["sources"] if s["stopPerf"] is not None]
    assert cut, "the playing cell was not stopped"
    # the new cell's first message (its execute_input) reaches the page; within 100 ms the earlier cell is
    # silent (the kernel stops it before making the new player, whose messages the page handles only once
    # the widget is built; the new player's begin, with interrupt, would silence it too)
    arrived = next(i for i in page.evaluate("window.__inputs") if "--interrupt" in i["code"])
    delay_ms = max(s["stopPerf"] for s in cut) - arrived["perf"]
    print(f"interrupt: earlier cell silenced {delay_ms:.1f} ms after the new cell's first message arrived "
          f"({urgent['perf'] - arrived['perf']:.1f} ms before its begin)")
    assert 0 < delay_ms <= TOLERANCE_S * 1000
    # nothing of the first cell is audible after that moment (on the audio clock)
    assert max(s["end"] for s in first["sources"]) <= arrived["ctx"] + TOLERANCE_S
    assert first_end - first_begin > 0.5  # it had been playing (during the 3 s cell in between)
    begin, _ = heard(second)
    assert begin >= first_end - 0.005  # the new cell plays, never over the silenced one
    kinds = [x["status"] for x in second["statuses"]]  # "done" once, and only after it was heard
    assert kinds.count("done") == 1 and "done" not in kinds[:kinds.index("playing")], second["statuses"]
    assert first["status"] == "interrupted" and second["status"] == "done"


def test_the_first_chunk_plays_from_the_worker_and_the_rest_follows_it_seamlessly(page, jupyter):
    """A cell that plays at once: its chunks go to the AudioWorklet from the worker (off the page's main
    thread) and play while the main thread is blocked; once the page claims the worklet, the sources start
    where its run ends (no gap, no overlap), and the player ends "done". A cell queued behind a playing one
    takes the usual way, and starts after the earlier one's last audio."""
    page.goto(jupyter.lab("early.ipynb"))
    wait_for_kernel(page)
    run_all(page)
    for cell in (1, 2):
        wait_done(page, cell)
    first, queued = audio(page, 1), audio(page, 2)
    assert not any(s.get("early") for s in queued["sources"])  # it waited its turn: the usual way
    assert heard(queued)[0] >= heard(first)[1] - 0.005
    assert first["status"] == queued["status"] == "done"
    wait_player(page, 3, "P.state === 'playing'")
    long_id = audio(page, 3)["id"]
    page.locator(".jp-CodeCell").nth(3).locator(".enb-stop").click()  # Run All's long cell: stopped
    page.locator(".jp-CodeCell").nth(3).locator(".jp-InputArea-editor").click()
    # the long cell again, alone (nothing else plays), with the page's main thread busy for 1.5 s right after the
    # key press, as a slow page would be: the worker, not the main thread, has to start the audio; the
    # cell's later audio comes after the page has taken over
    page.evaluate("""document.addEventListener("keydown", () => setTimeout(() => {
                       const end = performance.now() + 1500; while (performance.now() < end) {}
                       window.__busyEndCtx = globalThis.__elevenNbAudio.ctx.currentTime; }, 30),
                     { capture: true, once: true })""")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(f"document.querySelectorAll('.jp-CodeCell')[3]?.querySelector('.enb-player')"
                           f"?.dataset.playerId !== {json.dumps(long_id)}", timeout=30_000)
    wait_player(page, 3, "P.early && P.info.bufferedEnd > (P.early.end - P.early.begin) * 1000 + 3000",
                timeout_ms=120_000)
    alone = audio(page, 3)
    [run] = [s for s in alone["sources"] if s.get("early")]
    assert run["begin"] < page.evaluate("window.__busyEndCtx")  # it played while the main thread was blocked
    rest = sorted((s["begin"], s["end"]) for s in alone["sources"] if not s.get("early"))
    assert rest and abs(rest[0][0] - run["end"]) < 0.003, (run, rest[:3])  # the sources take over seamlessly
    for (_, end), (begin, _) in itertools.pairwise(rest):
        assert abs(begin - end) < 0.003
    trace = page.evaluate(f"{player_in_cell(3)}.trace")
    assert trace["browser: first chunk to the worklet (worker)"] < trace["browser: first chunk received"]
    page.locator(".jp-CodeCell").nth(3).locator(".enb-stop").click()


# The early worker's kernel messages held back 400 ms (its source is given to a Blob, then run as a Worker):
# the page's main thread gets the first chunk first.
SLOW_WORKER = """(() => {
  const NativeBlob = Blob;
  window.Blob = class extends NativeBlob {
    constructor(parts, options) {
      if (parts && typeof parts[0] === 'string' && parts[0].includes('v1.kernel.websocket.jupyter.org')
          && parts[0].includes('HEAD_SAMPLES')) {
        parts = [`(() => { const N = self.WebSocket; self.WebSocket = class extends N {
                   set onmessage(f) { super.onmessage = (e) => setTimeout(() => f(e), 400); }
                   get onmessage() { return super.onmessage; } }; })();\n`, ...parts];
      }
      super(parts, options);
    }
  };
})();"""


def test_the_first_chunk_the_main_thread_gets_first_plays_at_once_through_the_worklet(page, jupyter):
    """When the page's main thread has the first chunk before the worker (whose copy is late here), its claim
    hands the worklet the chunk's head, which plays at once: no wait for the worklet's answer, nor for a
    scheduling lead. The sources take over where that head ends (no gap, no overlap), and the cell ends "done"."""
    page.add_init_script(SLOW_WORKER)
    page.goto(jupyter.lab("offered.ipynb"))
    wait_for_kernel(page)
    cells = page.locator(".jp-CodeCell")
    cells.nth(0).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")  # %load_ext: its spare player arms an early voice
    page.wait_for_function("[...(globalThis.__elevenNbEarly?.kernels.values() ?? [])]"
                           ".some((k) => k.open && k.players.size > 0)", timeout=30_000)
    cells.nth(1).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    wait_done(page, 1)
    played = audio(page, 1)
    trace = page.evaluate(f"{player_in_cell(1)}.trace")
    offered = trace.get("browser: first chunk to the worklet (main thread)")
    assert offered is not None and "browser: early voice claimed" in trace, trace
    assert "browser: first chunk to the worklet (worker)" not in trace  # the worker's copy came too late
    assert offered >= trace["browser: first chunk received"]
    [run] = [s for s in played["sources"] if s.get("early")]
    assert 0.15 < run["end"] - run["begin"] < 0.2  # the head: 8192 samples at the context's rate
    rest = sorted((s["begin"], s["end"]) for s in played["sources"] if not s.get("early"))
    assert rest and abs(rest[0][0] - run["end"]) < 0.003, (run, rest[:3])
    for (_, end), (begin, _) in itertools.pairwise(rest):
        assert abs(begin - end) < 0.003
    assert played["status"] == "done" and page.evaluate(f"{player_in_cell(1)}.firstScheduledAt") is not None


def check_streaming_player(page) -> None:
    h = player_in_cell(1)
    wait_player(page, 1, "P.firstScheduledAt !== null")
    wait_player(page, 1, "P.info.bufferedEnd > 15000")
    first, received = page.evaluate(f"[{h}.firstScheduledAt, {h}.chunksReceived]")
    assert first is not None and received > 1 and len(page.evaluate(f"{h}.words")) > 20
    t0 = page.evaluate(f"{h}.audioTime()")
    time.sleep(0.5)
    t1 = page.evaluate(f"{h}.audioTime()")
    assert 300 < t1 - t0 < 900  # the audio clock advances in real time
    words = page.evaluate(f"{h}.words")
    t, index = page.evaluate(f"[{h}.audioTime(), {h}.highlightedIndex]")
    assert index >= 0 and words[index]["start"] <= t + 20
    assert index + 1 >= len(words) or t < words[index + 1]["start"] + 40  # highlight follows the clock
    page.locator(".jp-CodeCell").nth(1).locator(".enb-word[data-i='30']").click()
    assert abs(page.evaluate(f"{h}.audioTime()") - words[30]["start"]) < 150  # clicking a word seeks


def save_player_screenshot(page, index: int, name: str) -> None:
    """A picture of the player in code cell ``index``, for a person to look at (tests/artifacts/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(".jp-CodeCell").nth(index).locator(".enb-player").screenshot(path=str(ARTIFACTS / name))


def test_jupyterlab_streams_highlights_and_follows_the_sliders(page, jupyter):
    page.goto(jupyter.lab("speak.ipynb"))
    wait_for_kernel(page)
    run_all(page)
    check_streaming_player(page)
    save_player_screenshot(page, 1, "jupyterlab-player.png")
    # settings the local engine ignores are greyed out in the panel
    panel = page.locator(".jp-CodeCell").nth(2)
    assert panel.locator(".widget-slider", has_text="style").locator("[disabled]").count() > 0
    assert panel.locator(".widget-slider", has_text="speed").locator("[disabled]").count() == 0
    # a slider change alters the next request: slow down, run the last cell again, compare
    wait_player(page, 3, "P.info.bufferedEnd > 1000 && P.info.streamDone")
    before = page.evaluate(f"{player_in_cell(3)}.info.bufferedEnd")
    handle = panel.locator(".widget-slider", has_text="speed").locator(".noUi-handle")
    handle.focus()
    for _ in range(6):
        page.keyboard.press("ArrowLeft")  # 1.00 -> 0.70
    page.wait_for_timeout(500)
    page.locator(".jp-CodeCell").nth(3).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    wait_player(page, 3, f"P.info.streamDone && P.info.bufferedEnd !== {before}", timeout_ms=120_000)
    after = page.evaluate(f"{player_in_cell(3)}.info.bufferedEnd")
    assert after > before * 1.2, (before, after)  # 1/0.7 = 1.43 asked for


def test_notebook7_runs_the_quickstart_tutorial(page, jupyter):
    """A tutorial notebook, as a reader runs it: Notebook 7, Run All, the players play in order and highlight."""
    page.goto(jupyter.notebook7("01-quickstart.ipynb"))
    wait_for_kernel(page)
    run_all(page)
    h = player_in_cell(1)
    wait_player(page, 1, "P.firstScheduledAt !== null && P.words.length > 10")
    t0 = page.evaluate(f"{h}.audioTime()")
    time.sleep(0.5)
    t1, index = page.evaluate(f"[{h}.audioTime(), {h}.highlightedIndex]")
    words = page.evaluate(f"{h}.words")
    assert 300 < t1 - t0 < 900 and words[0]["text"] == "Hello"
    save_player_screenshot(page, 1, "notebook7-player.png")
    assert index >= 0 and words[index]["start"] <= t1 + 20
    wait_done(page, 7, timeout_ms=120_000)  # speak() from code, the last cell, after the others have played
    spans = [heard(audio(page, cell)) for cell in (1, 4, 6, 7)]
    assert all(end - 0.005 <= begin for (_, end), (begin, _) in itertools.pairwise(spans)), spans
    errors = page.evaluate("Array.from(document.querySelectorAll('.jp-OutputArea-output[data-mime-type="
                           "\"application/vnd.jupyter.stderr\"]')).map(e => e.textContent)")
    assert not any("Error" in e for e in errors), json.dumps(errors)[:500]
    assert page.locator(".widget-slider").count() >= 4  # the voice sliders rendered


def run_cell(page, index: int) -> None:
    page.locator(".jp-CodeCell").nth(index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")


def kernel_pid(page, other_than: int | None = None) -> int:
    """Run code cell 1 (``os.getpid()``) and read the kernel's PID from its output (a new one after a restart)."""
    run_cell(page, 1)
    output = "document.querySelectorAll('.jp-CodeCell')[1].querySelector('.jp-OutputArea-output')?.textContent.trim()"
    page.wait_for_function(f"(() => {{ const t = {output}; return /^\\d+$/.test(t || '') && t !== '{other_than}'; }})()",
                           timeout=30_000)
    return int(page.evaluate(output))


@pytest.mark.parametrize("death", ["sigkill", "restart"])
def test_a_kernel_that_dies_mid_speech_leaves_a_player_that_says_so_and_frees_the_queue(page, jupyter, death):
    """The kernel is killed by PID (as the OOM killer would) or restarted while a 19,000-character cell still
    streams: the audio already received plays on, the status line says the kernel stopped and the speech is
    incomplete, the player never waits for audio that cannot come (played to its end, it says so and lets
    the page's queue move on), and a %%speak in the restarted kernel plays to its end."""
    page.goto(jupyter.lab("dying.ipynb"))
    wait_for_kernel(page)
    run_cell(page, 0)
    pid = kernel_pid(page)
    run_cell(page, 2)
    dying = player_in_cell(2)
    wait_player(page, 2, "P.firstScheduledAt !== null && P.info.bufferedEnd > 20000")  # plays on after the death
    if death == "restart":  # the menu and its dialog first: the restart then takes effect at one click
        page.click("text=Kernel", timeout=10_000)
        page.click("text=Restart Kernel…", timeout=10_000)
    assert not page.evaluate(f"{dying}.info.streamDone"), "the speech was complete before the kernel died"
    if death == "sigkill":
        os.kill(pid, signal.SIGKILL)
    else:
        page.click(".jp-Dialog-button.jp-mod-accept", timeout=10_000)
    status = page.locator(".jp-CodeCell").nth(2).locator(".enb-status")
    try:
        page.wait_for_function("document.querySelectorAll('.jp-CodeCell')[2].querySelector('.enb-status')"
                               ".textContent.includes('kernel stopped')", timeout=20_000)
    except PlaywrightTimeout:  # say what the page showed instead (it showed a stream that had completed)
        shown = page.evaluate(f"""() => ({{status: document.querySelectorAll('.jp-CodeCell')[2]
            .querySelector('.enb-status')?.textContent, player: {dying}?.info,
            dialog: document.querySelector('.jp-Dialog')?.innerText ?? null}})""")
        pytest.fail(f"no 'kernel stopped' within 20 s after the {death}: {shown}")
    assert status.inner_text() == "playing · kernel stopped: speech incomplete"
    if death == "sigkill":  # JupyterLab says the kernel died and restarts it
        page.click(".jp-Dialog .jp-Dialog-button.jp-mod-accept", timeout=20_000)
    assert page.evaluate(f"{dying}.info.streamDone")
    began = time.monotonic()
    t0 = page.evaluate(f"{dying}.audioTime()")
    time.sleep(0.5)
    played = page.evaluate(f"{dying}.audioTime()") - t0
    elapsed_ms = (time.monotonic() - began) * 1000  # the two reads can be slow on a busy machine
    assert 300 < played <= elapsed_ms + 50, (played, elapsed_ms)  # what arrived still plays, in real time
    # played to the end of what arrived (End seeks there), it says so, instead of waiting for more audio
    page.locator(".jp-CodeCell").nth(2).locator(".enb-player").focus()
    page.keyboard.press("End")
    wait_player(page, 2, "P.state === 'ended'", timeout_ms=10_000)
    assert status.inner_text() == "kernel stopped: speech incomplete"
    assert audio(page, 2)["status"] == "incomplete"
    # the restarted kernel speaks as usual, and nothing of the dead kernel's player holds it up
    wait_for_kernel(page)
    run_cell(page, 0)
    kernel_pid(page, other_than=pid)  # a new kernel process
    run_cell(page, 3)
    wait_done(page, 3, timeout_ms=60_000)
    _, old_end = heard(audio(page, 2))
    new_begin, _ = heard(audio(page, 3))
    assert new_begin >= old_end - 0.005
    assert "done" not in [s["status"] for s in audio(page, 2)["statuses"]]


def test_a_restarted_kernels_cell_does_not_wait_for_the_dead_kernels_audio(page, jupyter):
    """A user's report: after a restart mid-speech the old player still had minutes of audio, and the new
    kernel's cell sat 'queued' behind it. The new cell now plays at once and the old player says it was
    interrupted."""
    page.goto(jupyter.lab("dying.ipynb"))
    wait_for_kernel(page)
    run_cell(page, 0)
    pid = kernel_pid(page)
    run_cell(page, 2)
    # minutes still to play (complete or not: either held the next kernel's cells up)
    wait_player(page, 2, "P.firstScheduledAt !== null && P.info.bufferedEnd > 120000")
    # a long turn's words come in paragraphs of about 100, cut at sentence ends: one <p> of thousands of
    # words made every layout of the page slow while a long cell streamed
    sizes = page.evaluate("""[...document.querySelectorAll('.jp-CodeCell')[2].querySelectorAll('.enb-turn')]
                             .map((p) => p.querySelectorAll('.enb-word').length)""")
    assert len(sizes) >= 2 and max(sizes) <= 100 + 30, sizes
    # and the paragraphs far from the view are skipped (neither laid out nor painted): each highlight move
    # repainted all of them, 15-48 ms a frame late in a long cell. Chromium renders what is within 150 % of
    # the viewport's height of it, so the view is made short for this check
    page.wait_for_function("document.querySelectorAll('.jp-CodeCell')[2].querySelectorAll('.enb-turn').length >= 4")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 150})
    shown = page.evaluate("""(async () => {
        const turns = [...document.querySelectorAll('.jp-CodeCell')[2].querySelectorAll('.enb-turn')];
        turns[0].scrollIntoView({block: 'start'});
        for (let i = 0; i < 3; i++) await new Promise((r) => requestAnimationFrame(r));
        return turns.map((p) => p.querySelector('.enb-word').checkVisibility({contentVisibilityAuto: true}));
    })()""")
    page.set_viewport_size(size)
    assert shown[0] and len(shown) >= 4 and not any(shown[3:]), shown  # the fourth begins 2.5 views down
    page.click("text=Kernel", timeout=10_000)
    page.click("text=Restart Kernel…", timeout=10_000)
    page.click(".jp-Dialog-button.jp-mod-accept", timeout=10_000)
    wait_for_kernel(page)
    run_cell(page, 0)
    kernel_pid(page, other_than=pid)
    run_cell(page, 3)
    wait_done(page, 3, timeout_ms=30_000)  # not after the old player's minutes of audio
    _, old_end = heard(audio(page, 2))
    new_begin, _ = heard(audio(page, 3))
    assert new_begin >= old_end - 0.005  # never over it
    assert page.locator(".jp-CodeCell").nth(2).locator(".enb-status").inner_text().startswith("interrupted")
