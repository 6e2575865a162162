"""%%speak end to end: real JupyterLab 4 and Notebook 7, a real kernel, the local piper voice, Chromium."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from tests.browser.jupyter_app import JupyterApp, run_all, wait_for_kernel

pytestmark = pytest.mark.piper

PARAGRAPH = ("Streaming speech lets you hear the first words while the rest is still being made. "
             "This paragraph is long enough that the voice needs a moment to finish it, so the first sentence "
             "should already be playing while the later ones are synthesized. Every word lights up as it is "
             "spoken, and clicking a word jumps straight to it. The timeline below shows each word as a block.")
SAME = "The same sentence, spoken twice, at two speeds."
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext eleven_nb"),
        nbformat.v4.new_code_cell("%%speak\n" + PARAGRAPH),
        nbformat.v4.new_code_cell("%%speak\n" + SAME),
        nbformat.v4.new_code_cell("import eleven_nb\neleven_nb.voice_controls()"),
        nbformat.v4.new_code_cell("%%speak --dialog --voices Alice=joe,Bob=espeak-en-gb\n"
                                  "Alice: Hello, I am Alice.\nBob: And I am Bob."),
        nbformat.v4.new_code_cell("%%speak\n" + SAME),
    ]
    return nb


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    root = tmp_path_factory.mktemp("jupyter") / "nb"
    root.mkdir()
    nbformat.write(notebook(), root / "speak.ipynb")
    shutil.copy(NOTEBOOKS / "01-quickstart.ipynb", root / "01-quickstart.ipynb")
    app = JupyterApp(root, env={"ELEVEN_NB_ENGINE": "piper"})
    yield app
    app.stop()


def player_in_cell(page, index: int) -> str:
    """JS expression for the debug handle of the player in code cell ``index``."""
    return (f"(window.__elevenPlayers || {{}})[document.querySelectorAll('.jp-CodeCell')[{index}]"
            f"?.querySelector('.enb-player')?.dataset.playerId]")


def wait_player(page, index: int, condition: str, timeout_ms: int = 60_000) -> None:
    handle = player_in_cell(page, index)
    page.wait_for_function(f"(() => {{ const p = {handle}; return !!p && ({condition.replace('P', 'p')}); }})()",
                           timeout=timeout_ms)


def check_streaming_player(page) -> None:
    h = player_in_cell(page, 1)
    wait_player(page, 1, "P.firstScheduledAt !== null")
    # the first audio was scheduled before the last chunk of the cell had even arrived
    wait_player(page, 1, "P.info.bufferedEnd > 15000")
    first, received = page.evaluate(f"[{h}.firstScheduledAt, {h}.chunksReceived]")
    last_arrival = page.evaluate(f"(() => {{ const p = {h}; return p.words.length; }})()")
    assert first is not None and received > 1 and last_arrival > 20
    t0 = page.evaluate(f"{h}.audioTime()")
    time.sleep(0.5)
    t1 = page.evaluate(f"{h}.audioTime()")
    assert 300 < t1 - t0 < 900  # the audio clock advances in real time
    words = page.evaluate(f"{h}.words")
    t, index = page.evaluate(f"[{h}.audioTime(), {h}.highlightedIndex]")
    assert index >= 0 and words[index]["start"] <= t + 20
    assert index + 1 >= len(words) or t < words[index + 1]["start"] + 40  # highlight follows the clock
    cell = page.locator(".jp-CodeCell").nth(1)
    cell.locator(".enb-word[data-i='30']").click()
    assert abs(page.evaluate(f"{h}.audioTime()") - words[30]["start"]) < 150  # clicking a word seeks


def save_player_screenshot(page, index: int, name: str) -> None:
    """A picture of the player in code cell ``index``, for a person to look at (tests/artifacts/)."""
    from tests.browser.harness import ARTIFACTS
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(".jp-CodeCell").nth(index).locator(".enb-player").screenshot(path=str(ARTIFACTS / name))


def test_jupyterlab_speak_end_to_end(browser, jupyter, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 2400})
    try:
        page.goto(jupyter.lab("speak.ipynb"))
        wait_for_kernel(page)
        run_all(page)
        check_streaming_player(page)
        save_player_screenshot(page, 1, "jupyterlab-player.png")
        # the first load also times: first audio scheduled in the browser after the cell ran
        first = page.evaluate(f"{player_in_cell(page, 1)}.firstScheduledAt")
        assert first > 0
        # dialog: a lane per speaker
        wait_player(page, 4, "P.info.bufferedEnd > 1000")
        page.wait_for_function("document.querySelectorAll('.jp-CodeCell')[4].querySelectorAll('.enb-lane').length === 2")
        # a slider change alters the next request: slow down, run the last cell again, compare with cell 2
        wait_player(page, 2, "P.info.bufferedEnd > 1000")
        before = page.evaluate(f"{player_in_cell(page, 2)}.info.bufferedEnd")
        handle = page.locator(".jp-CodeCell").nth(3).locator(".widget-slider", has_text="speed").locator(".noUi-handle")
        handle.focus()
        for _ in range(6):
            page.keyboard.press("ArrowLeft")  # 1.00 -> 0.70
        page.wait_for_timeout(500)
        last = page.locator(".jp-CodeCell").nth(5)
        last.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        page.wait_for_timeout(1000)
        wait_player(page, 5, "P.info.bufferedEnd > 1000 && P.words.length >= 8")
        page.wait_for_function(
            "document.querySelectorAll('.jp-CodeCell')[5].querySelector('.enb-status')?.textContent === 'done'",
            timeout=60_000)
        after = page.evaluate(f"{player_in_cell(page, 5)}.info.bufferedEnd")
        assert after > before * 1.2, (before, after)  # 1/0.7 = 1.43 expected; piper varies ~10 %
    except Exception:
        page.screenshot(path=str(tmp_path / "lab-failure.png"))
        from tests.browser.harness import ARTIFACTS
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-failure.png"), full_page=True)
        raise
    finally:
        page.close()


def test_notebook7_runs_the_quickstart_tutorial(browser, jupyter):
    """A tutorial notebook, as a reader runs it: Notebook 7, Run All, the players play and highlight."""
    page = browser.new_page(viewport={"width": 1280, "height": 2400})
    try:
        page.goto(jupyter.notebook7("01-quickstart.ipynb"))
        wait_for_kernel(page)
        run_all(page)
        h = player_in_cell(page, 1)
        wait_player(page, 1, "P.firstScheduledAt !== null && P.words.length > 10")
        t0 = page.evaluate(f"{h}.audioTime()")
        time.sleep(0.5)
        t1, index = page.evaluate(f"[{h}.audioTime(), {h}.highlightedIndex]")
        words = page.evaluate(f"{h}.words")
        assert 300 < t1 - t0 < 900 and words[0]["text"] == "Hello"
        save_player_screenshot(page, 1, "notebook7-player.png")
        assert index >= 0 and words[index]["start"] <= t1 + 20
        wait_player(page, 5, "P.words.length === 5", timeout_ms=90_000)  # speak() from code, last cell
        page.wait_for_function("document.querySelectorAll('.jp-CodeCell')[5].querySelector('.enb-status')"
                               "?.textContent === 'done'", timeout=60_000)
        errors = page.evaluate("Array.from(document.querySelectorAll('.jp-OutputArea-output[data-mime-type="
                               "\"application/vnd.jupyter.stderr\"]')).map(e => e.textContent)")
        assert not any("Error" in e for e in errors), json.dumps(errors)[:500]
        assert page.locator(".widget-slider").count() >= 4  # the voice sliders rendered
    except Exception:
        from tests.browser.harness import ARTIFACTS
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "notebook7-failure.png"), full_page=True)
        raise
    finally:
        page.close()
