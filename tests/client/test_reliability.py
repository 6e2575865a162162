"""Reconnect after a killed server (the same port, or a shared server started anew), the embedded server,
and the spellings the server may send."""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import tempfile
import time

import pytest
from aiohttp import web

import eleven_nb
from eleven_nb import local_server
from eleven_nb.client import EndpointError, Reconnect
from eleven_nb.client.endpoint import EmbeddedServer
from eleven_nb.spawn import pid_alive, stop_pid
from tests.client.conftest import start_server

SENTENCES = [f"Sentence number {n} is spoken and must be spoken exactly once. " for n in range(1, 13)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("multi", [False, True])
async def test_reconnect_after_the_server_is_killed_loses_and_repeats_nothing(multi, caplog):
    caplog.set_level(logging.INFO, logger="eleven_nb.client")
    first = start_server()  # a private server: this test kills it
    second = None
    client = eleven_nb.AsyncClient(base_url=first.url,
                              reconnect=Reconnect(max_attempts=20, base_delay=0.1, max_delay=0.5))
    try:
        opener = client.multi_stream_input if multi else client.stream_input
        async with opener(output_format="pcm_16000", auto_mode=True) as conn:
            stream = await conn.context("c1") if multi else conn
            for sentence in SENTENCES[:4]:
                await stream.send(sentence)
            got = 0
            async for chunk in stream:  # some audio has arrived: now kill the server mid-stream
                got += 1
                if got == 3:
                    break
            first.kill()  # SIGKILL by PID, mid-stream
            second = start_server(first.port)  # a new server on the same port
            for sentence in SENTENCES[4:]:
                await stream.send(sentence)
            await stream.close()
            async for chunk in stream:
                if chunk.is_final:
                    break
            if multi:
                await conn.close_socket()
        assert stream.timeline.text == "".join(SENTENCES)  # nothing lost, nothing spoken twice
        assert "reconnected" in caplog.text
    finally:
        first.stop()
        if second is not None:
            second.stop()


async def test_reconnect_after_the_shared_server_is_killed_dials_the_new_one(tmp_path, monkeypatch, caplog):
    """The shared server dies mid-stream: the reconnect asks for the endpoint again, which starts a new
    server (another port, another key), and the text goes on there, nothing lost or spoken twice."""
    caplog.set_level(logging.INFO, logger="eleven_nb.client")
    monkeypatch.setenv(local_server.RUNTIME_DIR_ENV, str(tmp_path / "run"))  # this test's own shared server
    monkeypatch.setenv("ELEVEN_NB_ENGINE", "espeak")
    for name in ("ELEVENLABS_API_KEY", "ELEVEN_NB_BASE_URL", local_server.SHARED_ENV):
        monkeypatch.delenv(name, raising=False)
    sentences = SENTENCES * 3  # a long text: the kill lands well inside it
    client = eleven_nb.AsyncClient(reconnect=Reconnect(max_attempts=5, base_delay=0.1, max_delay=0.5))
    pids: list[int] = []
    try:
        async with client.stream_input(output_format="pcm_16000", auto_mode=True) as stream:
            first = local_server.read(local_server.runtime_path("espeak"))
            assert first is not None and client.endpoint.http_url == first.url
            pids.append(first.pid)
            for sentence in sentences[:6]:
                await stream.send(sentence)
            got = 0
            async for _chunk in stream:  # some audio has arrived: now kill the server mid-stream
                got += 1
                if got == 3:
                    break
            os.kill(first.pid, signal.SIGKILL)
            for sentence in sentences[6:]:
                await stream.send(sentence)
            await stream.close()
            async for chunk in stream:
                if chunk.is_final:
                    break
            second = local_server.read(local_server.runtime_path("espeak"))
            assert second is not None and second.pid != first.pid
            pids.append(second.pid)
        assert stream.timeline.text == "".join(sentences)  # nothing lost, nothing spoken twice
        assert client.endpoint.http_url == second.url and client.endpoint.api_key == second.key != first.key
        assert f"reconnected to {second.url}" in caplog.text
    finally:
        for pid in pids + [info.pid for info in local_server.running()]:
            if pid_alive(pid):
                stop_pid(pid)


def test_gem_connection_reconnects_without_a_second_open(caplog):
    """With reconnect on, the gem API's "open" fires once: its handler's text is not sent twice."""
    caplog.set_level(logging.INFO, logger="eleven_nb.client")
    first = start_server()
    second = None
    client = eleven_nb.Client(base_url=first.url, reconnect=Reconnect(max_attempts=20, base_delay=0.1, max_delay=0.5))
    tts = client.websocket_text_to_speech
    try:
        ws = tts.connect_stream_input("21m00Tcm4TlvDq8ikWAM", output_format="pcm_16000", auto_mode=True)
        opens, audio = [], []

        @ws.on("open")
        def opened(event):
            opens.append(event)
            tts.send_initialize_connection(ws)
            for sentence in SENTENCES[:4]:
                tts.send_text(ws, sentence)

        ws.on("message", lambda event: audio.append(event) if json.loads(event.data)["audio"] else None)
        deadline = time.monotonic() + 10
        while len(audio) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        first.kill()
        second = start_server(first.port)
        for sentence in SENTENCES[4:]:
            tts.send_text(ws, sentence)
        tts.send_close_connection(ws)
        assert ws.wait(30) and ws.close_code == 1000
        assert len(opens) == 1 and ws.timeline.text == "".join(SENTENCES)
        assert "reconnected" in caplog.text
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_private_embedded_server_starts_once_is_reused_and_stops(monkeypatch):
    monkeypatch.setenv("ELEVEN_NB_ENGINE", "espeak")
    embedded = EmbeddedServer(shared=False)
    try:
        endpoint = embedded.endpoint()
        pid = embedded.pid
        assert endpoint.http_url.startswith("http://127.0.0.1:") and pid and endpoint.kind == "embedded"
        assert embedded.endpoint() == endpoint and embedded.pid == pid  # reused
        assert embedded.serves(endpoint)
    finally:
        embedded.close()
    assert embedded.pid is None and not embedded.serves(endpoint)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("shared", [False, True])
def test_an_embedded_server_that_cannot_start_is_an_endpoint_error(monkeypatch, tmp_path, shared):
    monkeypatch.setenv("ELEVEN_NB_ENGINE", "no-such-engine")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # its log (kept: it says why) stays out of /tmp
    with pytest.raises(EndpointError, match="exited with code"):
        EmbeddedServer(shared=shared).endpoint()


def test_client_without_configuration_uses_the_shared_server_and_prints_nothing(monkeypatch, capsys, caplog):
    caplog.set_level(logging.INFO, logger="eleven_nb")
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    monkeypatch.delenv("ELEVEN_NB_BASE_URL", raising=False)
    monkeypatch.setenv("ELEVEN_NB_ENGINE", "espeak")
    client = eleven_nb.Client()
    voices = client.list_voices()
    endpoint = client.endpoint
    assert endpoint.kind == "embedded" and voices and endpoint.api_key  # the shared server's key
    assert endpoint.label == f"local voice server ({endpoint.http_url.split('://')[1]})"
    assert capsys.readouterr().err == ""  # no stderr block in a notebook
    assert "local voice server" in caplog.text and endpoint.api_key not in caplog.text


async def old_spelling_server(request):
    """A stand-in for the real service's older/variant spellings (docs/protocol.md §5)."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.receive()  # the first message
    chunk = {"audio": "AAAAAA==", "is_final": False, "context_id": "c1",
             "alignment": {"chars": ["H", "i"], "charsStartTimesMs": [0, 40], "charsDurationsMs": [40, 40]},
             "normalized_alignment": None}
    await ws.send_str(json.dumps(chunk))
    await ws.send_str(json.dumps({"type": "flush_done", "context_id": "c1", "flush_done": True}))
    await ws.send_str(json.dumps({"audio": None, "is_final": True, "context_id": "c1"}))
    await ws.close()
    return ws


async def test_both_spellings_of_server_fields(unused_tcp_port_factory=None):
    app = web.Application()
    app.router.add_get("/v1/text-to-speech/{voice}/multi-stream-input", old_spelling_server)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        client = eleven_nb.AsyncClient(base_url=f"http://127.0.0.1:{port}", keepalive=False)
        async with client.multi_stream_input(output_format="pcm_16000") as mux:
            ctx = await mux.context("c1")
            chunks = [c async for c in ctx]
        assert [c.is_final for c in chunks] == [False, True]
        assert chunks[0].context_id == "c1" and ctx.timeline.text == "Hi"
        assert ctx.timeline.durations_ms == [40.0, 40.0]
    finally:
        await runner.cleanup()
