"""A reader waiting for audio that nothing will bring is told why (real local server, espeak-ng).

Keep-alives stop the server's inactivity timeout from ending such a stream, so without
the hint `anext(stream)` on text held below the chunk schedule, or iterating a stream
that was never closed, waits forever in silence.
"""
from __future__ import annotations

import asyncio
import logging

import pytest

import eleven_nb
from eleven_nb.client import tracks

STALL_S = 0.3


@pytest.fixture(autouse=True)
def short_stall(monkeypatch, caplog):
    monkeypatch.setattr(tracks, "STALL_HINT_S", STALL_S)
    caplog.set_level(logging.WARNING, logger="eleven_nb.client")


def hints(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("no audio for")]


async def test_text_held_below_the_schedule_is_named_then_a_flush_brings_it(server, caplog):
    client = eleven_nb.AsyncClient(base_url=server.url)
    async with client.stream_input(output_format="pcm_16000") as stream:
        await stream.send("Hello there! ")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(stream.__anext__(), 3 * STALL_S)
        [hint] = hints(caplog)
        assert "holds the 13 characters" in hint and "'Hello there! '" in hint and "flush" in hint
        caplog.clear()
        await stream.flush()
        first = await asyncio.wait_for(stream.__anext__(), 10)
        assert first.audio
        while True:  # the rest of the flushed audio; then the reader stalls with everything spoken
            try:
                await asyncio.wait_for(stream.__anext__(), 6 * STALL_S)
            except TimeoutError:
                break
        assert hints(caplog) and "everything sent has been spoken" in hints(caplog)[-1]
        await stream.close()
        rest = [c async for c in stream]
    assert rest[-1].is_final


async def test_a_stream_that_is_spoken_and_closed_gives_no_hint(server, caplog, monkeypatch):
    monkeypatch.setattr(tracks, "STALL_HINT_S", 0.005)  # stalls between chunks, while audio is owed
    client = eleven_nb.AsyncClient(base_url=server.url)
    async with client.stream_input(output_format="pcm_16000") as stream:
        await stream.send("One sentence, then another one, and a third to be sure. ", flush=True)
        await stream.send("Then the end. ")
        await stream.close()
        chunks = [c async for c in stream]
        await stream.wait(5)
    assert chunks[-1].is_final and hints(caplog) == []


def test_blocking_wait_without_close_is_told_to_close(server, caplog):
    client = eleven_nb.Client(base_url=server.url)
    with client.stream_input(output_format="pcm_16000") as stream:
        stream.send("Spoken at once. ", flush=True)
        with pytest.raises(TimeoutError):
            stream.wait(timeout=3.0)  # the final comes only after close()
        assert "everything sent has been spoken: send more text, or close to end it" in hints(caplog)[-1]
        stream.stall_hints = False  # a source that pauses on purpose
        caplog.clear()
        with pytest.raises(TimeoutError):
            stream.wait(timeout=3 * STALL_S)
        assert hints(caplog) == []
        stream.close()
        stream.wait(timeout=10)


async def test_iterating_a_socket_whose_contexts_have_ended_says_close_socket(server, caplog):
    client = eleven_nb.AsyncClient(base_url=server.url)
    async with client.multi_stream_input(output_format="pcm_16000") as mux:
        one = await mux.context("one")
        await one.send("Only this. ")
        two = await mux.context("two")
        await two.send("Held here ")
        await one.close()
        [c async for c in one]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(two.__anext__(), 3 * STALL_S)
        assert "of context 'two'" in hints(caplog)[-1]
        await two.close()
        [c async for c in two]
        caplog.clear()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(mux.__anext__(), 3 * STALL_S)
        assert "every context has ended; close_socket()" in hints(caplog)[-1]
        await mux.close_socket()


async def test_iterating_a_socket_with_no_context_says_to_open_one(server, caplog):
    client = eleven_nb.AsyncClient(base_url=server.url)
    async with client.multi_stream_input(output_format="pcm_16000") as mux:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(mux.__anext__(), 3 * STALL_S)
        assert "no context is open" in hints(caplog)[-1]
        await mux.close_socket()
