"""The client's async core against the real local server (espeak-ng) over loopback."""
from __future__ import annotations

import asyncio
import logging
import wave

import pytest

import eleven_nb
from eleven_nb.client import ServerError
from eleven_nb.client.endpoint import resolve_endpoint

TEXT = "Hello there! How are you doing today? This is streaming text-to-speech!"


@pytest.fixture
def client(server):
    return eleven_nb.AsyncClient(base_url=server.url)


async def test_stream_input_send_flush_close_iterate(client, tmp_path):
    async with client.stream_input(output_format="pcm_16000", sync_alignment=True,
                                   voice_settings={"stability": 0.5}) as stream:
        await stream.send("Hello there! ")
        await stream.send("How are you doing today? ", try_trigger_generation=True)
        await stream.flush()
        await stream.send("This is streaming text-to-speech!")
        await stream.close()
        chunks = [chunk async for chunk in stream]
    assert chunks[-1].is_final and not any(c.is_final for c in chunks[:-1])
    # flush() sends {"text": " ", "flush": true}, as the WebSocket guide does: that space is text too
    assert stream.timeline.text == TEXT.replace("today? ", "today?  ")
    assert all(c.audio and c.format.name == "pcm_16000" for c in chunks[:-1])
    starts = [c.start_ms for c in chunks]
    assert starts == sorted(starts) and starts[0] == 0
    assert chunks[-1].start_ms == stream.timeline.end_ms > 0  # the final stands at the end, not at 0
    words = stream.timeline.words()
    assert [w.text for w in words][:2] == ["Hello", "there!"] and words[-1].end_ms <= stream.timeline.audio_ms + 1
    path = stream.save(tmp_path / "out.wav")
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == 16000 and wav.getnframes() == len(stream.audio()) // 2
    assert "WEBVTT" in stream.timeline.to_vtt() and "-->" in stream.timeline.to_srt()


async def test_audio_arrives_before_the_last_text_is_sent(client):
    async with client.stream_input(output_format="pcm_16000", auto_mode=True) as stream:
        await stream.send("The first sentence is spoken at once. ")
        first = await asyncio.wait_for(stream.__anext__(), 10)  # before anything else is sent
        assert first.audio
        await stream.send("The second comes later. ")
        await stream.close()
        rest = [c async for c in stream]
    assert rest[-1].is_final


async def test_decode_gives_pcm_for_mp3(client):
    async with client.stream_input(output_format="mp3_44100_64", decode=True, sync_alignment=True) as stream:
        await stream.send("Decoded in the client. ")
        await stream.close()
        chunks = [c async for c in stream]
    pcm = sum(len(c.pcm) for c in chunks if c.pcm is not None)
    assert 0.8 < pcm / 44100 < 4


async def test_multi_stream_input_contexts(client):
    async with client.multi_stream_input(output_format="pcm_16000", sync_alignment=True) as mux:
        one = await mux.context("speaker_1", voice_settings={"stability": 0.5, "similarity_boost": 0.8})
        two = await mux.context("speaker_2", voice_settings={"stability": 0.3, "similarity_boost": 0.9})
        await one.send("Hello, I'm speaker one. ")
        await two.send("And I'm speaker two! ")
        await one.flush()
        await two.keep_alive()
        await one.close()
        await two.close()
        await mux.close_socket()
        seen = [chunk async for chunk in mux]
        assert await mux.wait_closed(5) and mux.close_code == 1000
    assert {c.context_id for c in seen} == {"speaker_1", "speaker_2"}
    assert one.timeline.text == "Hello, I'm speaker one. " and two.timeline.text == "And I'm speaker two! "
    assert one.done and two.done


async def test_iterating_one_context(client):
    async with client.multi_stream_input(output_format="pcm_16000", sync_alignment=True) as mux:
        ctx = await mux.context("only")
        await ctx.send("Just this one. ")
        await ctx.close()
        chunks = [c async for c in ctx]
        assert chunks[-1].is_final and chunks[-1].context_id == "only"
        await mux.close_socket()


async def test_bad_options_fail_before_connecting(client):
    for kwargs, words in [({"inactivity_timeout": 200}, "180"), ({"speed": 2}, "unknown connection option"),
                          ({"output_format": "flac"}, "not supported"), ({"seed": -3}, "seed")]:
        with pytest.raises(ValueError, match=words):
            client.stream_input(**kwargs)
    with pytest.raises(ValueError, match="speed"):
        async with client.stream_input(voice_settings={"speed": 1.5}):
            pass


async def test_server_errors_are_typed_exceptions(client):
    async with client.stream_input("no-such-voice") as stream:
        with pytest.raises(ServerError) as info:
            async for _ in stream:
                pass
    assert info.value.error == "voice_not_found" and info.value.code == 1008
    assert "espeak" in info.value.message


async def test_keep_alive_outlives_the_inactivity_timeout(client):
    async with client.stream_input(output_format="pcm_16000", inactivity_timeout=2) as stream:
        await asyncio.sleep(5)  # idle for more than twice the timeout
        await stream.send("Still connected. ")
        await stream.close()
        chunks = [c async for c in stream]
    assert chunks[-1].is_final and stream.timeline.text.strip() == "Still connected."
    assert stream.timeline.text.startswith("  ")  # the keep-alive spaces were sent, and spoken as silence
    assert stream.unspoken_text == ""  # what was sent, keep-alives included, is exactly what was aligned


async def test_without_keep_alive_the_timeout_closes(server):
    quiet = eleven_nb.AsyncClient(base_url=server.url, keepalive=False)
    async with quiet.stream_input(inactivity_timeout=1) as stream:
        with pytest.raises(ServerError) as info:
            async for _ in stream:
                pass
    assert info.value.error == "input_timeout_exceeded"


async def test_memory_is_bounded(server):
    small = eleven_nb.AsyncClient(base_url=server.url, max_buffered_chunks=2)
    async with small.stream_input(output_format="pcm_16000", sync_alignment=True) as stream:
        await stream.send("A text long enough to need several chunks of audio, more than two at least. ")
        await stream.close()
        chunks = [c async for c in stream]
    assert len(chunks) > 3 and stream.dropped_chunks == len(chunks) - 1 - 2
    assert len(stream.audio()) == sum(len(c.audio) for c in chunks[-3:-1])


async def test_key_never_in_repr_or_logs(server, caplog):
    secret = "sk-SENTINEL-0123456789"
    keyed = eleven_nb.AsyncClient(api_key=secret, base_url=server.url)
    caplog.set_level(logging.DEBUG)
    async with keyed.stream_input(output_format="pcm_16000") as stream:
        await stream.send("Keys stay secret. ")
        await stream.close()
        [c async for c in stream]
    assert secret not in repr(keyed) and secret not in repr(keyed.endpoint)
    assert secret not in caplog.text and '"text": "Keys stay secret. "' in caplog.text  # the wire log ran


def test_endpoint_resolution(monkeypatch):
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    monkeypatch.delenv("ELEVEN_NB_BASE_URL", raising=False)
    assert resolve_endpoint(api_key="k").kind == "real"
    assert resolve_endpoint(api_key="k").ws_url("v", "stream-input", {}) == \
        "wss://api.elevenlabs.io/v1/text-to-speech/v/stream-input"
    monkeypatch.setenv("ELEVEN_NB_BASE_URL", "http://127.0.0.1:9")
    custom = resolve_endpoint()
    assert custom.kind == "custom" and custom.ws_url("v", "multi-stream-input", {"a": "b"}) == \
        "ws://127.0.0.1:9/v1/text-to-speech/v/multi-stream-input?a=b"
    monkeypatch.setenv("ELEVENLABS_API_KEY", "env-key")
    assert resolve_endpoint().kind == "real" and resolve_endpoint().headers() == {"xi-api-key": "env-key"}
    assert resolve_endpoint(base_url="127.0.0.1:5").http_url == "http://127.0.0.1:5"


def test_the_blocking_twin_from_a_plain_script(server):
    client = eleven_nb.Client(base_url=server.url)
    with client.stream_input(output_format="pcm_16000", sync_alignment=True) as stream:
        stream.send("Plain scripts work too. ")
        stream.close()
        chunks = list(stream)
        stream.wait(5)
    assert chunks[-1].is_final and stream.timeline.text == "Plain scripts work too. " and stream.done
    assert stream.close_code == 1000 and stream.unspoken_text == "" and len(stream.audio()) > 1000
    with client.multi_stream_input(output_format="pcm_16000", sync_alignment=True) as mux:
        ctx = mux.context("a", voice_settings={"stability": 0.4})
        ctx.send("One context. ")
        ctx.close()
        assert [c.is_final for c in ctx][-1] is True
        mux.close_socket()
        assert mux.wait_closed(10) and mux.close_code == 1000
    assert ctx.timeline.text == "One context. " and mux.contexts == {"a": ctx} and ctx.context_id == "a"


async def test_each_twin_says_which_one_to_use(server):
    with pytest.raises(TypeError, match="AsyncClient"):
        async with eleven_nb.Client(base_url=server.url).stream_input():
            pass
    with pytest.raises(TypeError, match="eleven_nb.Client"), eleven_nb.AsyncClient(base_url=server.url).stream_input():
        pass


async def test_discovery_in_both_twins(server):
    voices = eleven_nb.Client(base_url=server.url).list_voices()
    assert voices == await eleven_nb.AsyncClient(base_url=server.url).list_voices()
    assert any(v["voice_id"] for v in voices)
    models = await eleven_nb.AsyncClient(base_url=server.url).list_models()
    assert models == eleven_nb.Client(base_url=server.url).list_models() and models
    with pytest.raises(eleven_nb.client.EndpointError, match="/v1/voices"):
        await eleven_nb.AsyncClient(base_url="http://127.0.0.1:9").list_voices()
    with pytest.raises(eleven_nb.client.EndpointError, match="/v1/models"):
        eleven_nb.Client(base_url="http://127.0.0.1:9").list_models()


async def test_sending_after_a_normal_close_says_the_connection_is_closed(client):
    from eleven_nb.client import ConnectionClosedError

    async with client.stream_input(output_format="pcm_16000") as stream:
        await stream.send("Goodbye. ")
        await stream.close()
        [c async for c in stream]
        await stream._socket.wait_closed(10)
        with pytest.raises(ConnectionClosedError, match=r"^the connection is closed \(code 1000\)"):
            await stream.send("too late ")
