"""The piper neural voice through the server: real speech, alignment covering the text."""
from __future__ import annotations

import base64
import itertools
import json

import aiohttp
import numpy as np
import pytest

from eleven_nb import protocol
from eleven_nb.alignment import Timeline
from eleven_nb.server.engines import load_engine
from eleven_nb.server.engines.base import SynthesisSettings, check_utterances

pytestmark = [pytest.mark.piper]

TEXT = "Hello there! The local voice is a real neural voice, running offline. Dr. Smith arrives at 3:45 pm. "


async def speak(server, text, **query):
    url = server.ws_url(output_format="pcm_22050", sync_alignment=True, **query)
    frames = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        for m in (protocol.initialize_connection(), protocol.send_text(text), protocol.close_connection()):
            await ws.send_json(m)
        async for msg in ws:
            frames.append(json.loads(msg.data))
    return frames, ws.close_code


@pytest.mark.asyncio
async def test_piper_speaks_real_speech_with_alignment_covering_the_text(piper_server):
    frames, code = await speak(piper_server, TEXT)
    assert code == 1000 and frames[-1]["isFinal"] is True
    timeline, pcm = Timeline(), []
    for f in frames[:-1]:
        audio = np.frombuffer(base64.b64decode(f["audio"]), np.int16)
        pcm.append(audio)
        timeline.add_chunk(protocol.parse_server_message(f).alignment, len(audio) / 22.05)
    pcm = np.concatenate(pcm).astype(float)
    seconds = len(pcm) / 22050
    assert timeline.text == TEXT
    assert 0.04 * len(TEXT) < seconds < 0.12 * len(TEXT)  # a plausible duration for the text
    assert np.sqrt(np.mean(pcm ** 2)) > 1000  # not silent
    words = timeline.words()
    assert [w.text for w in words][:3] == ["Hello", "there!", "The"]
    assert all(a.start_ms <= b.start_ms for a, b in itertools.pairwise(words))
    # letters are louder than the pauses the alignment gives to punctuation
    def rms(start_ms, end_ms):
        part = pcm[int(start_ms * 22.05):int(end_ms * 22.05)]
        return np.sqrt(np.mean(part ** 2)) if len(part) else 0.0
    letters = np.mean([rms(s, s + d) for c, s, d in zip(timeline.chars, timeline.starts_ms, timeline.durations_ms)
                       if c.isalpha() and d > 0])
    stops = [rms(s, s + d) for c, s, d in zip(timeline.chars, timeline.starts_ms, timeline.durations_ms)
             if c in ".!" and d > 30]
    assert stops and np.median(stops) < letters / 3


def test_piper_engine_speed_seed_and_tricky_text():
    engine = load_engine("piper")
    for text in ["Numbers like 3:45 pm, 1,234 and Dr. Who. ", "  café “quotes” — emoji 🎉\n", "...", "Hi"]:
        check_utterances(text, list(engine.synthesize(text, "joe", SynthesisSettings())))
    slow = sum(len(u.audio) for u in engine.synthesize(TEXT, "joe", SynthesisSettings(speed=0.7)))
    fast = sum(len(u.audio) for u in engine.synthesize(TEXT, "joe", SynthesisSettings(speed=1.2)))
    assert fast < slow * 0.75
    again = [np.concatenate([u.audio for u in engine.synthesize("Same seed.", "joe", SynthesisSettings(seed=s))])
             for s in (7, 7, 8)]
    assert np.array_equal(again[0], again[1]) and not np.array_equal(again[0][:len(again[2])], again[2][:len(again[0])])
