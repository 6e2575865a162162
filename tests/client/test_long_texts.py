"""Long texts: memory that stays bounded while a long text streams, and sending paced by the alignment.

A real in-process server (espeak-ng) over loopback. Its text buffer limit is lowered so that a
text a few seconds long crosses it many times over, as a 1,000,000-character cell crosses the
default 100,000: without pacing the server refuses the text; with it, every word is spoken.
"""
from __future__ import annotations

import asyncio

import pytest

import eleven_nb
from eleven_nb import protocol
from eleven_nb.client import ServerError
from eleven_nb.client.endpoint import Endpoint
from eleven_nb.client.socket import Socket
from eleven_nb.client.streams import AsyncMultiStreamInput as MultiStreamInput
from eleven_nb.client.streams import AsyncStreamInput as StreamInput
from eleven_nb.protocol import ConnectionOptions
from eleven_nb.server.app import build_state
from tests.conftest import ThreadedServer

WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def long_text(chars: int) -> str:
    text, i = [], 0
    while sum(map(len, text)) < chars:
        text.append(WORDS[i % len(WORDS)] + " ")
        i += 1
    return "".join(text)


def pieces(text: str, size: int = 60) -> list[str]:
    """Cut at spaces into pieces of about ``size`` characters, as a chunker would."""
    out, start = [], 0
    while start < len(text):
        end = text.find(" ", start + size)
        end = len(text) if end < 0 else end + 1
        out.append(text[start:end])
        start = end
    return out


@pytest.fixture(scope="module")
def small_buffer_server():
    threaded = ThreadedServer(build_state("espeak", max_buffered_chars=2_000))
    yield threaded.server
    threaded.stop()


async def stream_socket(url: str, **kwargs) -> Socket:
    socket = Socket(Endpoint("custom", url), protocol.DEFAULT_VOICE_ID, protocol.STREAM_INPUT,
                    ConnectionOptions(output_format="ulaw_8000", sync_alignment=True), **kwargs)
    await socket.open()
    await socket.send(protocol.initialize_connection())
    return socket


async def test_a_text_far_over_the_server_buffer_is_paced_and_spoken_to_the_end(small_buffer_server):
    text = long_text(12_000)  # six times the server's buffer
    socket = await stream_socket(small_buffer_server.url, window=1_000)
    try:
        stream = StreamInput(socket)
        most_unspoken = 0
        for piece in pieces(text):
            await stream.send(piece)
            most_unspoken = max(most_unspoken, socket.connection.context(None).unspoken_chars)
        await stream.close()
        await asyncio.wait_for(stream.wait(), 60)
        assert await socket.wait_closed(10)
    finally:
        await socket.aclose()
    assert stream.timeline.text == text and socket.close_code == 1000
    assert most_unspoken <= 1_000 + 80  # the window, overshot by at most one piece


async def test_without_pacing_the_same_text_overflows_the_server(small_buffer_server):
    socket = await stream_socket(small_buffer_server.url, window=None)
    try:
        stream = StreamInput(socket)
        with pytest.raises(ServerError) as info:
            for piece in pieces(long_text(12_000)):
                await stream.send(piece)
            await stream.close()
            await asyncio.wait_for(stream.wait(), 60)
        assert info.value.error == "text_buffer_exceeded"
    finally:
        await socket.aclose()


async def test_send_nowait_holds_text_beyond_the_window_instead_of_overflowing(small_buffer_server):
    text = long_text(6_000)
    socket = await stream_socket(small_buffer_server.url, window=1_000)
    try:
        stream = StreamInput(socket)
        for piece in pieces(text):
            socket.send_nowait(protocol.send_text(piece))  # never waits: the connection holds the rest
        socket.send_nowait(protocol.close_connection())
        await asyncio.wait_for(stream.wait(), 60)
    finally:
        await socket.aclose()
    assert stream.timeline.text == text


class Handler:
    """An event-handler consumer (as the event-handler API registers): it reads messages as they come."""

    def __init__(self) -> None:
        self.messages = 0

    def on_message(self, data, parsed) -> None:
        self.messages += 1


@pytest.mark.parametrize("consumer", ["handler", "nobody", "socket iterator"])
async def test_memory_stays_bounded_while_a_long_text_streams(server, consumer):
    """max_buffered_chunks=10: whoever reads (or nobody), the client keeps at most 10 chunks of audio
    per queue, and no raw JSON; the socket-wide queue fills only for its own reader."""
    multi = consumer == "socket iterator"
    socket = Socket(Endpoint("custom", server.url), protocol.DEFAULT_VOICE_ID,
                    protocol.MULTI_STREAM_INPUT if multi else protocol.STREAM_INPUT,
                    ConnectionOptions(output_format="pcm_16000", sync_alignment=True), max_buffered_chunks=10)
    handler = Handler()
    if consumer == "handler":
        socket.listeners.append(handler)
    text = long_text(15_000)
    most_kept = 0
    await socket.open()
    try:
        if multi:
            mux = MultiStreamInput(socket)
            ctx = await mux.context("long")
            for piece in pieces(text, 500):
                await ctx.send(piece)
            await ctx.close()
            await mux.close_socket()
            async for chunk in mux:
                track = socket.tracks["long"]
                most_kept = max(most_kept, len(track.queue), len(track.audio_chunks))
                assert chunk.message is None
        else:
            stream = StreamInput(socket)
            await socket.send(protocol.initialize_connection())
            for piece in pieces(text, 500):
                await stream.send(piece)
                most_kept = max(most_kept, len(socket.all_chunks), len(socket.track(None).queue))
            await stream.close()
            await asyncio.wait_for(stream.wait(), 120)
        track = socket.tracks["long" if multi else None]
    finally:
        await socket.aclose()
    assert track.timeline.text == text  # everything was spoken and timed
    kept = [len(track.queue), len(track.audio_chunks), len(socket.all_chunks), most_kept]
    expected_queue = {"handler": 0, "nobody": 10, "socket iterator": 0}[consumer]
    assert len(track.queue) == expected_queue and max(kept) <= 10
    assert track.dropped_audio_chunks > 100  # the text made far more chunks than were kept
    if consumer == "handler":
        assert handler.messages > 100 and len(socket.all_chunks) == 0


async def test_iterating_after_the_end_still_gets_the_last_chunks(server):
    """Nobody read while it streamed: the stream's queue kept its last chunks, not every one."""
    client = eleven_nb.AsyncClient(base_url=server.url, max_buffered_chunks=3)
    async with client.stream_input(output_format="pcm_16000", sync_alignment=True) as stream:
        await stream.send(long_text(600))
        await stream.close()
        await stream.wait(30)
        chunks = [c async for c in stream]
    assert len(chunks) == 3 and chunks[-1].is_final and stream.dropped_queued_chunks > 0
