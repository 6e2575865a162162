"""Decoding, timelines, keep-alive on multi-stream-input, closes, limits, logging and the `say` command.

Most tests run against the local server (espeak-ng, a child process). A few use
a tiny scripted aiohttp server instead: it plays the real service's variants
(old field spellings, distinct normalized alignment, an abrupt close) exactly
as the real service sends them.
"""
from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import logging
import sys

import numpy as np
import pytest
from aiohttp import web

import eleven_nb
from eleven_nb import protocol
from eleven_nb.cli import main as cli_main
from eleven_nb.client import ConnectionClosedError, ServerError


@pytest.fixture
def client(server):
    return eleven_nb.AsyncClient(base_url=server.url)


# --- a scripted stand-in for the real service's variants --------------------------------------

async def scripted_server(frames: list[dict], close_code: int = 1000, *, endpoint: str = "stream-input"):
    """Serve ``frames`` after the first client message, then close with ``close_code``; return (runner, url)."""
    async def handler(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        for frame in frames:
            await ws.send_str(json.dumps(frame))
        await ws.close(code=close_code)
        return ws

    app = web.Application()
    app.router.add_get(f"/v1/text-to-speech/{{voice}}/{endpoint}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


def wire_alignment(text: str, step: int = 50) -> dict:
    return {"chars": list(text), "charStartTimesMs": [i * step for i in range(len(text))],
            "charDurationsMs": [step] * len(text)}


# --- decoding and timelines --------------------------------------------------------------------

async def test_mp3_pcm_is_decoded_on_first_read_in_stream_order(client):
    async with client.stream_input(output_format="mp3_22050_32", sync_alignment=True) as stream:
        await stream.send("Lazy decoding, in order. ")
        await stream.close()
        chunks = [c async for c in stream]
    audio = [c for c in chunks if c.audio]
    assert all(c._pcm is None for c in chunks)  # nothing decoded until asked
    last = audio[-1].pcm  # reading the last decodes every earlier chunk first, in order
    assert last is not None and all(c._pcm is not None for c in audio)
    total = sum(len(c.pcm) for c in audio) + (len(chunks[-1].pcm) if chunks[-1].pcm is not None else 0)
    assert 0.5 < total / 22050 < 4 and audio[0].pcm.dtype == np.int16


async def test_decode_false_leaves_compressed_audio_alone_and_raw_is_always_decoded(client):
    async with client.stream_input(output_format="mp3_22050_32", decode=False) as stream:
        await stream.send("No decoding. ")
        await stream.close()
        assert all(c.pcm is None for c in [c async for c in stream])
    async with client.stream_input(output_format="ulaw_8000", decode=False) as stream:
        await stream.send("Raw audio. ")
        await stream.close()
        chunks = [c async for c in stream if c.audio]
    assert all(len(c.pcm) == len(c.audio) for c in chunks)  # one μ-law byte per sample


async def test_normalized_alignment_builds_the_timeline_when_asked():
    frames = [{"audio": base64.b64encode(b"\0\0" * 1600).decode(), "isFinal": None,
               "alignment": wire_alignment("Dr. "), "normalizedAlignment": wire_alignment(" Doctor ")},
              {"audio": None, "isFinal": True, "alignment": None, "normalizedAlignment": None}]
    runner, url = await scripted_server(frames)
    try:
        client = eleven_nb.AsyncClient(base_url=url, keepalive=False)
        for alignment, text in [("chars", "Dr. "), ("normalized", " Doctor ")]:
            async with client.stream_input(output_format="pcm_16000", alignment=alignment) as stream:
                chunks = [c async for c in stream]
            assert stream.timeline.text == text and chunks[0].normalized_alignment.text == " Doctor "
        with pytest.raises(ValueError, match="alignment"):
            client.stream_input(alignment="phonemes")
    finally:
        await runner.cleanup()


async def test_chunk_start_ms_is_absolute(client):
    async with client.stream_input(output_format="pcm_16000", sync_alignment=True) as stream:
        await stream.send("First part. ", flush=True)
        await stream.send("Second part. ")
        await stream.close()
        chunks = [c async for c in stream if c.audio]
    for before, after in itertools.pairwise(chunks):
        assert after.start_ms == pytest.approx(before.start_ms + before.duration_ms)
    assert stream.timeline.audio_ms == pytest.approx(sum(c.duration_ms for c in chunks))


# --- keep-alive, closes, limits ------------------------------------------------------------------

async def test_multi_stream_keep_alive_outlives_the_inactivity_timeout(client, caplog):
    caplog.set_level(logging.DEBUG, logger="eleven_nb.wire")
    async with client.multi_stream_input(output_format="pcm_16000", inactivity_timeout=2) as mux:
        ctx = await mux.context("idle")
        await asyncio.sleep(5)  # idle for more than twice the timeout
        await ctx.send("Still here. ")
        await ctx.close()
        chunks = [c async for c in ctx]
        await mux.close_socket()
        assert await mux.wait_closed(10) and mux.close_code == 1000
    assert chunks[-1].is_final and ctx.timeline.text == "Still here. "
    assert '{"text": "", "context_id": "idle"}' in caplog.text  # the per-context keep-alive was sent


async def test_an_abrupt_close_raises_connection_closed_in_iterators():
    frames = [{"audio": base64.b64encode(b"\0\0" * 160).decode(), "isFinal": None,
               "alignment": wire_alignment("Hi "), "normalizedAlignment": None}]
    runner, url = await scripted_server(frames, close_code=1011)
    try:
        client = eleven_nb.AsyncClient(base_url=url, keepalive=False)
        async with client.stream_input(output_format="pcm_16000") as stream:
            got = []
            with pytest.raises(ConnectionClosedError) as info:
                async for chunk in stream:
                    got.append(chunk)
        assert info.value.code == 1011 and len(got) == 1 and stream.close_code == 1011
        with pytest.raises(ConnectionClosedError):
            await stream.send("too late ")
    finally:
        await runner.cleanup()


async def test_server_error_in_one_context_fails_only_that_context(client):
    async with client.multi_stream_input(output_format="pcm_16000") as mux:
        contexts = [await mux.context(f"c{i}") for i in range(protocol.MAX_CONTEXTS + 1)]
        with pytest.raises(ServerError) as info:
            async for _ in contexts[-1]:
                pass
    assert info.value.error == "max_active_conversations" and info.value.code == 1008
    assert "(5)" in info.value.message


async def test_the_receive_queue_is_bounded(server):
    small = eleven_nb.AsyncClient(base_url=server.url, max_queued_chunks=2)
    async with small.stream_input(output_format="pcm_16000", sync_alignment=True) as stream:
        await stream.send("Several chunks arrive while nobody reads them, so the oldest are dropped. ")
        await stream.close()
        await stream.wait(10)
        chunks = [c async for c in stream]
    assert len(chunks) == 2 and chunks[-1].is_final and stream.dropped_queued_chunks > 0
    assert stream.timeline.text.startswith("Several")  # the timeline keeps everything
    with pytest.raises(ValueError, match="max_queued_chunks"):
        eleven_nb.AsyncClient(base_url=server.url, max_queued_chunks=0)


async def test_the_wire_log_shows_every_message_with_audio_abbreviated(client, caplog):
    caplog.set_level(logging.DEBUG, logger="eleven_nb.wire")
    async with client.stream_input(output_format="pcm_16000") as stream:
        await stream.send("Logged. ")
        await stream.close()
        [c async for c in stream]
    sent = [r.message for r in caplog.records if r.message.startswith("send ")]
    received = [r.message for r in caplog.records if r.message.startswith("recv ")]
    assert sent[0] == 'send {"text": " "}' and sent[-1] == 'send {"text": ""}'
    assert all("base64 chars>" in m for m in received[:-1]) and '"isFinal": true' in received[-1]


def test_server_fields_in_both_spellings_parse_alike():
    new = {"audio": "AAE=", "isFinal": None, "contextId": "c",
           "alignment": {"chars": ["a"], "charStartTimesMs": [0], "charDurationsMs": [5]},
           "normalizedAlignment": {"chars": ["a"], "charStartTimesMs": [0], "charDurationsMs": [5]}}
    old = {"audio": "AAE=", "is_final": False, "context_id": "c",
           "alignment": {"chars": ["a"], "charsStartTimesMs": [0], "charsDurationsMs": [5]},
           "normalized_alignment": {"chars": ["a"], "charStartTimesMs": [0], "charsDurationsMs": [5]}}
    assert protocol.parse_server_message(new) == protocol.parse_server_message(old)
    assert protocol.parse_server_message({"audio": None, "isFinal": True, "contextId": "c"}) == \
        protocol.parse_server_message({"audio": None, "is_final": True, "context_id": "c"})


# --- the `say` command ----------------------------------------------------------------------------

def test_say_writes_audio_and_captions(server, tmp_path, monkeypatch):
    out, captions = tmp_path / "out.mp3", tmp_path / "out.vtt"
    assert cli_main(["say", "Hello from the command line. It works.", "-o", str(out), "--captions", str(captions),
                     "--base-url", server.url]) == 0
    assert out.read_bytes().startswith((b"ID3", b"\xff\xfb", b"\xff\xf3")) and out.stat().st_size > 1000
    vtt = captions.read_text()
    assert vtt.startswith("WEBVTT") and "Hello from the command line." in vtt

    text_file = tmp_path / "in.txt"
    text_file.write_text("From a file. ")
    assert cli_main(["say", "-f", str(text_file), "-o", str(tmp_path / "f.wav"), "--base-url", server.url]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("From standard input. "))
    srt = tmp_path / "s.srt"
    assert cli_main(["say", "-", "-o", str(tmp_path / "s.wav"), "--captions", str(srt), "--format", "pcm_16000",
                     "--base-url", server.url]) == 0
    assert "From standard input." in srt.read_text() and (tmp_path / "s.wav").stat().st_size > 1000


def test_say_reports_bad_input_plainly(server, tmp_path, capsys):
    assert cli_main(["say", "Hi. ", "-o", str(tmp_path / "x.flac"), "--base-url", server.url]) == 1
    assert cli_main(["say", "Hi. ", "-o", str(tmp_path / "x.wav"), "--speed", "3", "--base-url", server.url]) == 1
    err = capsys.readouterr().err
    assert "cannot save audio" in err and "speed" in err and "Traceback" not in err


async def test_an_idle_context_is_kept_alive_while_another_is_busy(client):
    async with client.multi_stream_input(output_format="pcm_16000", inactivity_timeout=2, auto_mode=True) as mux:
        busy = await mux.context("busy")
        idle = await mux.context("idle")
        for n in range(10):  # the socket is never idle for 5 s, but the context "idle" is
            await busy.send(f"Busy {n}. ")
            await asyncio.sleep(0.5)
        await idle.send("Idle no more. ")
        await idle.close()
        await busy.close()
        chunks = [c async for c in idle]
        await mux.close_socket()
        assert await mux.wait_closed(10)
    assert chunks[-1].is_final and idle.timeline.text == "Idle no more. "
    assert busy.timeline.text == "".join(f"Busy {n}. " for n in range(10))


def test_a_key_in_the_first_message_is_redacted_in_the_wire_log(server, caplog):
    secret = "sk-SENTINEL-in-the-body-42"
    caplog.set_level(logging.DEBUG)
    keyed = eleven_nb.Client(api_key=secret, base_url=server.url)
    tts = keyed.websocket_text_to_speech
    ws = tts.connect_stream_input("21m00Tcm4TlvDq8ikWAM", output_format="pcm_16000")
    tts.send_initialize_connection(ws, xi_api_key=secret)  # the gem's "Initialize Connection" shape
    tts.send_text(ws, "Secret kept. ")
    tts.send_close_connection(ws)
    assert ws.wait(10) and ws.close_code == 1000
    assert secret not in caplog.text and '"xi_api_key": "***"' in caplog.text
    assert secret not in repr(keyed) and secret not in repr(ws) and secret not in keyed.endpoint_message
