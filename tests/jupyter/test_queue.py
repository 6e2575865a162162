"""The kernel's speech queue: order, interrupts, kernel interrupts during --wait, failures (real espeak server)."""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import threading
import time

import pytest

from eleven_nb.jupyter.options import SpeakOptions
from eleven_nb.jupyter.queue import SpeechFailed, still_playing
from eleven_nb.jupyter.speaker import SpeechJob
from tests.jupyter.conftest import drain


def slow_tokens(words: int = 200, pause_s: float = 0.05):
    """An async token stream that keeps a job busy for ``words * pause_s`` seconds."""
    async def tokens():
        for i in range(words):
            await asyncio.sleep(pause_s)
            yield f"word{i % 10} "
    return tokens()


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def connections(server) -> int:
    return len(server.state.connections)


def test_interrupt_cancels_the_queued_job_and_stops_the_running_one(ext, espeak_server):
    running = ext.speak(slow_tokens())
    wait_until(lambda: running.chunks())  # it is speaking
    queued = ext.speak("I am queued behind the long answer, and must never be heard.")
    assert queued.kinds() == []  # waiting: nothing sent yet
    urgent = ext.speak("Stop that, and listen to me.", interrupt=True, wait=True)
    assert urgent.status == "done" and urgent.chunks()
    for player in (running, queued):
        assert player.status == "done" and player.status_message == "interrupted"
        assert "stop" in player.kinds()
    assert "begin" not in queued.kinds() and not queued.chunks()  # never started, never played
    chunks_when_stopped = len(running.chunks())
    time.sleep(0.5)
    assert len(running.chunks()) == chunks_when_stopped  # nothing more arrives for the stopped job
    wait_until(lambda: connections(espeak_server) == 0)  # their sockets are closed at the server
    if "interrupt" in urgent.sent[0][0]:  # the browser silences this kernel's earlier players
        assert urgent.sent[0][0]["interrupt"] is True


def press_stop(player) -> None:
    """What the player's ■ sends the kernel."""
    player._handle_msg({"content": {"data": {"method": "custom", "content": {"type": "stopped"}}}, "buffers": []})


def test_the_stop_button_stops_making_that_speech_so_the_next_cell_does_not_wait(ext, espeak_server):
    running = ext.speak(slow_tokens())  # 10 s of tokens
    wait_until(lambda: running.chunks())
    queued = ext.speak(slow_tokens())  # 10 s more
    after = ext.speak("The cell after them speaks at once.")
    press_stop(queued)  # stopped by hand before it started: it never starts
    press_stop(running)
    wait_until(lambda: after.status == "done", timeout=8)  # not after the 20 s of the two long ones
    assert after.chunks()
    for player in (running, queued):
        # the browser already says "stopped" (■); the kernel does not send it a "stop" that would say "interrupted"
        assert player.status == "done" and player.status_message == "stopped" and "stop" not in player.kinds()
    assert not queued.chunks() and "begin" not in queued.kinds()
    count = len(running.chunks())
    time.sleep(0.5)
    assert len(running.chunks()) == count  # nothing more is made for it
    wait_until(lambda: connections(espeak_server) == 0)


def test_a_later_interrupt_stops_an_interrupting_job_and_whatever_queued_behind_it(ext):
    first = ext.speak(slow_tokens())
    wait_until(lambda: first.chunks())
    second = ext.speak(slow_tokens(), interrupt=True)
    wait_until(lambda: second.chunks())
    third = ext.speak("Queued behind the interrupting job.")
    last = ext.speak("The last word.", interrupt=True, wait=True)
    assert last.status == "done" and last.status_message == ""
    for player in (first, second, third):
        assert player.status_message == "interrupted", player.kinds()
    assert not third.chunks()
    assert ext.queue.pending == []


def test_jobs_run_in_order_and_a_failure_does_not_stop_the_next(ext, capfd):
    bad = ext.speak("Hello.", voice="no-such-voice")
    good = ext.speak("Still spoken after the failure.", wait=True)
    assert bad.status == "error" and "no-such-voice" in bad.status_message
    assert good.status == "done" and good.chunks()
    assert "no-such-voice" not in capfd.readouterr().err  # shown once: in the player, not also on stderr


def test_wait_makes_a_failed_cell_fail_with_one_line(ip, ext, players, capfd):
    result = ip.run_cell("%%speak --wait --voice no-such-voice\nHello.")
    error = result.error_in_exec
    assert isinstance(error, SpeechFailed) and "no-such-voice" in str(error)
    assert error._render_traceback_() == [f"SpeechFailed: {error}"]  # IPython shows this line, no traceback
    # shown once: the cell's error has the message; the player's status line points to it
    assert players[-1].status == "error" and players[-1].status_message == "failed: see the error below"
    assert "no-such-voice" not in capfd.readouterr().err
    with pytest.raises(SpeechFailed, match="nope"):  # speak(..., wait=True) from code too
        ext.speak("Hi.", voice="nope", wait=True)


def test_a_kernel_interrupt_during_wait_stops_the_speech(ip, ext, players):
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))  # what Jupyter's ■ sends the kernel
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            ext.speak(slow_tokens(words=400), wait=True)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5
    player = players[-1]
    wait_until(lambda: player.status_message == "interrupted", timeout=5)
    assert "stop" in player.kinds() and ext.queue.pending == []
    count = len(player.chunks())
    time.sleep(0.5)
    assert len(player.chunks()) == count


def test_wait_waits_for_synthesis_of_earlier_cells_too(ip, ext, players):
    ip.run_cell_magic("speak", "", "The first cell. " * 5)
    ip.run_cell_magic("speak", "--wait", "The second cell waits for its own synthesis.")
    first, second = players[-2:]
    assert second.status == "done" and first.status == "done"  # the queue ran them in order
    drain(ext)


def test_a_cell_ends_once_its_first_chunk_is_out_unless_it_is_queued(ip, ext, players, monkeypatch):
    from eleven_nb.jupyter import extension

    monkeypatch.setattr(extension, "FIRST_CHUNK_HOLD_S", 10.0)  # a bound long enough to show
    started = time.monotonic()
    ip.run_cell_magic("speak", "", "The first cell ends when its first audio has gone to the browser. " * 100)
    job = ext.history[-1]
    assert job.first_chunk_sent.is_set() and players[-1].chunks()  # held until its first chunk was out,
    assert not job.future.done() and time.monotonic() - started < 10  # not until everything was spoken
    ext.queue.stop_all()
    running = ext.speak(slow_tokens(words=100))  # speaks for about 5 s
    wait_until(lambda: running.chunks())
    started = time.monotonic()
    ip.run_cell_magic("speak", "", "This cell is queued behind the one speaking: it ends at once.")
    assert time.monotonic() - started < 3 and not players[-1].chunks()  # not held (5 s or more if it were)
    ext.queue.stop_all()
    drain(ext)


def test_a_held_cell_ends_when_its_job_fails_before_any_audio(ext):
    job = SpeechJob("text", SpeakOptions(), player=None)

    async def fails(_job):
        raise ConnectionError("no server")

    class Quiet:  # the player the queue tells about the failure
        def fail(self, message):
            self.message = message

    job.player = Quiet()
    future = ext.queue.submit(job, fails)
    started = time.monotonic()
    ext.queue.hold(job, 10)  # no chunk will ever go out: the job's end releases the cell
    assert time.monotonic() - started < 5 and future.done() and "no server" in job.player.message


def test_holding_a_cell_is_bounded():
    from eleven_nb.jupyter.queue import SpeechQueue
    job = SpeechJob("text", SpeakOptions(), player=None)
    started = time.monotonic()
    SpeechQueue().hold(job, 0.05)  # no audio ever comes, and the job never ends: the bound
    assert 0.04 < time.monotonic() - started < 1


def finished_job(first_audio_at: float | None, audio_ms: float, outcome: str = "done") -> SpeechJob:
    job = SpeechJob("text", SpeakOptions(), player=None)
    job.future = concurrent.futures.Future()
    if outcome == "cancelled":
        job.future.cancel()
    elif outcome == "done":
        job.future.set_result(None)
    job.first_audio_at, job.audio_ms = first_audio_at, audio_ms
    return job


def test_still_playing_is_a_lower_bound_on_what_the_browser_plays():
    a = finished_job(100.0, 5000)  # plays 100-105 at the earliest
    b = finished_job(100.5, 3000)  # queued behind a: 105-108 at the earliest
    c = finished_job(100.6, 1000, outcome="running")  # still streaming
    assert still_playing([a, b, c], 104.0) == [a, b, c]
    assert still_playing([a, b, c], 106.0) == [b, c]
    assert still_playing([a, b, c], 200.0) == [c]  # the unfinished job, whatever the time
    stopped = finished_job(100.0, 60_000, outcome="cancelled")  # interrupted: adds no playing time
    silent = finished_job(None, 0)  # failed before any audio
    assert still_playing([stopped, silent, b], 103.0) == [b] and still_playing([stopped, silent, b], 104.0) == []


async def test_an_async_token_stream_is_pulled_on_the_loop_that_made_it(ext, players):
    """An LLM client opened in the notebook lives on the kernel's loop: its stream (here an
    asyncio.Queue fed by a task on this test's loop) must be awaited there, not on the client's."""
    feed: asyncio.Queue[str | None] = asyncio.Queue()
    here, seen = asyncio.get_running_loop(), set()

    async def llm():
        while (token := await feed.get()) is not None:
            seen.add(asyncio.get_running_loop())
            yield token

    async def produce():
        for word in "Tokens from a stream that lives on another loop. ".split(" "):
            await asyncio.sleep(0.01)
            await feed.put(word + " ")
        await feed.put(None)

    producer = asyncio.create_task(produce())
    player = ext.speak(llm())
    deadline = time.monotonic() + 30
    while player.status not in ("done", "error") and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # this loop keeps running: the stream's tokens come from it
    await producer
    assert player.status == "done", player.status_message
    assert seen == {here}  # every token was awaited on the loop that made the stream
    assert "another loop." in " ".join(w["text"] for w in player.collected_words())
