"""The local server over real loopback WebSockets (espeak-ng engine).

The protocol's rules are tested on strings in tests/protocol; these check that
the aiohttp driver, the engine and the encoders carry them onto a real socket."""
from __future__ import annotations

import asyncio
import base64
import json

import aiohttp
import numpy as np
import pytest

from eleven_nb import protocol
from eleven_nb.alignment import Timeline
from eleven_nb.audio import decode_all



async def exchange(url, messages, *, headers=None, timeout=30.0, pause=0.0):
    """Send ``messages`` (dicts or raw str/bytes), then read until the server closes.

    Returns (frames as dicts, close code, close reason)."""
    frames = []
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url, headers=headers or {}, max_msg_size=protocol.CLIENT_MAX_FRAME) as ws:
            for m in messages:
                if isinstance(m, bytes):
                    await ws.send_bytes(m)
                else:
                    await ws.send_str(m if isinstance(m, str) else json.dumps(m))
                if pause:
                    await asyncio.sleep(pause)
            reason = ""
            async with asyncio.timeout(timeout):
                while True:
                    msg = await ws.receive()
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        assert len(msg.data) < protocol.MAX_OUTPUT_FRAME
                        frames.append(json.loads(msg.data))
                    elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                        reason = msg.extra or ""
                        break
            return frames, ws.close_code, reason


def audio_frames(frames):
    return [f for f in frames if f.get("audio")]


def spoken_text(frames, key="alignment"):
    return "".join("".join(f[key]["chars"]) for f in frames if f.get(key))


def audio_bytes(frames):
    return b"".join(base64.b64decode(f["audio"]) for f in audio_frames(frames))


TEXT = "Hello there! How are you doing today? This is streaming text-to-speech!"


async def test_stream_input_basic_flow(espeak_server):
    url = espeak_server.ws_url(output_format="pcm_16000", sync_alignment=True)
    frames, code, _ = await exchange(url, [
        protocol.initialize_connection(voice_settings={"stability": 0.5, "similarity_boost": 0.8}),
        protocol.send_text("Hello there! "), protocol.send_text("How are you doing today? "),
        protocol.send_text("This is streaming text-to-speech!", try_trigger_generation=True),
        protocol.close_connection(),
    ])
    assert code == 1000
    assert frames[-1] == {"audio": None, "isFinal": True, "normalizedAlignment": None, "alignment": None}
    assert all(f["isFinal"] is None and "contextId" not in f for f in frames[:-1])
    assert spoken_text(frames) == TEXT  # spaces and punctuation included
    spoken = spoken_text(frames, "normalizedAlignment")  # the text as spoken: each generation starts with " "
    assert spoken.startswith(" ") and spoken.split() == TEXT.split() and "  " not in spoken.replace("streaming  ", "")
    pcm = audio_bytes(frames)
    seconds = len(pcm) / 2 / 16000
    assert 2.5 < seconds < 12, seconds
    for f in audio_frames(frames):
        a = f["alignment"]
        assert len(a["chars"]) == len(a["charStartTimesMs"]) == len(a["charDurationsMs"])
        frame_ms = len(base64.b64decode(f["audio"])) / 32
        assert all(0 <= s <= frame_ms + 1 for s in a["charStartTimesMs"])  # relative to the chunk


async def test_schedule_holds_text_until_flush_and_flush_sends_no_final(espeak_server):
    url = espeak_server.ws_url(output_format="pcm_16000")
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_json(protocol.initialize_connection())
        await ws.send_json(protocol.send_text("Short text under the schedule. "))
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=0.5)  # 31 characters < 120: nothing generated yet
        await ws.send_json(protocol.send_text(" ", flush=True))  # a bare flush
        first = json.loads((await ws.receive(timeout=10)).data)
        assert first["audio"] and first["isFinal"] is None
        got = [first]
        while True:
            try:
                got.append(json.loads((await ws.receive(timeout=1.0)).data))
            except asyncio.TimeoutError:
                break
        assert not any(f["isFinal"] for f in got) and not ws.closed  # flush keeps the socket open
        await ws.send_json(protocol.close_connection())
        last = [json.loads(m.data) async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
        assert last[-1]["isFinal"] is True and ws.close_code == 1000


async def test_sync_alignment_off_puts_timing_on_first_chunk_of_each_generation(espeak_server):
    text = "This sentence is long enough to span more than one half-second frame of audio, surely. " * 2
    on, _, _ = await exchange(espeak_server.ws_url(output_format="pcm_16000", sync_alignment=True),
                              [protocol.initialize_connection(), protocol.send_text(text), protocol.close_connection()])
    off, _, _ = await exchange(espeak_server.ws_url(output_format="pcm_16000"),
                               [protocol.initialize_connection(), protocol.send_text(text), protocol.close_connection()])
    assert all(f["alignment"] for f in audio_frames(on))
    assert len(audio_frames(off)) > 2
    assert any(f["alignment"] is None for f in audio_frames(off))
    assert audio_frames(off)[0]["alignment"] is not None
    assert spoken_text(on) == spoken_text(off) == text


async def test_keep_alive_resets_the_timer_then_timeout_closes_1008(espeak_server):
    url = espeak_server.ws_url(output_format="pcm_16000", inactivity_timeout=1)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_json(protocol.initialize_connection())
        for _ in range(3):  # 1.8 s of keep-alives, more than the timeout
            await asyncio.sleep(0.6)
            await ws.send_json(protocol.keep_alive())
        assert not ws.closed
        started = loop.time()
        msg = await ws.receive(timeout=10)
        error = json.loads(msg.data)
        assert 0.7 < loop.time() - started < 2.5
        assert error == protocol.ProtocolError.of("input_timeout_exceeded", timeout=1).to_message()
        await ws.receive(timeout=5)
        assert ws.close_code == 1008


@pytest.mark.parametrize("bad", ["not json", b"\x00binary", '{"text": "\\ud800 "}', '{"context_id": "\\udc00"}'])
async def test_bad_frames_get_invalid_input_message_and_others_keep_going(espeak_server, bad):
    url = espeak_server.ws_url(output_format="pcm_16000")
    good = exchange(url, [protocol.initialize_connection(), protocol.send_text("Still fine. "),
                          protocol.close_connection()], pause=0.05)
    bad_run = exchange(url, [protocol.initialize_connection(), bad, protocol.send_text("ignored ")])
    (good_frames, good_code, _), (frames, code, reason) = await asyncio.gather(good, bad_run)
    assert code == 1008 and frames[-1]["error"] == "invalid_input_message"
    assert frames[-1]["message"].startswith("Could not parse input message") and reason
    assert good_code == 1000 and spoken_text(good_frames) == "Still fine. "


async def test_unknown_voice_names_the_voices_there_are(espeak_server):
    frames, code, _ = await exchange(espeak_server.ws_url("no-such-voice"), [protocol.initialize_connection()])
    assert code == 1008 and frames[0]["error"] == "voice_not_found"
    assert "no-such-voice" in frames[0]["message"] and "espeak" in frames[0]["message"]


async def test_eleven_v3_is_refused_at_the_handshake(espeak_server):
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(espeak_server.ws_url(model_id="eleven_v3"))
        assert info.value.status == 403


async def test_bad_query_parameter_is_a_clear_error(espeak_server):
    frames, code, _ = await exchange(espeak_server.ws_url(inactivity_timeout=500), [])
    assert code == 1008 and "180" in frames[0]["message"]


async def test_oversized_frame_is_refused(espeak_server):
    frames, code, _ = await exchange(espeak_server.ws_url(), [protocol.initialize_connection(),
                                                              json.dumps({"text": "a" * (1 << 20)})])
    assert code == 1009 and frames[-1]["error"] == "message_too_big"


@pytest.mark.parametrize("fmt", sorted(protocol.OUTPUT_FORMATS))
async def test_every_output_format_is_one_continuous_stream(espeak_server, fmt):
    frames, code, _ = await exchange(espeak_server.ws_url(output_format=fmt), [
        protocol.initialize_connection(), protocol.send_text("One continuous stream, please. ", flush=True),
        protocol.send_text("And a second generation after the flush. "), protocol.close_connection()])
    assert code == 1000
    data = audio_bytes(frames)
    info = protocol.parse_output_format(fmt)
    if info.codec == "mp3":
        assert data.count(b"ID3") <= 1 and data.count(b"Xing") + data.count(b"Info") <= 1
    if info.codec == "opus":
        assert data[:4] == b"OggS" and data.count(b"OpusHead") == 1
    pcm, rate = decode_all(data, info)
    assert rate == info.sample_rate
    assert 3.0 < len(pcm) / rate < 10.0


def timeline_of(frames, bytes_per_ms=32):
    """The absolute timeline of a pcm_16000 stream, offsets taken from the audio itself."""
    timeline = Timeline()
    for f in audio_frames(frames):
        a = protocol.parse_server_message(f).alignment
        timeline.add_chunk(a, len(base64.b64decode(f["audio"])) / bytes_per_ms)
    return timeline


async def test_speed_shortens_audio_and_alignment_follows(espeak_server):
    said = {}
    for speed in (0.7, 1.2):
        frames, _, _ = await exchange(espeak_server.ws_url(output_format="pcm_16000", sync_alignment=True), [
            protocol.initialize_connection(voice_settings={"speed": speed}),
            protocol.send_text("Speed changes how long this sentence takes to say. "), protocol.close_connection()])
        timeline = timeline_of(frames)
        last_word = timeline.words()[-1]
        assert last_word.text == "say."
        assert timeline.audio_ms * 0.7 < last_word.end_ms <= timeline.audio_ms + 1
        said[speed] = (timeline.audio_ms, last_word.start_ms)
    assert said[1.2][0] < said[0.7][0] * 0.8  # shorter audio
    assert said[1.2][1] < said[0.7][1] * 0.8  # and the words move with it


async def test_stability_changes_the_audio(espeak_server):
    async def render(stability):
        frames, _, _ = await exchange(espeak_server.ws_url(output_format="pcm_16000"), [
            protocol.initialize_connection(voice_settings={"stability": stability}),
            protocol.send_text("Stability sets how much the voice varies. "), protocol.close_connection()])
        pcm = np.frombuffer(audio_bytes(frames), np.int16).astype(float)
        return pcm

    # lower stability = a wider pitch range: more energy moves to higher frequencies
    def centroid(pcm):
        spectrum = np.abs(np.fft.rfft(pcm))
        return float((spectrum * np.arange(len(spectrum))).sum() / spectrum.sum() / len(spectrum) * 8000)

    assert abs(centroid(await render(0.0)) - centroid(await render(1.0))) > 20


async def test_discovery(espeak_server):
    async with aiohttp.ClientSession() as http:
        voices = await (await http.get(espeak_server.url + "/v1/voices")).json()
        models = await (await http.get(espeak_server.url + "/v1/models")).json()
        alias = await http.get(espeak_server.url + "/v1/voices/21m00Tcm4TlvDq8ikWAM")
        assert alias.status == 200
    ids = [v["voice_id"] for v in voices["voices"]]
    assert voices["total_count"] == len(ids) >= 2 and len(set(ids)) == len(ids)
    default = [v for v in voices["voices"] if v["eleven_nb"]["default"]]
    assert len(default) == 1
    for voice in voices["voices"]:  # each setting once; normalization and SSML are honoured, never listed
        ignored = voice["eleven_nb"]["accepted_not_honoured"]
        assert len(set(ignored)) == len(ignored) and not set(ignored) & set(voice["eleven_nb"]["honours"])
        assert {"similarity_boost", "style", "use_speaker_boost", "model_id"} <= set(ignored)
        assert not {"apply_text_normalization", "enable_ssml_parsing"} & set(ignored)
    assert "speed" in default[0]["eleven_nb"]["honours"]
    assert {"model_id", "name", "can_do_text_to_speech", "languages"} <= set(models[0])
    assert "eleven_multilingual_v2" in [m["model_id"] for m in models]


# --- auth ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["header", "query", "xi_api_key", "xi-api-key", "bearer"])
async def test_keys_are_accepted_every_documented_way(keyed_server, how):
    headers, query, first = {}, {}, protocol.initialize_connection()
    if how == "header":
        headers = {"xi-api-key": "key-two"}
    elif how == "query":
        query = {"authorization": "key-one"}
    elif how == "bearer":
        first["authorization"] = "Bearer key-one"
    else:
        first[how] = "key-one"
    frames, code, _ = await exchange(keyed_server.ws_url(output_format="pcm_16000", **query),
                                     [first, protocol.send_text("Authorised. "), protocol.close_connection()],
                                     headers=headers)
    assert code == 1000 and spoken_text(frames) == "Authorised. "


@pytest.mark.parametrize("key, error", [(None, "authentication_required"), ("wrong", "invalid_api_key")])
async def test_missing_or_wrong_key_is_a_clear_error(keyed_server, key, error):
    first = protocol.initialize_connection(api_key=key)
    frames, code, _ = await exchange(keyed_server.ws_url(), [first, protocol.send_text("Hi. ")])
    assert code == 1008 and frames[-1]["error"] == error
    frames, code, _ = await exchange(keyed_server.ws_url(), [], headers={"xi-api-key": "wrong"})
    assert code == 1008 and frames[-1]["error"] == "invalid_api_key"


async def test_after_a_contexts_first_audio_the_engine_pauses_once_for_its_delivery(espeak_server, monkeypatch):
    """The next utterance waits DELIVERY_PAUSE_S after the first audio goes out (so a client on the same
    cores can relay it); only once per context. The pause is made long here so the gap cannot be noise."""
    from eleven_nb.server import context

    monkeypatch.setattr(context, "DELIVERY_PAUSE_S", 0.6)
    arrivals = []
    url = espeak_server.ws_url("espeak-en-us", output_format="pcm_16000")
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url, max_msg_size=protocol.CLIENT_MAX_FRAME) as ws:
            await ws.send_str(json.dumps({"text": " "}))
            await ws.send_str(json.dumps({"text": "One. Two. Three. Four. ", "flush": True}))
            async with asyncio.timeout(30):
                async for msg in ws:
                    frame = json.loads(msg.data)
                    words = "".join((frame.get("alignment") or {}).get("chars", []))
                    if frame.get("audio") and words:  # an utterance's first frame (its last may have no text)
                        arrivals.append((asyncio.get_running_loop().time(), words))
                    if len(arrivals) == 4:
                        break
    gaps = [b[0] - a[0] for a, b in zip(arrivals, arrivals[1:])]
    assert gaps[0] >= 0.5, arrivals  # the pause after the first audio
    assert max(gaps[1:]) < 0.5, arrivals  # and no other


async def test_a_flushed_generation_in_mp3_is_heard_in_full_before_the_close(espeak_server):
    """MP3 at the voice's own rate (espeak-ng's 22050 Hz): after a flush mid-sentence (its pause after is cut
    short), with the socket left open, the audio received holds the whole generation. The codec kept its
    last 50-180 ms of speech until the next text or the close before."""
    info = protocol.parse_output_format("mp3_22050_32")

    def loud_end(data: bytes) -> float:
        pcm, rate = decode_all(data, info)
        return np.flatnonzero(np.abs(pcm) > 100)[-1] / rate

    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(espeak_server.ws_url(output_format=info.name)) as ws:
            await ws.send_json(protocol.initialize_connection())
            await ws.send_json(protocol.send_text("Every word of a flushed phrase is heard and ", flush=True))
            flushed = b""
            while True:  # what comes before the client says anything more
                try:
                    msg = await ws.receive(timeout=1.5)
                except asyncio.TimeoutError:
                    break
                assert msg.type == aiohttp.WSMsgType.TEXT, msg  # the socket stays open after a flush
                flushed += base64.b64decode(json.loads(msg.data).get("audio") or "")
            await ws.send_json(protocol.close_connection())
            rest = b""
            async for msg in ws:
                rest += base64.b64decode(json.loads(msg.data).get("audio") or "")
    assert loud_end(flushed) == pytest.approx(loud_end(flushed + rest), abs=0.001)
