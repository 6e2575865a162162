"""Clients written for the real service, unchanged, against the local server; gunicorn workers."""
from __future__ import annotations

import json
import sys

import aiohttp
import pytest

from eleven_nb import protocol
from eleven_nb.audio import decode_all
from tests.conftest import free_port, start_process, stop_process, wait_for_port


def sdk_client(server):
    from elevenlabs.client import ElevenLabs

    client = ElevenLabs(api_key="any-key", base_url=server.url)
    # The SDK forces wss://; docs/protocol.md §11: point it at a plain ws:// server.
    client.text_to_speech._ws_base_url = server.url.replace("http://", "ws://")
    return client


def test_official_sdk_convert_realtime_streams_audio(espeak_server):
    client = sdk_client(espeak_server)
    text = ["Hello there. ", "This comes from the official ", "ElevenLabs SDK, ", "unchanged."]
    chunks = list(client.text_to_speech.convert_realtime(
        voice_id="21m00Tcm4TlvDq8ikWAM", text=iter(text), model_id="eleven_flash_v2_5",
        output_format="mp3_44100_128"))
    assert len(chunks) >= 2
    pcm, rate = decode_all(b"".join(chunks), protocol.parse_output_format("mp3_44100_128"))
    assert rate == 44100 and 2.0 < len(pcm) / rate < 10.0


def test_official_sdk_sees_server_errors_as_api_errors(keyed_server):
    from elevenlabs.core.api_error import ApiError

    client = sdk_client(keyed_server)  # a key the server does not know
    with pytest.raises(ApiError) as info:
        list(client.text_to_speech.convert_realtime(voice_id="21m00Tcm4TlvDq8ikWAM", text=iter(["Hi. "])))
    assert info.value.status_code == 1008


@pytest.mark.asyncio
async def test_gunicorn_workers_serve_the_app(tmp_path):
    pytest.importorskip("gunicorn")
    port = free_port()
    proc = start_process([sys.executable, "-m", "gunicorn", "eleven_nb.server.app:gunicorn_app",
                          "--worker-class", "aiohttp.GunicornWebWorker", "--workers", "2",
                          "--bind", f"127.0.0.1:{port}", "--timeout", "60"],
                         env={"ELEVEN_NB_ENGINE": "espeak"})
    try:
        wait_for_port(port, proc=proc)
        url = f"ws://127.0.0.1:{port}/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream-input?output_format=pcm_16000"
        async with aiohttp.ClientSession() as http:
            for _ in range(4):  # several connections, spread over the workers
                async with http.ws_connect(url) as ws:
                    for m in (protocol.initialize_connection(), protocol.send_text("Gunicorn works. "),
                              protocol.close_connection()):
                        await ws.send_json(m)
                    frames = [json.loads(m.data) async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
                assert frames[-1]["isFinal"] is True and ws.close_code == 1000
                assert "".join("".join(f["alignment"]["chars"]) for f in frames if f.get("alignment")) \
                    == "Gunicorn works. "
    finally:
        stop_process(proc)
