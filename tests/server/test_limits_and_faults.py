"""Limits are enforced with clear errors, and a failing engine hurts only its own context."""
from __future__ import annotations

import asyncio
import json
from collections import defaultdict

import aiohttp
import pytest

from eleven_nb import protocol
from eleven_nb.server.app import build_state
from eleven_nb.server.engines.espeak import EspeakEngine
from tests.conftest import ThreadedServer

pytestmark = pytest.mark.asyncio


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
