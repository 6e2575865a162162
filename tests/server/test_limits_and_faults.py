"""Limits are enforced with clear errors, and a failing engine hurts only its own context."""
from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections import defaultdict

import aiohttp
import pytest
import yarl

from eleven_nb import protocol
from eleven_nb.server import session
from eleven_nb.server.app import build_state
from eleven_nb.server.engines.espeak import EspeakEngine
from tests.conftest import ThreadedServer



class FailingEngine(EspeakEngine):
    """The real espeak-ng engine, made to raise on one word (fault injection)."""

    def synthesize(self, text, voice_id, settings):
        if "explode" in text:
            raise RuntimeError("the engine broke on purpose")
        yield from super().synthesize(text, voice_id, settings)


@pytest.fixture(scope="module")
def strict_server():
    state = build_state("espeak", max_connections=3, max_buffered_chars=500)
    engine = FailingEngine()
    for voice_id, choice in list(state.voices.items()):
        state.voices[voice_id] = type(choice)(choice.info, engine)
    threaded = ThreadedServer(state)
    yield threaded.server
    threaded.stop()


async def read_all(ws, timeout=30.0):
    frames = []
    async with asyncio.timeout(timeout):
        async for msg in ws:
            frames.append(json.loads(msg.data))
    return frames


async def test_engine_error_fails_one_context_others_finish(strict_server):
    url = strict_server.ws_url(endpoint="multi-stream-input", output_format="pcm_16000", sync_alignment=True)
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        for cid, text in [("ok1", "First context speaks. "), ("bad", "This one will explode. "),
                          ("ok2", "Second context speaks too. ")]:
            await ws.send_json(protocol.initialize_connection(context_id=cid))
            await ws.send_json(protocol.send_text(text, context_id=cid))
            await ws.send_json(protocol.close_context(cid))
        await ws.send_json(protocol.close_socket())
        frames = await read_all(ws)
    errors = [f for f in frames if "error" in f]
    assert errors == [{**protocol.ProtocolError.of("generation_failed").to_message(), "contextId": "bad"}]
    finals = {f["contextId"] for f in frames if f.get("isFinal")}
    assert finals == {"ok1", "ok2"} and ws.close_code == 1000
    text = defaultdict(str)
    for f in frames:
        if f.get("alignment"):
            text[f["contextId"]] += "".join(f["alignment"]["chars"])
    assert text["ok1"] == "First context speaks. " and text["ok2"] == "Second context speaks too. "


async def test_engine_error_on_stream_input_is_an_error_and_close(strict_server):
    url = strict_server.ws_url(output_format="pcm_16000")
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_json(protocol.initialize_connection())
        await ws.send_json(protocol.send_text("Please explode now. "))
        await ws.send_json(protocol.close_connection())
        frames = await read_all(ws)
    assert frames[-1]["error"] == "generation_failed" and ws.close_code == 1008


async def test_text_buffered_per_context_is_bounded(strict_server):
    url = strict_server.ws_url(output_format="pcm_16000")
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_json(protocol.initialize_connection())
        await ws.send_json(protocol.send_text("word " * 200))  # 1000 characters > 500
        frames = await read_all(ws)
    assert frames[-1]["error"] == "text_buffer_exceeded" and "500" in frames[-1]["message"]
    assert ws.close_code == 1008


async def test_connections_per_server_are_bounded(strict_server):
    url = strict_server.ws_url()
    async with aiohttp.ClientSession() as http:
        held = [await http.ws_connect(url) for _ in range(3)]
        extra = await http.ws_connect(url)
        frames = await read_all(extra)
        assert frames == [protocol.ProtocolError.of("too_many_connections", limit=3).to_message()]
        assert extra.close_code == 1013
        for ws in held:
            await ws.close()
        await asyncio.sleep(0.2)
        async with http.ws_connect(url) as again:  # a freed slot is usable again
            await again.send_json(protocol.initialize_connection())
            await again.send_json(protocol.send_text("Room again. "))
            await again.send_json(protocol.close_connection())
            assert (await read_all(again))[-1]["isFinal"] is True


# --- hardening: hostile or broken peers (real sockets) ---------------------------------------


@pytest.fixture(scope="module")
def guarded_server():
    """espeak-ng behind tight transport guards: a 1 s handshake deadline, at most 6 connections."""
    threaded = ThreadedServer(build_state("espeak", api_keys=("the-key",), max_connections=8),
                              keepalive_timeout=1.0, max_connections=6)
    yield threaded.server
    threaded.stop()


def raw_connect(server) -> socket.socket:
    port = int(server.url.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=5)


async def test_a_lone_surrogate_context_id_is_refused_and_nothing_leaks(espeak_server, caplog):
    url = espeak_server.ws_url(endpoint="multi-stream-input", output_format="pcm_16000")
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_str('{"text": "Hello ", "context_id": "\\ud800"}')
        frames = await read_all(ws)
    assert frames[-1]["error"] == "invalid_input_message" and ws.close_code == 1008
    async with asyncio.timeout(5):
        while espeak_server.server_tasks():
            await asyncio.sleep(0.05)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_long_non_ascii_close_reason_stays_valid_utf8(espeak_server):
    async with aiohttp.ClientSession() as http, http.ws_connect(espeak_server.ws_url("é" * 80)) as ws:
        frames = await read_all(ws)
    assert frames[-1]["error"] == "voice_not_found"
    assert ws.close_code == 1008  # a reason cut inside a character would be 1007 here


async def test_the_frame_limit_counts_bytes(espeak_server):
    async with aiohttp.ClientSession() as http, http.ws_connect(espeak_server.ws_url()) as ws:
        await ws.send_json(protocol.initialize_connection())
        await ws.send_str(json.dumps({"text": "🎉" * 300_000}, ensure_ascii=False))  # 300,000 characters, 1.2 MB
        frames = await read_all(ws)
    assert frames[-1]["error"] == "message_too_big" and ws.close_code == 1009


async def test_the_access_log_writes_the_raw_path(espeak_server, caplog):
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    async with aiohttp.ClientSession() as http:
        await http.get(yarl.URL(espeak_server.url + "/v1/voices/x%0aFORGED%1b[31m", encoded=True))
    async with asyncio.timeout(5):  # the line is written once the response is out
        while not any("FORGED" in r.getMessage() for r in caplog.records):
            await asyncio.sleep(0.02)
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("/v1/voices/x%0aFORGED%1b[31m" in line for line in lines), lines
    assert not any("\n" in line or "\x1b" in line for line in lines)


async def test_a_client_leaving_mid_synthesis_logs_no_traceback(espeak_server, caplog):
    url = espeak_server.ws_url(endpoint="multi-stream-input", output_format="pcm_16000")
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            ws = await http.ws_connect(url)
            await ws.send_json(protocol.initialize_connection(context_id="a"))
            await ws.send_json(protocol.send_text("A long text to speak. " * 100, context_id="a", flush=True))
            await ws.receive(timeout=10)
            await ws.close()
    for _ in range(200):
        if not espeak_server.server_tasks():
            break
        await asyncio.sleep(0.05)
    assert not espeak_server.server_tasks(), espeak_server.task_stacks()
    await asyncio.sleep(0.5)  # a synthesis step still in the pool finishes and is closed
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("eleven_nb")]
    assert not [r for r in caplog.records if r.exc_info]


def test_an_unfinished_handshake_is_closed_at_its_deadline(guarded_server):
    with raw_connect(guarded_server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server
        assert time.monotonic() - started < 3


def test_connections_over_the_cap_are_dropped(guarded_server):
    held = [raw_connect(guarded_server) for _ in range(6)]
    try:
        with raw_connect(guarded_server) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert extra.recv(100) in (b"",)  # aborted, never answered
    except ConnectionResetError:
        pass
    finally:
        for sock in held:
            sock.close()


async def test_keyless_sockets_cannot_lock_out_a_keyed_client(guarded_server):
    async with aiohttp.ClientSession() as http:
        keyless = [await http.ws_connect(guarded_server.ws_url()) for _ in range(2)]  # 8 // 4 may wait for a key
        refused = await http.ws_connect(guarded_server.ws_url())
        assert (await read_all(refused))[-1]["error"] == "too_many_connections"
        url = guarded_server.ws_url(output_format="pcm_16000")
        async with http.ws_connect(url, headers={"xi-api-key": "the-key"}) as ws:
            await ws.send_json(protocol.initialize_connection())
            await ws.send_json(protocol.send_text("Let me in. "))
            await ws.send_json(protocol.close_connection())
            assert (await read_all(ws))[-1]["isFinal"] is True
        for ws in keyless:
            await ws.close()


async def test_with_keys_only_healthz_is_public(guarded_server):
    async with aiohttp.ClientSession() as http:
        assert (await http.get(guarded_server.url + "/healthz")).status == 200
        assert (await http.get(guarded_server.url + "/v1/voices")).status == 401
        assert (await http.get(guarded_server.url + "/v1/models")).status == 401
        ok = await http.get(guarded_server.url + "/v1/voices", headers={"xi-api-key": "the-key"})
        assert ok.status == 200


async def test_a_client_that_stops_reading_loses_its_slot(espeak_server, monkeypatch):
    monkeypatch.setattr(session, "SEND_TIMEOUT", 0.5)
    state = espeak_server.state
    url = espeak_server.ws_url(output_format="pcm_48000")
    others = set(state.connections)  # the session's server may hold other tests' sockets: watch ours only
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(url)
        await ws.send_json(protocol.initialize_connection())
        await ws.send_json(protocol.send_text("Never read. " * 400, flush=True))  # minutes of 48 kHz audio
        async with asyncio.timeout(20):
            while not set(state.connections) - others:
                await asyncio.sleep(0.05)
            [ours] = set(state.connections) - others
            while ours in state.connections:  # the server gave up on the socket
                await asyncio.sleep(0.1)
        await ws.close()


def test_freed_memory_is_given_back_at_most_once_a_second_unless_forced():
    from eleven_nb.server.memory import trim_memory

    if not trim_memory():  # forced: trims at once where glibc has malloc_trim
        pytest.skip("no malloc_trim here (not glibc)")
    assert trim_memory(force=False) is False  # a context ending right after: skipped
    assert trim_memory() is True  # a socket ending: always
