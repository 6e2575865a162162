"""The HTTP text-to-speech endpoints, called by the official ElevenLabs SDK itself.

The SDK is pointed at the local server with nothing but ``base_url``; every call the
issue names (convert, stream, convert_with_timestamps, stream_with_timestamps,
voices.search) runs against the real server and the real espeak-ng engine.
"""
from __future__ import annotations

import asyncio
import base64
import json
import threading
import time

import aiohttp
import numpy as np
import pytest

from eleven_nb.audio import decode_all
from eleven_nb.protocol import parse_output_format
from eleven_nb.server.app import build_state
from eleven_nb.server.engines.espeak import EspeakEngine
from tests.conftest import ThreadedServer

elevenlabs = pytest.importorskip("elevenlabs")
TEXT = "Hello there. This is the local server, speaking over plain HTTP."


@pytest.fixture(scope="module")
def sdk(espeak_server):
    return elevenlabs.ElevenLabs(api_key="unused", base_url=espeak_server.url)


def _seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


def test_convert_gives_the_whole_audio(sdk):
    audio = b"".join(sdk.text_to_speech.convert("espeak-en-us", text=TEXT, output_format="pcm_16000"))
    assert 2.0 < _seconds(audio, 16000) < 10.0
    assert np.abs(np.frombuffer(audio, "<i2")).max() > 1000  # speech, not silence


@pytest.mark.parametrize("fmt", ["mp3_44100_128", "mp3_24000_48"])
def test_convert_mp3_is_one_valid_stream(sdk, fmt):
    audio = b"".join(sdk.text_to_speech.convert("21m00Tcm4TlvDq8ikWAM", text=TEXT, output_format=fmt))
    pcm, rate = decode_all(audio, parse_output_format(fmt))
    assert rate == parse_output_format(fmt).sample_rate and 2.0 < len(pcm) / rate < 10.0


def test_convert_wav_is_one_readable_file(sdk):
    import io
    import wave

    audio = b"".join(sdk.text_to_speech.convert("espeak-en-us", text=TEXT, output_format="wav_22050"))
    with wave.open(io.BytesIO(audio)) as read:
        assert read.getframerate() == 22050 and 2.0 < len(read.readframes(10**9)) / 2 / 22050 < 10.0


def test_stream_arrives_in_pieces(sdk):
    chunks = list(sdk.text_to_speech.stream("espeak-en-us", text=TEXT * 3, output_format="pcm_22050"))
    assert len(chunks) > 1
    assert _seconds(b"".join(chunks), 22050) > 6.0


def test_convert_with_timestamps_covers_the_text_in_seconds(sdk):
    result = sdk.text_to_speech.convert_with_timestamps("espeak-en-us", text=TEXT, output_format="pcm_22050")
    audio = base64.b64decode(result.audio_base_64)
    alignment = result.alignment
    assert "".join(alignment.characters) == TEXT
    starts, ends = alignment.character_start_times_seconds, alignment.character_end_times_seconds
    assert starts == sorted(starts) and all(e >= s for s, e in zip(starts, ends))
    assert ends[-1] <= _seconds(audio, 22050) + 0.01
    assert result.normalized_alignment is not None


def test_stream_with_timestamps_times_are_absolute(sdk):
    text = "First sentence here. Second sentence there. Third one at last."
    pieces = list(sdk.text_to_speech.stream_with_timestamps("espeak-en-us", text=text, output_format="pcm_22050"))
    assert len(pieces) >= 3
    chars = [c for p in pieces if p.alignment for c in p.alignment.characters]
    starts = [s for p in pieces if p.alignment for s in p.alignment.character_start_times_seconds]
    assert "".join(chars) == text
    assert starts == sorted(starts) and starts[-1] > 1.0  # later sentences do not restart at 0


def test_voices_search(sdk):
    result = sdk.voices.search(search="espeak", page_size=2)
    assert len(result.voices) == 2 and result.has_more and result.total_count >= 3
    assert all("espeak" in v.voice_id for v in result.voices)
    rest = sdk.voices.search(search="espeak", page_size=100, next_page_token=result.next_page_token)
    assert not {v.voice_id for v in rest.voices} & {v.voice_id for v in result.voices}


def test_errors_follow_the_real_api(sdk):
    from elevenlabs.core.api_error import ApiError

    with pytest.raises(ApiError) as unknown:
        b"".join(sdk.text_to_speech.convert("no-such-voice", text=TEXT))
    assert unknown.value.status_code == 404 and unknown.value.body["detail"]["status"] == "voice_not_found"
    with pytest.raises(ApiError) as bad:
        b"".join(sdk.text_to_speech.convert("espeak-en-us", text=TEXT, voice_settings={"speed": 3.0}))
    assert bad.value.status_code == 422


async def test_malformed_bodies_are_422_not_500(espeak_server):
    url = f"{espeak_server.url}/v1/text-to-speech/espeak-en-us"
    async with aiohttp.ClientSession() as http:
        for body in (b"not json", b"[1, 2]", json.dumps({"text": 5}).encode(), json.dumps({}).encode(),
                     json.dumps({"text": "   "}).encode(), b'{"text": "bad \\ud800 surrogate"}'):
            async with http.post(url, data=body, headers={"content-type": "application/json"}) as response:
                assert response.status == 422, body
                assert "detail" in await response.json()


def test_keys_are_enforced(keyed_server):
    from elevenlabs.core.api_error import ApiError

    with pytest.raises(ApiError) as refused:
        b"".join(elevenlabs.ElevenLabs(api_key="wrong", base_url=keyed_server.url)
                 .text_to_speech.convert("espeak-en-us", text=TEXT))
    assert refused.value.status_code == 401
    ok = elevenlabs.ElevenLabs(api_key="key-two", base_url=keyed_server.url)
    assert b"".join(ok.text_to_speech.convert("espeak-en-us", text=TEXT, output_format="pcm_16000"))


class SlowEngine(EspeakEngine):
    """The real espeak-ng engine, taking 50 ms per utterance and counting them."""

    def __init__(self) -> None:
        super().__init__()
        self.spoken = 0
        self.lock = threading.Lock()

    def synthesize(self, text, voice_id, settings):
        for utterance in super().synthesize(text, voice_id, settings):
            time.sleep(0.05)
            with self.lock:
                self.spoken += 1
            yield utterance


def slow_server(**options) -> tuple[ThreadedServer, SlowEngine]:
    state = build_state("espeak", **options)
    engine = SlowEngine()
    for voice_id, choice in list(state.voices.items()):
        state.voices[voice_id] = type(choice)(choice.info, engine)
    return ThreadedServer(state), engine


LONG = " ".join(f"This is sentence number {i}." for i in range(200))
ENDPOINTS = ["", "/stream", "/with-timestamps", "/stream/with-timestamps"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_every_response_is_sent_as_it_is_made_and_a_client_that_leaves_stops_it(endpoint):
    """Even the whole-audio and the one-object answers start before the synthesis ends (a 100,000-character
    text is never held whole: /with-timestamps copied its audio for every utterance, quadratic), and a
    client that leaves stops the synthesis (convert and /with-timestamps went on to the end)."""
    server, engine = slow_server()
    try:
        async with aiohttp.ClientSession() as http:
            response = await http.post(f"{server.server.url}/v1/text-to-speech/espeak-en-us{endpoint}",
                                       json={"text": LONG}, params={"output_format": "pcm_16000"})
            await response.content.readexactly(16000)  # some of the answer arrived...
            assert engine.spoken < 100  # ...long before the last sentence was spoken
            response.close()  # then the client goes away
        await asyncio.sleep(1.0)
        stopped_at = engine.spoken
        await asyncio.sleep(0.5)
        assert engine.spoken == stopped_at < 100  # nothing more was synthesised after the client left
    finally:
        server.stop()


def test_with_timestamps_written_in_pieces_is_one_valid_object(sdk):
    """/with-timestamps' object is written as the audio comes: its base64 joins into one valid string."""
    text = " ".join(f"Piece {i} of a longer text, spoken in many utterances." for i in range(12))
    answer = sdk.text_to_speech.convert_with_timestamps("espeak-en-us", text=text, output_format="pcm_16000")
    pcm = base64.b64decode(answer.audio_base_64, validate=True)
    assert "".join(answer.alignment.characters) == text
    ends = answer.alignment.character_end_times_seconds
    assert ends[-1] <= _seconds(pcm, 16000) + 0.01 and 10 < _seconds(pcm, 16000)
    whole = b"".join(sdk.text_to_speech.convert("espeak-en-us", text=text, output_format="pcm_16000"))
    assert abs(len(whole) - len(pcm)) <= 0.02 * len(whole)  # as long as convert's (espeak-ng varies a little)


class FailingEngine(EspeakEngine):
    """The real espeak-ng engine, failing as an engine does (a RuntimeError) at its ``fail_at``-th utterance
    (counted over all its calls: the server gives it a long text in pieces)."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at, self.spoken = fail_at, 0

    def synthesize(self, text, voice_id, settings):
        for utterance in super().synthesize(text, voice_id, settings):
            if self.spoken == self.fail_at:
                raise RuntimeError("synthesis failed with status -1")
            self.spoken += 1
            yield utterance


@pytest.mark.parametrize("endpoint", ["", "/with-timestamps"])
async def test_a_failed_synthesis_is_a_500_or_a_cut_answer_never_a_complete_one(endpoint):
    """The status goes with the first piece: a synthesis failing at once is a 500; one failing later cuts
    the connection (a clean 200 with a short body, or JSON cut mid-string, looked complete)."""
    for fail_at, cut in ((0, False), (2, True)):
        state = build_state("espeak")
        engine = FailingEngine(fail_at)
        for voice_id, choice in list(state.voices.items()):
            state.voices[voice_id] = type(choice)(choice.info, engine)
        server = ThreadedServer(state)
        try:
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{server.server.url}/v1/text-to-speech/espeak-en-us{endpoint}",
                                     json={"text": LONG}, params={"output_format": "pcm_16000"}) as response:
                    if not cut:
                        assert response.status == 500
                        continue
                    assert response.status == 200
                    with pytest.raises(aiohttp.ClientPayloadError):
                        await response.read()
        finally:
            server.stop()


async def raw_request(url: str, head: bytes, body: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head + body)
    await writer.drain()
    return reader, writer


async def test_a_body_that_never_arrives_is_refused_in_time(espeak_server, monkeypatch):
    """A body sent a byte at a time (or never) held a connection for good; it gets 408 at the deadline."""
    from eleven_nb.server import http_tts

    monkeypatch.setattr(http_tts, "REQUEST_TIMEOUT", 0.5)
    head = (b"POST /v1/text-to-speech/espeak-en-us HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n")
    reader, writer = await raw_request(espeak_server.url, head, b'{"te')
    try:
        answer = await asyncio.wait_for(reader.read(), 5)  # the server answers, then closes
        assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer
    finally:
        writer.close()


async def test_a_client_that_stops_reading_is_dropped_and_its_synthesis_stopped(monkeypatch):
    from eleven_nb.server import http_tts

    monkeypatch.setattr(http_tts, "SEND_TIMEOUT", 0.5)
    state = build_state("espeak")
    server = ThreadedServer(state)
    try:
        body = json.dumps({"text": LONG * 3}).encode()
        head = (b"POST /v1/text-to-speech/espeak-en-us/stream?output_format=pcm_48000 HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        reader, writer = await raw_request(server.server.url, head, body)
        try:
            deadline = time.monotonic() + 20
            while state.http_syntheses == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            while state.http_syntheses and time.monotonic() < deadline:  # the client never reads
                await asyncio.sleep(0.1)
            assert state.http_syntheses == 0  # dropped once the socket's buffers were full for 0.5 s
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
                await asyncio.wait_for(reader.readexactly(1 << 30), 10)  # what was buffered, then the cut
        finally:
            writer.close()
    finally:
        server.stop()


async def test_syntheses_and_sockets_together_are_bounded():
    server, engine = slow_server(max_connections=1)
    try:
        url = f"{server.server.url}/v1/text-to-speech/espeak-en-us/stream"
        async with aiohttp.ClientSession() as http:
            first = await http.post(url, json={"text": LONG})
            await first.content.readexactly(1000)
            async with http.post(url, json={"text": "Hello."}) as second:
                assert second.status == 429
                assert (await second.json())["detail"]["status"] == "too_many_concurrent_requests"
            first.close()
    finally:
        server.stop()


async def test_a_key_that_is_not_utf8_is_a_wrong_key_not_a_crash(keyed_server):
    body = json.dumps({"text": "Hello."}).encode()
    for header in (b"xi-api-key: \xff\xfe", b"xi-api-key: key-one\x80", b"Authorization: Bearer \xff"):
        head = (b"POST /v1/text-to-speech/espeak-en-us HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + header
                + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        reader, writer = await raw_request(keyed_server.url, head, body)
        try:
            answer = await asyncio.wait_for(reader.read(), 10)
            assert answer.startswith(b"HTTP/1.1 401"), (header, answer[:200])
        finally:
            writer.close()


def test_client_convert_gives_audio_and_timeline(espeak_server, tmp_path):
    from eleven_nb import Client

    speech = Client(base_url=espeak_server.url).convert("espeak-en-us", TEXT, output_format="pcm_22050",
                                                       voice_settings={"speed": 1.1})
    assert speech.timeline.text == TEXT
    assert [w.text for w in speech.timeline.words()][:2] == ["Hello", "there."]
    assert abs(speech.timeline.end_ms / 1000 - _seconds(speech.audio, 22050)) < 0.2
    assert speech.save(tmp_path / "hello.wav").stat().st_size > 44


async def test_async_client_convert_and_its_errors(espeak_server):
    from eleven_nb import AsyncClient
    from eleven_nb.client import ServerError

    client = AsyncClient(base_url=espeak_server.url)
    speech = await client.convert("espeak-en-us", "Short one.", output_format="mp3_44100_128")
    pcm, rate = decode_all(speech.audio, speech.format)
    assert rate == 44100 and 0.3 < len(pcm) / rate < 3.0
    with pytest.raises(ServerError) as unknown:
        await client.convert("no-such-voice", "Hello.")
    assert unknown.value.error == "voice_not_found" and unknown.value.code == 404
    with pytest.raises(ValueError):
        await client.convert("espeak-en-us", "   ")


def test_normalized_alignment_is_the_text_as_spoken(sdk):
    text = 'I have 2 cats <break time="0.5s"/> now.'
    result = sdk.text_to_speech.convert_with_timestamps("espeak-en-us", text=text, output_format="pcm_16000")
    assert "".join(result.alignment.characters) == text  # the text sent, tag included
    spoken = "".join(result.normalized_alignment.characters)
    assert spoken.startswith(" ") and "two" in spoken and "<" not in spoken
    off = sdk.text_to_speech.convert_with_timestamps("espeak-en-us", text="I have 2 cats.",
                                                      apply_text_normalization="off", output_format="pcm_16000")
    assert "".join(off.normalized_alignment.characters) == " I have 2 cats."


def test_unreadable_ssml_is_a_422_before_any_audio(espeak_server):
    import httpx

    for path in ("", "/stream", "/stream/with-timestamps"):
        response = httpx.post(f"{espeak_server.url}/v1/text-to-speech/espeak-en-us{path}",
                              json={"text": 'Hello <break time="x"/> there'})
        assert response.status_code == 422, path
        assert "SSML" in response.json()["detail"][0]["msg"]


async def test_voice_lookups_and_pages_answer_like_the_real_api(espeak_server):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{espeak_server.url}/v1/voices/nope") as missing:
            assert missing.status == 404 and (await missing.json())["detail"]["status"] == "voice_not_found"
        async with http.get(f"{espeak_server.url}/v2/voices", params={"page_size": "abc"}) as bad:
            assert bad.status == 422 and (await bad.json())["detail"][0]["loc"] == ["query", "page_size"]
        async with http.get(f"{espeak_server.url}/v2/voices", params={"page_size": 2, "next_page_token": -2}) as page:
            first = await page.json()
        async with http.get(f"{espeak_server.url}/v2/voices", params={"page_size": 2}) as page:
            assert first == await page.json()  # a negative token is the first page, not an empty one
