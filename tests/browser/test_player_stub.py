"""The player's JS in real headless Chromium under a stub anywidget model (no Jupyter).

Chunks are real espeak-ng speech (numpy tones when the engine is missing), cut
the way a stream cuts them: sometimes inside a word.
"""
from __future__ import annotations

import itertools
import re
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from tests.browser.harness import (
    ARTIFACTS,
    PlayerDriver,
    arrival_time,
    open_player_page,
    save_failure_screenshot,
)

pytestmark = pytest.mark.browser

RATE = 22050
TEXT = ("Hello there! This player streams speech as it arrives. Every word lights up while it is spoken, "
        "and clicking a word jumps to it.")


def _espeak():
    try:
        from eleven_nb.server.engines import load_engine
        from eleven_nb.server.engines.base import SynthesisSettings

        return load_engine("espeak"), SynthesisSettings()
    except (ImportError, OSError, RuntimeError):  # no engine: tones with made-up alignment still exercise the player
        return None, None


ENGINE, SETTINGS = _espeak()


def _tone_utterances(text: str):
    """(text, pcm, char start samples, char end samples) per sentence: 70 ms per character."""
    per = int(0.07 * RATE)
    for sentence in re.findall(r"[^.!?]+[.!?]?\s*", text):
        n = len(sentence) * per
        pcm = (6000 * np.sin(np.arange(n) * 2 * np.pi * 220 / RATE)).astype("<i2")
        starts = np.arange(len(sentence)) * per
        yield sentence, pcm, starts, starts + per


def utterances(text: str):
    if ENGINE is None:
        yield from _tone_utterances(text)
        return
    assert ENGINE.sample_rate == RATE
    for u in ENGINE.synthesize(text, "espeak-en-us", SETTINGS):
        yield u.text, u.audio.astype("<i2"), np.asarray(u.char_starts), np.asarray(u.char_ends)


def speech_chunks(text: str, lane: str = "speech", offset_ms: float = 0.0, pieces: int = 2):
    """Chunks as the kernel feeds the player: [keyword arguments of Player.add_chunk], absolute times,
    each utterance cut into ``pieces`` at a character boundary that may fall inside a word.
    Returns (chunks, end_ms)."""
    ms = 1000.0 / RATE
    at, out = offset_ms, []
    for utext, pcm, starts, ends in utterances(text):
        cuts = [0] + [len(utext) * k // pieces for k in range(1, pieces)] + [len(utext)]
        for a, b in itertools.pairwise(cuts):
            s0 = int(starts[a]) if a < len(utext) else len(pcm)
            s1 = int(starts[b]) if b < len(utext) else len(pcm)
            if b == len(utext):
                s1 = len(pcm)
            out.append({"lane": lane, "at_ms": at + s0 * ms, "pcm": pcm[s0:s1].tobytes(), "sample_rate": RATE,
                        "chars": list(utext[a:b]), "starts_ms": [at + float(x) * ms for x in starts[a:b]],
                        "durations_ms": [float(e - s) * ms for s, e in zip(starts[a:b], ends[a:b])]})
        at += len(pcm) * ms
    return out, at


@pytest.fixture(scope="module")
def speech():
    return speech_chunks(TEXT)


def stream_all(page, chunks, text=TEXT, pid="p1", done=True, **traits) -> PlayerDriver:
    """A real Player begins, streams ``chunks`` and (with ``done``) finishes, into the page."""
    p = PlayerDriver(page, pid, **traits).mount()
    p.begin(text, [{"id": "speech", "label": "Narrator"}])
    p.add_chunks(chunks)
    if done:
        p.finish()
    return p


def test_first_chunk_schedules_at_once_and_the_clock_advances(player_page, speech):
    chunks, _ = speech
    p = PlayerDriver(player_page).mount(text=TEXT)
    p.add_chunks(chunks[:1])
    first_in, first_out = p.firstChunkAt, p.firstScheduledAt
    assert first_out is not None and first_out - first_in < 50  # scheduled in the same task
    log = p.chunkLog
    assert log[0]["receivedAt"] == first_in and log[0]["scheduledAt"] == first_out
    assert p.state == "playing" and p.chunksReceived == 1
    p.add_chunks(chunks[1:6])  # enough audio that the clock cannot run out while we watch it
    t0 = p.audioTime
    time.sleep(0.4)
    t1 = p.audioTime
    assert 250 < t1 - t0 < 600  # the audio clock runs in real time
    assert player_page.errors == []


def test_late_chunk_the_clock_waits_then_resumes_gaplessly(player_page):
    tone = (5000 * np.sin(np.arange(int(0.3 * RATE)) / 8)).astype("<i2").tobytes()  # 300 ms
    chunk = {"lane": "speech", "pcm": tone, "sample_rate": RATE, "chars": [], "starts_ms": [], "durations_ms": []}
    p = PlayerDriver(player_page).mount(text="tone")
    p.add_chunks([{**chunk, "at_ms": 0.0}, {**chunk, "at_ms": 300.0}])  # the second arrives in time
    p.wait("P.state === 'waiting'", 3000)  # 600 ms played, the stream goes on: underrun
    assert p.audioTime == pytest.approx(600, abs=1)
    assert player_page.inner_text(".enb-status") == "buffering…"
    time.sleep(0.3)
    assert p.audioTime == pytest.approx(600, abs=1)  # the clock waits instead of skipping
    p.add_chunks([{**chunk, "at_ms": 600.0}])  # late: it plays from its own start
    assert p.state == "playing"
    time.sleep(0.15)
    assert 600 < p.audioTime < 750
    p.finish()
    p.wait("P.state === 'ended'", 3000)
    assert p.audioTime == pytest.approx(900, abs=1)
    assert [c["scheduledAt"] is not None for c in p.chunkLog] == [True, True, True]


@pytest.mark.parametrize("status", ["autorestarting", "restarting", "dead"])
def test_a_kernel_gone_by_its_own_status_ends_the_stream_where_it_stopped(player_page, status):
    """The kernel's status alone (killed and revived, restarted, dead) tells a streaming player that no
    more audio comes, even when ipywidgets never reports the comm as gone."""
    # 1.5 s: still playing when the status is read, on a slow or busy machine too (300 ms once ended first)
    tone = (5000 * np.sin(np.arange(int(1.5 * RATE)) / 8)).astype("<i2").tobytes()
    chunk = {"lane": "speech", "pcm": tone, "sample_rate": RATE, "chars": [], "starts_ms": [], "durations_ms": []}
    p = PlayerDriver(player_page).mount(text="tone")
    p.add_chunks([{**chunk, "at_ms": 0.0}])
    player_page.evaluate("window.stubKernel.setStatus('busy')")  # not a death: nothing changes
    assert "kernel stopped" not in player_page.inner_text(".enb-status")
    player_page.evaluate(f"window.stubKernel.setStatus('{status}')")
    assert player_page.inner_text(".enb-status") == "playing · kernel stopped: speech incomplete"
    p.wait("P.state === 'ended'", 5000)  # what arrived plays to its end; no waiting for more
    assert player_page.inner_text(".enb-status") == "kernel stopped: speech incomplete"


def test_highlight_follows_the_audio_clock_and_clicks_seek(player_page, speech):
    chunks, _ = speech
    p = stream_all(player_page, chunks, done=False)
    words = p.words
    # words cut by a chunk boundary are whole again
    assert [w["text"] for w in words] == TEXT.split()
    for _ in range(5):
        time.sleep(0.25)
        t, index = player_page.evaluate(f"[{p.handle}.audioTime(), {p.handle}.highlightedIndex]")
        assert index >= 0 and words[index]["start"] <= t + 20  # the highlighted word has begun
        if index + 1 < len(words):
            assert t < words[index + 1]["start"] + 40  # ...and the next has not (a frame of slack)
    player_page.click(".enb-word[data-i='10']")
    assert abs(p.audioTime - words[10]["start"]) < 100
    p.wait("P.highlightedIndex >= 10")
    assert player_page.locator(".enb-word.enb-current").count() == 1
    assert player_page.locator(".enb-word.enb-spoken").count() >= 10
    lags = p.lags
    # the highlight reaches a word within a frame or two of its start (slack for a loaded machine)
    assert lags and sorted(lags)[len(lags) // 2] < 40 and max(lags) < 250, lags
    frames = p.frames
    assert len(frames["at"]) == len(frames["media"]) == len(frames["lag"]) > 10


def test_a_playing_player_draws_only_when_what_it_shows_changes(player_page):
    # a long text, barely begun: the playhead moves a half pixel every second or so, two words in 6 s;
    # what changes is the clock's tenth (10 a second) and those words: not a frame every 16 ms
    text = "Slow words. " + "More to come. " * 600
    p = PlayerDriver(player_page).mount(text=text)
    silence = bytes(2 * RATE * 6)
    p.add_chunks([{"lane": "speech", "at_ms": 0.0, "pcm": silence, "sample_rate": RATE, "chars": list("Slow words."),
                   "starts_ms": [100.0 * i for i in range(5)] + [1500.0 + 100 * i for i in range(6)],
                   "durations_ms": [100.0] * 11}])
    p.wait("P.audioTime() > 300")
    before = len(p.frames["at"])
    time.sleep(1.5)
    frames = p.frames
    drawn = frames["at"][before:]
    assert p.state == "playing" and p.highlightedIndex == 1  # "words." began at 1.5 s
    # 15 clock tenths and a word, each drawn in the first frame after it (sometimes one before it too);
    # a frame every 16 ms would be ~90
    assert 5 <= len(drawn) <= 45, len(drawn)
    assert player_page.errors == []


def test_a_hidden_timeline_asks_for_no_frames(player_page):
    # a 6 s text: the playhead moves a half pixel every few milliseconds, so a shown timeline wants a frame
    # nearly every 16 ms; hidden (show_timeline=False), only the clock's tenths are drawn
    counts = {}
    for shown in (True, False):
        p = PlayerDriver(player_page, f"t{int(shown)}").mount(text="Quick words.", show_timeline=shown)
        p.add_chunks([{"lane": "speech", "at_ms": 0.0, "pcm": bytes(2 * RATE * 6), "sample_rate": RATE,
                       "chars": list("Quick words."), "starts_ms": [100.0 * i for i in range(12)],
                       "durations_ms": [100.0] * 12}])
        p.wait("P.audioTime() > 1500")  # past the words: only the clock and the timeline change
        before = len(p.frames["at"])
        time.sleep(1.5)
        counts[shown] = len(p.frames["at"]) - before
        player_page.click(f".enb-player[data-player-id='t{int(shown)}'] .enb-stop")
    assert counts[True] >= 60 and 5 <= counts[False] <= 30, counts
    assert player_page.errors == []


def test_spoken_and_unspoken_text_differ_and_screen_readers_get_plain_text(player_page, speech):
    chunks, _ = speech
    p = PlayerDriver(player_page).mount(text=TEXT)
    p.begin(TEXT)
    p.add_chunks(chunks[:4])  # two sentences: the rest is not aligned yet
    pending = player_page.inner_text(".enb-pending")
    assert pending and TEXT.endswith(pending.rstrip(" …")[-20:])  # the unspoken tail shows, dimmed
    p.wait("P.highlightedIndex >= 1")
    colour = "(sel) => getComputedStyle(document.querySelector(sel)).color"
    spoken = player_page.evaluate(colour, ".enb-word.enb-spoken")
    unspoken = player_page.evaluate(colour, ".enb-word:not(.enb-spoken):not(.enb-current)")
    current = player_page.evaluate("() => getComputedStyle(document.querySelector('.enb-word.enb-current')).backgroundColor")
    assert spoken != unspoken and current not in ("rgba(0, 0, 0, 0)", "transparent")
    sr = player_page.locator(".enb-sr-only")
    assert sr.get_attribute("aria-live") == "polite" and sr.text_content() == TEXT
    assert player_page.locator(".enb-transcript").get_attribute("aria-hidden") == "true"
    # a token stream grows the transcript
    p.kernel.append_text("speech", " And one more thing.")
    p.flush()
    assert sr.text_content() == TEXT + " And one more thing."
    assert "one more thing." in player_page.inner_text(".enb-pending")


def test_keyboard_timeline_click_and_stop(player_page, speech):
    chunks, total = speech
    p = stream_all(player_page, chunks)
    player_page.focus(".enb-player")
    player_page.keyboard.press(" ")
    assert p.state == "paused"
    paused_at = p.audioTime
    time.sleep(0.3)
    assert p.audioTime == paused_at  # paused: the clock holds
    player_page.keyboard.press("ArrowRight")
    assert p.audioTime == pytest.approx(paused_at + 2000, abs=5)
    player_page.keyboard.press("ArrowLeft")
    assert p.audioTime == pytest.approx(paused_at, abs=5)
    box = player_page.locator(".enb-canvas").bounding_box()
    player_page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + 5)  # like a word: seek and play
    assert p.state == "playing" and p.audioTime == pytest.approx(total * 0.5, rel=0.05)
    player_page.keyboard.press(" ")
    assert p.state == "paused"
    player_page.keyboard.press(" ")
    assert p.state == "playing"
    player_page.click(".enb-play")  # the button pauses too
    assert p.state == "paused"
    player_page.click(".enb-stop")
    assert p.audioTime == 0 and p.state == "paused" and player_page.inner_text(".enb-status") == "stopped"


def dialog(page, **traits) -> PlayerDriver:
    """Alice, then Bob, streamed by a real Player."""
    p = PlayerDriver(page, **traits).mount()
    p.begin("Alice: Hello, I am Alice.\nBob: And I am Bob.", [{"id": "a", "label": "Alice"}, {"id": "b", "label": "Bob"}])
    alice, end = speech_chunks("Hello, I am Alice.", lane="a")
    bob, _ = speech_chunks("And I am Bob.", lane="b", offset_ms=end)
    p.add_chunks(alice + bob)
    return p


def test_two_lanes_labels_colours_and_blocks(player_page):
    p = dialog(player_page)
    assert player_page.locator(".enb-lane").all_inner_texts() == ["Alice", "Bob"]
    assert player_page.locator(".enb-speaker").all_inner_texts() == ["Alice: ", "Bob: "]
    assert [w["lane"] for w in p.words] == ["a"] * 4 + ["b"] * 4  # "Alice." and "And" stay apart
    player_page.wait_for_timeout(100)
    # both rows of the timeline have word blocks drawn on them
    rows = player_page.evaluate("""() => {
        const c = document.querySelector('.enb-canvas'), g = c.getContext('2d'), dpr = devicePixelRatio;
        const lit = (y) => { const d = g.getImageData(0, Math.round(y * dpr), c.width, 1).data;
            const bg = d.slice(d.length - 4); let n = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i] !== bg[0] || d[i + 1] !== bg[1] || d[i + 2] !== bg[2]) n++;
            return n; };
        return [lit(8), lit(28)]; }""")
    assert rows[0] > 20 and rows[1] > 20, rows


def _rgb(css: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", css)[:3])


def _contrast(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """WCAG contrast ratio of two sRGB colours."""
    def lum(c):
        lin = [(v / 255 / 12.92) if v / 255 <= 0.04045 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_each_lane_has_its_own_colour_readable_in_the_theme(browser, theme, request):
    context, page = open_player_page(browser, f"/?theme={theme}")
    try:
        dialog(page)
        colour = "(sel) => [...document.querySelectorAll(sel)].map((e) => getComputedStyle(e).color)"
        speakers, rows = page.evaluate(colour, ".enb-speaker"), page.evaluate(colour, ".enb-lane")
        assert len(set(speakers)) == 2 and speakers == rows  # the transcript and the timeline agree
        bg = _rgb(page.evaluate("getComputedStyle(document.querySelector('.enb-player')).backgroundColor"))
        for c in speakers:
            assert _contrast(_rgb(c), bg) >= 4.5, (theme, c, bg)  # readable as text
    finally:
        save_failure_screenshot(request, page)
        context.close()


def test_status_line_and_readout(player_page):
    p = PlayerDriver(player_page).mount(text="x")
    status = lambda: player_page.inner_text(".enb-status")
    assert status() == "ready"
    p.set("status", "connecting")
    assert status() == "connecting…"
    p.set("status", "streaming")
    assert status() == "streaming"
    p.kernel.set_metrics(ttfa_ms=42.4, rtf=0.05, audio_ms=3200)
    p.flush()
    readout = player_page.inner_text(".enb-readout")
    assert "first audio 42 ms" in readout and "RTF 0.05 (×20 real time)" in readout and "3.2 s audio" in readout
    p.kernel.set_metrics(rtf=0.0014)  # espeak: far faster than real time, still a figure that says so
    p.flush()
    assert "RTF 0.0014 (×710 real time)" in player_page.inner_text(".enb-readout")
    p.kernel.fail("voice_not_found: no voice 'x'")
    p.flush()
    assert status() == "error: voice_not_found: no voice 'x'"
    assert player_page.locator(".enb-status[data-status='error']").count() == 1
    assert player_page.inner_text(".enb-player").count("voice_not_found") == 1  # the error shows once


def test_the_endpoint_speaking_is_shown(player_page):
    p = PlayerDriver(player_page, endpoint_label="local voice server · joe").mount()
    label = player_page.locator(".enb-endpoint")
    assert label.inner_text() == "local voice server · joe"
    assert "local voice server" in label.get_attribute("title")
    p.set("endpoint_label", "api.elevenlabs.io")
    assert label.inner_text() == "api.elevenlabs.io"


def test_downloads_wav_and_vtt(player_page, speech):
    chunks, total = speech
    p = stream_all(player_page, chunks)
    with player_page.expect_download() as info:
        player_page.click(".enb-wav")
    data = Path(info.value.path()).read_bytes()
    riff, size, wave, fmt, fmt_len, pcm_fmt, channels, rate, byte_rate, align, bits, data_id, data_len = \
        struct.unpack("<4sI4s4sIHHIIHH4sI", data[:44])
    assert (riff, wave, fmt, data_id) == (b"RIFF", b"WAVE", b"fmt ", b"data")
    assert (fmt_len, pcm_fmt, channels, rate, byte_rate, align, bits) == (16, 1, 1, RATE, 2 * RATE, 2, 16)
    assert size == len(data) - 8 and data_len == len(data) - 44
    assert abs(data_len // 2 - total * RATE / 1000) < 3
    assert data[44:] == b"".join(c["pcm"] for c in chunks)  # gapless chunks: exactly the audio sent
    with player_page.expect_download() as info:
        player_page.click(".enb-vtt")
    vtt = Path(info.value.path()).read_bytes()
    assert vtt == p.kernel.captions_vtt().encode()  # the kernel's captions, byte for byte
    cues = re.findall(r"\d\d:\d\d:\d\d\.\d\d\d --> \d\d:\d\d:\d\d\.\d\d\d\n(.+?)(?:\n\n|\n?$)", vtt.decode(),
                      re.S)  # a cue's text may take two lines
    assert " ".join(cues).split() == TEXT.split()


def test_dialog_captions_download_equals_the_kernels(player_page):
    p = dialog(player_page)
    p.finish()
    with player_page.expect_download() as info:
        player_page.click(".enb-vtt")
    assert Path(info.value.path()).read_bytes() == p.kernel.captions_vtt().encode()


def test_speak_again_is_sent_to_the_kernel(player_page, speech):
    chunks, _ = speech
    p = stream_all(player_page, chunks[:1])
    calls = []
    p.kernel.on_speak_again(lambda: calls.append(1))
    player_page.click(".enb-again")
    sent = player_page.evaluate("sentBy('p1')")
    assert sent == [{"type": "speak_again"}]
    p.kernel._handle_msg({"content": {"data": {"method": "custom", "content": sent[0]}}, "buffers": []})
    assert calls == [1]


def test_begin_resets_for_a_new_utterance(player_page, speech):
    chunks, _ = speech
    p = stream_all(player_page, chunks)
    p.begin("Again.")
    assert p.chunksReceived == 0 and p.words == [] and player_page.locator(".enb-word").count() == 0
    p.add_chunks(speech_chunks("Again.", pieces=1)[0])
    assert [w["text"] for w in p.words] == ["Again."] and p.state == "playing"


def test_reopened_output_shows_the_transcript_and_replays_from_state(player_page, speech):
    chunks, _ = speech
    live = stream_all(player_page, chunks, pid="live")
    assert live.state == "playing"
    state = live.kernel
    pcm = state.audio
    # a reopened notebook: only the synced state exists, no messages ever arrive
    old = PlayerDriver(player_page, "old").mount(audio=pcm, text=TEXT, status="done", words=state.words,
                                                 captions=state.captions)
    words = state.words
    view = player_page.locator(".cell-output").nth(1)
    assert view.locator(".enb-word").count() == len(words)
    assert old.state == "idle" and view.locator(".enb-status").inner_text() == "done"  # nothing plays by itself
    view.locator(".enb-play").click()
    old.wait("P.audioTime() > 150", 3000)
    assert old.state == "playing" and live.state == "paused"  # started by hand: the other one pauses
    view.locator(".enb-word[data-i='5']").click()
    assert abs(old.audioTime - words[5]["start_ms"]) < 60
    player_page.evaluate("render('old')")  # a second view of the same widget
    second = player_page.locator(".cell-output").nth(2)
    assert second.locator(".enb-word").count() == len(words)
    old.wait("P.highlightedIndex >= 5")
    assert second.locator(".enb-word.enb-current").count() == 1


LONG_TEXT = ("The quick brown fox jumps over the lazy dog, again and again. " * 330)[:20000]


def _long_task_observer(page):
    page.evaluate("""() => { window.longTasks = [];
        new PerformanceObserver((l) => { for (const e of l.getEntries())
          window.longTasks.push({start: Math.round(e.startTime), duration: Math.round(e.duration)}); })
          .observe({type: "longtask"}); }""")


def _long_tasks(page, marks):
    """Long tasks, each with the test step (a page-clock mark) it began after."""
    tasks = page.evaluate("window.longTasks")
    return [(t["duration"], max((m for m in marks if m[1] <= t["start"]), key=lambda m: m[1], default=None))
            for t in tasks]


# The 50 ms goal is measured by bench/bench_notebook.py; here a wide margin only catches work that grows
# with the transcript (a re-render per chunk takes hundreds of ms), so a busy CI machine cannot flake it.
LONG_TASK_GUARD_MS = 300


def _mark(page, marks, name):
    marks.append((name, page.evaluate("performance.now()")))


def test_long_transcript_streams_without_long_tasks(player_page):
    page = player_page
    _long_task_observer(page)
    marks = []
    _mark(page, marks, "mount")
    p = PlayerDriver(page, "big").mount(text=LONG_TEXT)
    step, at = 500, 0.0
    for i in range(0, len(LONG_TEXT), step):  # one task per chunk, as comm messages arrive
        piece = LONG_TEXT[i:i + step]
        p.kernel.add_chunk("speech", at, b"", RATE, list(piece), [at + 60 * k for k in range(len(piece))],
                           [60] * len(piece))
        [(data, _)] = p.outbox
        p.outbox.clear()
        # real-size buffers: silence as long as the chunk's speech (30 s, 1.3 MB), made in the page
        _mark(page, marks, f"chunk at {i}")
        p.deliver_silence(data["content"], 2 * int(RATE * 0.06 * len(piece)))
        at += 60 * len(piece)
    _mark(page, marks, "settle")
    page.wait_for_timeout(600)
    assert page.locator(".enb-word").count() == len(LONG_TEXT.split())
    _mark(page, marks, "seek")
    page.click(f".enb-word[data-i='{len(LONG_TEXT.split()) - 5}']")  # a seek across the whole transcript
    page.wait_for_timeout(300)
    assert [t for t in _long_tasks(page, marks) if t[0] > LONG_TASK_GUARD_MS] == []


def test_long_transcript_restores_from_state_without_long_tasks(player_page):
    page = player_page
    _long_task_observer(page)
    words, at = [], 0.0
    for w in LONG_TEXT.split():
        words.append({"lane": "speech", "text": w, "start_ms": at, "end_ms": at + 60 * len(w)})
        at += 60 * (len(w) + 1)
    marks = []
    _mark(page, marks, "mount")
    PlayerDriver(page, "big").mount(text=LONG_TEXT, status="done", words=words)
    page.wait_for_timeout(500)
    assert page.locator(".enb-word").count() == len(words)
    assert [t for t in _long_tasks(page, marks) if t[0] > LONG_TASK_GUARD_MS] == []


def test_blocked_audio_says_so_and_starts_on_click(blocking_browser, request):
    """The browser's real autoplay policy: no gesture yet, so the AudioContext the page made stays
    suspended. Nothing may call into the page before the check (Playwright's calls are gestures)."""
    context, page = open_player_page(blocking_browser, "/#autoplay")  # mounts and plays from page code
    if True:
        try:
            page.wait_for_timeout(1000)
            assert page.locator(".enb-unlock").is_visible()
            assert "click to enable audio" in page.inner_text(".enb-unlock").lower()
            p = PlayerDriver(page)
            assert p.state == "blocked" and p.info["ctx"] == "suspended" and p.audioTime == 0
            page.click(".enb-unlock")
            p.wait("P.info.ctx === 'running'", 3000)
            assert not page.locator(".enb-unlock").is_visible()
            p.wait("P.audioTime() > 100", 3000)  # and it plays
        finally:
            save_failure_screenshot(request, page)
            context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_looks_right_in_jupyterlab_themes(browser, speech, theme, request):
    """JupyterLab's own theme CSS: the player follows it. Screenshots are kept for a person to look at."""
    context, page = open_player_page(browser, f"/?theme={theme}", viewport={"width": 900, "height": 420})
    try:
        chunks, _ = speech
        lanes = [{"id": "speech", "label": "Narrator"}]
        p = PlayerDriver(page).mount()
        p.begin(TEXT, lanes)
        p.kernel.set_metrics(ttfa_ms=118, rtf=0.06)
        p.add_chunks(chunks[:5])
        p.wait("P.highlightedIndex >= 3", 5000)
        page.focus(".enb-player")
        page.keyboard.press(" ")  # hold still for the picture
        page.wait_for_timeout(100)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"player-{theme}.png"))
        bg = page.evaluate("getComputedStyle(document.querySelector('.enb-player')).backgroundColor")
        fg = page.evaluate("getComputedStyle(document.querySelector('.enb-word.enb-spoken')).color")
        lum = lambda c: sum(int(x) for x in re.findall(r"\d+", c)[:3]) / 3
        if theme == "dark":
            assert lum(bg) < 80 and lum(fg) > 150, (bg, fg)
        else:
            assert lum(bg) > 200 and lum(fg) < 100, (bg, fg)
        assert page.errors == []
    finally:
        save_failure_screenshot(request, page)
        context.close()


# --- one playback order per kernel: what is audible, from the recorded AudioBufferSourceNodes -----------

SHORT = "Hello there, this is the first cell."
SECOND = "And this is the second one."
TOLERANCE_S = 0.005  # back-to-back sources of one stream touch within a few ms


def _watch_statuses(page):
    """Record each player's status changes with the audio clock's time (seconds)."""
    page.evaluate("""() => { window.__statusLog = [];
        new MutationObserver((records) => { for (const r of records) {
            const el = r.target; if (!el.classList.contains('enb-player')) continue;
            window.__statusLog.push({ id: el.dataset.playerId, status: el.dataset.status,
                                      t: window.__elevenNbAudio.ctx.currentTime }); } })
          .observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-status'] }); }""")


def _statuses(page, pid):
    out = []
    for entry in page.evaluate("window.__statusLog"):
        if entry["id"] == pid and (not out or out[-1][0] != entry["status"]):
            out.append((entry["status"], entry["t"]))
    return out


def _queued_player(page, pid, text, queue="kernel-1", interrupt=False, finish=True):
    p = PlayerDriver(page, pid, queue_id=queue).mount()
    p.begin(text, [{"id": "speech", "label": "Narrator"}], interrupt=interrupt)
    p.add_chunks(speech_chunks(text)[0])
    if finish:
        p.finish()
    return p


def _status_of(page, pid):
    return page.inner_text(f".enb-player[data-player-id='{pid}'] .enb-status")


def test_players_of_one_kernel_play_one_after_another(player_page):
    page = player_page
    _watch_statuses(page)
    first = _queued_player(page, "c1", SHORT)
    second = _queued_player(page, "c2", SECOND)  # all its audio is here at once: it still waits
    assert first.state == "playing" and second.state == "idle"
    assert _status_of(page, "c1") == "playing"  # all audio received, still playing
    assert _status_of(page, "c2") == "queued"
    second.wait("P.state === 'ended'", 15_000)
    a, b = first.intervals(), second.intervals()
    assert a and b
    first_end = max(end for _, end in a)
    assert b[0][0] >= first_end - TOLERANCE_S  # never on top of the first
    assert b[0][0] - first_end < 0.1  # and at once when the first has finished playing
    for pid, intervals in (("c1", a), ("c2", b)):
        log = _statuses(page, pid)
        names = [name for name, _ in log]
        assert names[-2:] == ["playing", "done"], log
        done_at = log[-1][1]
        assert done_at >= max(end for _, end in intervals) - TOLERANCE_S  # done only once it was heard
    names = [n for n, _ in _statuses(page, "c2")]
    assert names.index("queued") < names.index("playing")


def test_an_interrupt_silences_every_earlier_player_at_once(player_page):
    page = player_page
    _watch_statuses(page)
    first = _queued_player(page, "c1", TEXT)  # long: still playing when the next cell interrupts
    waiting = _queued_player(page, "c2", SECOND)
    first.wait("P.audioTime() > 400", 5000)
    third = _queued_player(page, "c3", SHORT, interrupt=True, finish=False)
    sent_at = arrival_time(page, "c3", "begin")
    a = first.intervals()
    assert max(end for _, end in a) <= sent_at + 0.1  # silent within 100 ms of the message reaching the page
    assert waiting.intervals() == []  # the queued one never plays
    assert _status_of(page, "c1") == "interrupted" and _status_of(page, "c2") == "interrupted"
    c = third.intervals()
    assert c and c[0][0] - arrival_time(page, "c3", "chunk") < 0.1  # the interrupting cell plays at once
    assert _status_of(page, "c3") == "streaming"  # the kernel has not finished it
    third.finish()
    third.wait("P.state === 'ended'", 10_000)
    assert _status_of(page, "c3") == "done" and waiting.intervals() == []


def test_a_player_started_by_hand_pauses_the_others_and_stop_moves_the_queue(player_page):
    page = player_page
    _watch_statuses(page)
    old = _queued_player(page, "c0", "Old.")
    old.wait("P.state === 'ended'", 5000)
    first = _queued_player(page, "c1", TEXT)
    second = _queued_player(page, "c2", SHORT)
    first.wait("P.audioTime() > 300", 5000)
    page.click(".enb-player[data-player-id='c0'] .enb-word")  # by hand: plays now, pauses c1
    assert old.state == "playing" and first.state == "paused"
    assert _status_of(page, "c1") == "paused" and _status_of(page, "c2") == "queued"
    old.wait("P.state === 'ended'", 5000)
    first.wait("P.state === 'playing'", 2000)  # the queue goes on where it was
    paused_at = first.audioTime
    page.click(".enb-player[data-player-id='c1'] .enb-stop")  # ■: stopped, and the queue moves on
    assert _status_of(page, "c1") == "stopped"
    second.wait("P.state === 'playing'", 2000)
    assert paused_at > 300
    # never two at once: no two players' sources overlap
    spans = sorted((b, e, pid) for pid, p in (("c0", old), ("c1", first), ("c2", second)) for b, e in p.intervals())
    for (b1, e1, p1), (b2, _, p2) in itertools.pairwise(spans):
        if p1 != p2:
            assert b2 >= e1 - TOLERANCE_S, (p1, p2, e1, b2)


def test_speak_again_plays_now_and_pauses_the_queue(player_page):
    page = player_page
    old = _queued_player(page, "c0", "Old.")
    old.wait("P.state === 'ended'", 5000)
    first = _queued_player(page, "c1", TEXT)
    first.wait("P.audioTime() > 300", 5000)
    page.click(".enb-player[data-player-id='c0'] .enb-again")
    assert page.evaluate("sentBy('c0')") == [{"type": "speak_again"}]
    assert first.state == "playing"  # nothing changes until the kernel speaks again
    old.begin("Old, once more.", [{"id": "speech", "label": "Narrator"}])  # what the kernel's callback does
    old.add_chunks(speech_chunks("Old, once more.")[0])
    assert old.state == "playing" and first.state == "paused"  # started by hand: now, alone
    old.finish()
    old.wait("P.state === 'ended'", 5000)
    first.wait("P.state === 'playing'", 2000)
    b = max(end for _, end in old.intervals())
    assert all(begin >= b - TOLERANCE_S for begin, _ in first.intervals()[-1:])
