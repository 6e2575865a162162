"""The player's JS in real headless Chromium, fed real espeak-ng speech through a stub model."""
from __future__ import annotations

import json
import time

import numpy as np

from eleven_nb.alignment import Timeline
from eleven_nb.server.engines import load_engine
from eleven_nb.server.engines.base import SynthesisSettings
from tests.browser.harness import ORIGIN, b64, serve_player

TEXT = ("Hello there! This player streams speech as it arrives. Every word lights up while it is spoken, "
        "and clicking a word jumps to it. ")


def speech_chunks(text: str, lane: str = "speech", offset_ms: float = 0.0):
    """Real speech as the kernel would send it: (message, pcm bytes) per utterance, absolute times."""
    engine = load_engine("espeak")
    at, out = offset_ms, []
    for u in engine.synthesize(text, "espeak-en-us", SynthesisSettings()):
        ms = 1000.0 / engine.sample_rate
        msg = {"type": "chunk", "lane": lane, "at_ms": at, "sample_rate": engine.sample_rate, "chars": list(u.text),
               "starts_ms": [at + s * ms for s in u.char_starts], "durations_ms": [(e - s) * ms for s, e in
                                                                                 zip(u.char_starts, u.char_ends)]}
        out.append((msg, u.audio.astype("<i2").tobytes()))
        at += len(u.audio) * ms
    return out, at


def mount(page, pid="p1", **state):
    page.evaluate("(s) => mount(s)", {"player_id": pid, **state})


def deliver(page, pid, msg, pcm=None):
    page.evaluate("([id, m, b]) => deliver(id, m, b)", [pid, msg, None if pcm is None else b64(pcm)])


def handle(page, pid="p1"):
    return f"window.__elevenPlayers[{json.dumps(pid)}]"


def stream(page, text=TEXT, pid="p1"):
    mount(page, pid, text=text, lanes=[{"id": "speech", "label": "speech"}])
    deliver(page, pid, {"type": "begin", "text": text, "lanes": []})
    chunks, total = speech_chunks(text)
    for msg, pcm in chunks:
        deliver(page, pid, msg, pcm)
    return chunks, total


def test_first_chunk_plays_at_once_and_the_clock_advances(player_page):
    page = player_page
    mount(page, text=TEXT)
    chunks, _ = speech_chunks(TEXT)
    deliver(page, "p1", chunks[0][0], chunks[0][1])
    h = handle(page)
    first = page.evaluate(f"[{h}.firstChunkAt, {h}.firstScheduledAt]")
    assert first[1] is not None and first[1] - first[0] < 50  # scheduled within the same task
    t0 = page.evaluate(f"{h}.audioTime()")
    time.sleep(0.4)
    t1 = page.evaluate(f"{h}.audioTime()")
    assert 250 < t1 - t0 < 600  # the audio clock runs in real time
    assert page.errors == []


def test_highlight_follows_the_audio_clock_and_clicks_seek(player_page):
    page = player_page
    stream(page)
    h = handle(page)
    words = page.evaluate(f"{h}.words")
    assert [w["text"] for w in words][:2] == ["Hello", "there!"]
    for _ in range(5):
        time.sleep(0.3)
        t, index = page.evaluate(f"[{h}.audioTime(), {h}.highlightedIndex]")
        assert index >= 0 and words[index]["start"] <= t + 20  # the highlighted word has begun
        if index + 1 < len(words):
            assert t < words[index + 1]["start"] + 40  # ...and the next has not (one frame of slack)
    page.click(".enb-word[data-i='10']")
    t = page.evaluate(f"{h}.audioTime()")
    assert abs(t - words[10]["start"]) < 100
    page.wait_for_function(f"{h}.highlightedIndex >= 10")
    assert page.locator(".enb-word.enb-current").count() == 1
    assert page.locator(".enb-word.enb-spoken").count() >= 10


def test_keyboard_timeline_click_and_controls(player_page):
    page = player_page
    _, total = stream(page)
    h = handle(page)
    page.focus(".enb-player")
    page.keyboard.press(" ")
    assert page.evaluate(f"{h}.state.playing") is False
    paused_at = page.evaluate(f"{h}.audioTime()")
    time.sleep(0.3)
    assert page.evaluate(f"{h}.audioTime()") == paused_at  # paused: the clock holds
    page.keyboard.press("ArrowRight")
    assert abs(page.evaluate(f"{h}.audioTime()") - (paused_at + 2000)) < 5
    box = page.locator(".enb-lanes").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    assert abs(page.evaluate(f"{h}.audioTime()") - total * 0.5) < total * 0.05
    page.keyboard.press(" ")
    assert page.evaluate(f"{h}.state.playing") is True
    page.click(".enb-stop")
    assert page.evaluate(f"{h}.audioTime()") == 0


def test_status_readout_and_lanes(player_page):
    page = player_page
    mount(page, text="A: one\nB: two", lanes=[{"id": "Alice", "label": "Alice"}, {"id": "Bob", "label": "Bob"}])
    alice, end = speech_chunks("Hello, I am Alice. ", lane="Alice")
    bob, _ = speech_chunks("And I am Bob. ", lane="Bob", offset_ms=end)
    for msg, pcm in alice + bob:
        deliver(page, "p1", msg, pcm)
    assert page.locator(".enb-lane").count() == 2
    assert page.locator(".enb-speaker").all_inner_texts() == ["Alice: ", "Bob: "]
    page.evaluate("setTrait('p1', 'metrics', {ttfa_ms: 42.4, rtf: 0.05})")
    page.evaluate("setTrait('p1', 'status', 'error'); setTrait('p1', 'status_message', 'voice_not_found')")
    assert "first audio 42 ms" in page.inner_text(".enb-readout") and "RTF 0.05" in page.inner_text(".enb-readout")
    assert page.inner_text(".enb-status") == "error: voice_not_found"


def test_downloads_wav_and_vtt(player_page):
    page = player_page
    chunks, total = stream(page)
    with page.expect_download() as info:
        page.click(".enb-wav")
    data = open(info.value.path(), "rb").read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    samples = (len(data) - 44) // 2
    assert abs(samples - total * 22.05) < 30
    assert data[44:44 + 200] == chunks[0][1][:200]
    with page.expect_download() as info:
        page.click(".enb-vtt")
    vtt = open(info.value.path(), encoding="utf-8").read()
    assert vtt.startswith("WEBVTT") and "Hello there!" in vtt and "-->" in vtt


def test_rerendered_output_shows_the_transcript_and_replays(player_page):
    page = player_page
    chunks, total = speech_chunks(TEXT)
    timeline = Timeline()
    for msg, _ in chunks:
        timeline.chars.extend(msg["chars"]); timeline.starts_ms.extend(msg["starts_ms"])
        timeline.durations_ms.extend(msg["durations_ms"])
    words = [{"lane": "speech", "text": w.text, "start_ms": w.start_ms, "end_ms": w.end_ms} for w in timeline.words()]
    pcm = b"".join(p for _, p in chunks)
    # a reopened notebook: only the synced state exists, no messages
    page.evaluate("""([words, audio]) => {
        const raw = atob(audio); const bytes = new Uint8Array(raw.length);
        for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
        mount({player_id: "old", text: "x", status: "done", words, audio: new DataView(bytes.buffer)});
    }""", [words, b64(pcm)])
    assert page.locator(".enb-word").count() == len(words)
    h = handle(page, "old")
    page.evaluate(f"{h}.togglePlay()")
    time.sleep(0.3)
    assert page.evaluate(f"{h}.audioTime()") > 100
    page.evaluate("rerender('old')")  # a second view of the same widget
    assert page.locator(".enb-word").count() == 2 * len(words)


def test_long_transcript_work_per_chunk_does_not_grow(player_page):
    """A 20,000-character transcript streams in with the same DOM work per chunk at the end as at the
    start (no re-rendering of what is already there). The time it takes is measured by
    bench/bench_notebook.py, not asserted here."""
    page = player_page
    page.evaluate("""() => { window.mutations = 0;
        new MutationObserver((records) => { for (const r of records) window.mutations += r.addedNodes.length
                                                                              + r.removedNodes.length; })
          .observe(document.body, {childList: true, subtree: true, characterData: true}); }""")
    text = ("The quick brown fox jumps over the lazy dog, again and again. " * 330)[:20000]
    mount(page, "big", text=text)
    step, at, per_chunk = 500, 0.0, []
    for i in range(0, len(text), step):
        piece = text[i:i + step]
        msg = {"type": "chunk", "lane": "speech", "at_ms": at, "sample_rate": 22050, "chars": list(piece),
               "starts_ms": [at + 50 * k for k in range(len(piece))], "durations_ms": [50] * len(piece)}
        before = page.evaluate("window.mutations")
        deliver(page, "big", msg, np.zeros(2205, np.int16).tobytes())
        page.evaluate("() => new Promise((r) => setTimeout(r, 0))")  # let the observer report
        per_chunk.append(page.evaluate("window.mutations") - before)
        at += 50 * len(piece)
    assert page.locator(".enb-word").count() > 3000
    assert max(per_chunk[-5:]) <= 1.5 * max(per_chunk[1:6])  # the work per chunk stays flat
    assert page.errors == []


# Headless Chromium here lets Web Audio start without a gesture even with a strict
# --autoplay-policy, so the policy is put back by a page script: a context built
# before any user activation starts suspended, and resume() needs an active gesture.
AUTOPLAY_POLICY = """
(() => {
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    constructor(...args) { super(...args); if (!navigator.userActivation.hasBeenActive) super.suspend(); }
    resume() {
      return navigator.userActivation.isActive ? super.resume()
        : Promise.reject(new DOMException("autoplay blocked", "NotAllowedError"));
    }
  };
})();
"""


def test_blocked_audio_says_so_and_starts_on_click(browser):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(AUTOPLAY_POLICY)
        serve_player(page)
        page.goto(ORIGIN + "/#blocked")  # the page mounts and feeds the player by itself
        # no polling here: Playwright's polling counts as a user gesture and would unblock the audio
        page.wait_for_timeout(1000)
        assert page.locator(".enb-unlock").is_visible()
        assert page.evaluate(f"{handle(page)}.state.ctx") == "suspended"
        assert "blocked audio" in page.inner_text(".enb-unlock")
        page.click(".enb-unlock")
        page.wait_for_function(f"{handle(page)}.state.ctx === 'running'")
        assert not page.locator(".enb-unlock").is_visible()
        page.wait_for_function(f"{handle(page)}.audioTime() > 100")  # and it plays
    finally:
        context.close()
