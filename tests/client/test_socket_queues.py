"""Which queues keep chunks: per-context or socket-wide, raw JSON only when asked (the real server)."""
from __future__ import annotations

import asyncio
import contextlib

from eleven_nb import protocol
from eleven_nb.client.endpoint import Endpoint
from eleven_nb.client.socket import Socket
from eleven_nb.protocol import ConnectionOptions


async def multi_socket(url: str, **kwargs) -> Socket:
    socket = Socket(Endpoint("custom", url), protocol.DEFAULT_VOICE_ID, protocol.MULTI_STREAM_INPUT,
                    ConnectionOptions(output_format="pcm_16000", sync_alignment=True), **kwargs)
    return await socket.open()


async def speak(socket: Socket, *context_ids: str) -> None:
    for cid in context_ids:
        await socket.send(protocol.initialize_connection(f"Context {cid} speaks. ", context_id=cid))
        await socket.send(protocol.close_context(cid))


async def read_all(queue) -> list:
    chunks = []
    with contextlib.suppress(StopAsyncIteration):
        while True:
            chunks.append(await asyncio.wait_for(queue.get(), 30))
    return chunks


async def test_reading_a_context_stops_the_socket_wide_queue(server):
    socket = await multi_socket(server.url)
    try:
        await speak(socket, "a", "b")
        a = await read_all(socket.tracks["a"].queue)  # its own reader: the socket-wide view empties
        await asyncio.wait_for(socket.tracks["b"].final.wait(), 30)
        assert a[-1].is_final and len(socket.all_chunks) == 0
        assert len(socket.tracks["b"].queue) > 0  # b may still be read on its own
    finally:
        await socket.aclose()


async def test_reading_the_socket_stops_the_context_queues(server):
    socket = await multi_socket(server.url)
    try:
        reader = asyncio.create_task(read_all(socket.all_chunks))
        await speak(socket, "a", "b")
        await socket.send(protocol.close_socket())
        chunks = await reader
        assert {c.context_id for c in chunks if c.is_final} == {"a", "b"}
        assert len(socket.tracks["a"].queue) == 0 and len(socket.tracks["b"].queue) == 0
    finally:
        await socket.aclose()


async def test_raw_json_is_kept_only_when_asked(server):
    for keep_raw in (False, True):
        socket = await multi_socket(server.url, keep_raw=keep_raw)
        try:
            await speak(socket, "a")
            chunks = await read_all(socket.tracks["a"].queue)
        finally:
            await socket.aclose()
        audio = [c for c in chunks if c.audio]
        if keep_raw:
            assert all(c.message["contextId"] == "a" and c.message["audio"] for c in audio)
        else:
            assert audio and all(c.message is None for c in audio)
