"""A client that never hangs: real loopback peers that go silent, send garbage or never finish the
handshake, and a receive loop that breaks. Every wait ends with a typed error within its deadline."""
from __future__ import annotations

import asyncio
import builtins
import json
import time

import pytest
from aiohttp import web

import eleven_nb
from eleven_nb import protocol
from eleven_nb.client import ConnectionClosedError, ElevenError, ServerError
from eleven_nb.client import socket as socket_module
from eleven_nb.client.endpoint import Endpoint
from eleven_nb.client.errors import InvalidServerMessageError, TimeoutError
from eleven_nb.client.socket import Socket
from eleven_nb.client.streams import AsyncStreamInput as StreamInput
from eleven_nb.protocol import ConnectionOptions
from eleven_nb.protocol.client import ClientConnection

GRACE = 3.0  # seconds a deadline may overrun on a loaded machine


async def serve(handler) -> tuple[web.AppRunner, str]:
    """A tiny aiohttp server on a free loopback port answering stream-input with ``handler``."""
    app = web.Application()
    app.router.add_get("/v1/text-to-speech/{voice}/stream-input", handler)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


async def silent(request):
    """Accepts the WebSocket, then never reads, never answers a ping, never closes."""
    ws = web.WebSocketResponse(autoping=False)
    await ws.prepare(request)
    await asyncio.sleep(30)
    return ws


def garbage(frame: str):
    async def handler(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()  # the first message
        await ws.send_str(frame)
        async for _ in ws:  # keep reading until the client closes
            pass
        return ws
    return handler


async def error_then_silence(request):
    """Sends an error frame and then neither closes nor answers."""
    ws = web.WebSocketResponse(autoping=False)
    await ws.prepare(request)
    await ws.receive()
    await ws.send_str(json.dumps(protocol.ProtocolError.of("invalid_api_key").to_message()))
    await asyncio.sleep(30)
    return ws


async def open_stream(url: str, **kwargs) -> tuple[Socket, StreamInput]:
    socket = Socket(Endpoint("custom", url), protocol.DEFAULT_VOICE_ID, protocol.STREAM_INPUT,
                    ConnectionOptions(output_format="pcm_16000"), keepalive=False, **kwargs)
    await socket.open()
    await socket.send(protocol.initialize_connection())
    return socket, StreamInput(socket)


async def drain(stream: StreamInput) -> list:
    return [chunk async for chunk in stream]


async def test_a_silent_server_ends_the_wait_for_the_final_with_a_timeout():
    runner, url = await serve(silent)
    try:
        socket, stream = await open_stream(url, receive_timeout=1.0, heartbeat=None)
        await stream.send("Hello. ")
        await stream.close()
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="final message") as info:
            await asyncio.wait_for(drain(stream), 1.0 + GRACE)
        assert time.monotonic() - started < 1.0 + GRACE
        assert isinstance(info.value, ElevenError) and isinstance(info.value, builtins.TimeoutError)
        assert await socket.wait_closed(GRACE) and socket.error is info.value
        with pytest.raises(TimeoutError):
            await stream.send("late ")
        await socket.aclose()
    finally:
        await runner.cleanup()


async def test_a_silent_server_is_found_by_the_heartbeat_even_when_nothing_is_owed():
    runner, url = await serve(silent)
    try:
        socket, stream = await open_stream(url, receive_timeout=None, heartbeat=1.0)
        await stream.send("Nothing is flushed, so no reply is owed. ")
        with pytest.raises(TimeoutError, match="pings"):
            await asyncio.wait_for(drain(stream), 1.5 + GRACE)
        await socket.aclose()
    finally:
        await runner.cleanup()


CORRUPT = {
    "not json": "not json",
    "nested": "[" * 100_000 + "]" * 100_000,
    "base64": '{"audio": "@@@@", "isFinal": null}',
    "lengths": '{"audio": "AAAA", "alignment": {"chars": ["a"], "charStartTimesMs": [], "charDurationsMs": [1]}}',
    "nan": '{"audio": "AAAA", "alignment": {"chars": ["a"], "charStartTimesMs": [NaN], "charDurationsMs": [1]}}',
    "not an object": '{"audio": "AAAA", "alignment": [1, 2, 3]}',
}


@pytest.mark.parametrize("name", CORRUPT)
async def test_a_corrupt_frame_is_an_error_the_iterator_raises(name):
    runner, url = await serve(garbage(CORRUPT[name]))
    try:
        socket, stream = await open_stream(url, receive_timeout=5.0)
        await stream.send("Hi. ")
        with pytest.raises(InvalidServerMessageError, match="corrupt frame") as info:
            await asyncio.wait_for(drain(stream), 5.0)
        assert info.value.error == "invalid_server_message" and info.value.code == 1002
        assert await socket.wait_closed(GRACE)
        await socket.aclose()
    finally:
        await runner.cleanup()


async def test_an_error_frame_without_a_close_still_ends(monkeypatch):
    monkeypatch.setattr(socket_module, "CLOSE_GRACE", 0.5)
    runner, url = await serve(error_then_silence)
    try:
        socket, stream = await open_stream(url, heartbeat=None)
        with pytest.raises(ServerError, match="Invalid API key"):
            await asyncio.wait_for(drain(stream), 0.5 + GRACE)
        await socket.aclose()
    finally:
        await runner.cleanup()


async def test_a_handshake_that_never_completes_is_a_timeout():
    accepted: list[asyncio.StreamWriter] = []

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # read the request, answer nothing
        await reader.read(65536)

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        socket = Socket(Endpoint("custom", f"http://127.0.0.1:{port}"), protocol.DEFAULT_VOICE_ID,
                        protocol.STREAM_INPUT, ConnectionOptions(), connect_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="handshake") as info:
            await socket.open()
        assert time.monotonic() - started < 1.0 + GRACE and accepted
        assert isinstance(info.value, builtins.TimeoutError) and info.value.seconds == 1.0
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_failure_inside_the_receive_loop_ends_the_socket_with_it(server, monkeypatch):
    def broken(self, data, now):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(ClientConnection, "receive_text", broken)  # a bug in the receive path
    client = eleven_nb.AsyncClient(base_url=server.url)
    async with client.stream_input(output_format="pcm_16000") as stream:
        await stream.send("This frame breaks the receive loop. ", flush=True)
        with pytest.raises(ElevenError, match="RecursionError"):
            await asyncio.wait_for(drain(stream), 10)
        with pytest.raises(ElevenError, match="RecursionError"):
            await asyncio.wait_for(stream.wait(), 1)
    assert stream.done


async def test_an_abrupt_close_is_still_a_connection_closed_error():
    async def abrupt(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        await ws.close(code=1011, message=b"gone")
        return ws

    runner, url = await serve(abrupt)
    try:
        socket, stream = await open_stream(url)
        with pytest.raises(ConnectionClosedError) as info:
            await asyncio.wait_for(drain(stream), 5)
        assert info.value.code == 1011
        await socket.aclose()
    finally:
        await runner.cleanup()
