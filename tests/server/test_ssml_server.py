"""SSML over real sockets: breaks are silence of the asked length, tags are never spoken,
phonemes choose the pronunciation (piper), unreadable markup gets an error frame.

``alignment`` covers exactly the text sent, tags included (silent), so a client's count of
what was spoken stays exact; ``normalizedAlignment`` is what was spoken: no tag text.
"""
from __future__ import annotations

import base64

import numpy as np
import pytest

from eleven_nb.alignment import Timeline
from tests.server.test_server import audio_bytes, audio_frames, exchange, spoken_text

RATE = 16000


def _timeline(frames, key="alignment") -> Timeline:
    timeline = Timeline()
    for frame in audio_frames(frames):
        alignment = frame.get(key)
        timeline.add_chunk(None if alignment is None else _alignment(alignment),
                           len(base64.b64decode(frame["audio"])) / 2 / RATE * 1000)
    return timeline


def _alignment(wire):
    from eleven_nb.alignment import Alignment

    return Alignment(tuple(wire["chars"]), tuple(float(s) for s in wire["charStartTimesMs"]),
                     tuple(float(d) for d in wire["charDurationsMs"]))


async def _speak(server, text, **query):
    url = server.ws_url("espeak-en-us", output_format=f"pcm_{RATE}", sync_alignment=True, **query)
    return await exchange(url, [{"text": " "}, {"text": text, "flush": True}, {"text": ""}])


@pytest.mark.parametrize("asked, written", [(1.5, '1.5s'), (0.75, '750ms'), (3.0, '3s')])
async def test_a_break_is_silence_of_the_asked_length(espeak_server, asked, written):
    text = f'Before <break time="{written}" /> after.'
    frames, code, _ = await _speak(espeak_server, text)
    assert code == 1000
    timeline = _timeline(frames)
    assert timeline.text == text  # alignment covers the text sent, tag included
    tag_start = text.index("<")
    tag_end = text.index(">") + 1
    begin = timeline.starts_ms[tag_start]
    end = timeline.starts_ms[tag_end - 1] + timeline.durations_ms[tag_end - 1]
    assert abs((end - begin) / 1000 - asked) <= 0.05
    pcm = np.frombuffer(audio_bytes(frames), "<i2")
    silent = pcm[int(begin * RATE / 1000):int(end * RATE / 1000)]
    # measured in the audio: silent but for the resampler's ringing at its edges (speech peaks in the thousands;
    # the next word starts where the break ends: the filter rings within 1 ms ahead of it, under -50 dBFS)
    assert len(silent) >= int((asked - 0.05) * RATE) and np.abs(silent[:-RATE // 1000]).max() <= 8
    assert np.abs(silent).max() < 200
    assert "<" not in spoken_text(frames, "normalizedAlignment")
    assert "break" not in spoken_text(frames, "normalizedAlignment")


async def test_other_tags_are_never_spoken(espeak_server):
    plain, _, _ = await _speak(espeak_server, "Hello world.")
    marked, code, _ = await _speak(espeak_server, "<speak><prosody rate='slow'>Hello</prosody> world.</speak>")
    assert code == 1000
    heard = spoken_text(marked, "normalizedAlignment")
    assert "Hello world." in heard and "<" not in heard and "prosody" not in heard
    # the tags add no speech (read aloud they took seconds); the words either side of a tag are spoken
    # as separate pieces, each with the engine's short end pause
    assert len(audio_bytes(marked)) < 2 * len(audio_bytes(plain))


async def test_a_phoneme_element_without_ssml_parsing_speaks_its_word(espeak_server):
    text = 'I met <phoneme alphabet="ipa" ph="ˈmædɪsən">Madison</phoneme> today.'
    frames, code, _ = await _speak(espeak_server, text)
    assert code == 1000
    assert _timeline(frames).text == text
    assert "Madison" in spoken_text(frames, "normalizedAlignment")
    assert len(audio_bytes(frames)) / 2 / RATE < 4.0  # the word, not the markup spelled out


@pytest.mark.parametrize("text", ['Oops <break time="soon"/> here.', 'Oops <phoneme ph="x">word here.',
                                  'Oops </phoneme> here.'])
async def test_unreadable_markup_gets_an_error_frame(espeak_server, text):
    frames, code, reason = await _speak(espeak_server, text, enable_ssml_parsing=True)
    errors = [f for f in frames if f.get("error")]
    assert errors and errors[0]["error"] == "invalid_ssml" and code == 1008
    assert not audio_frames(frames)  # neither silence nor speech
    assert "SSML" in reason


@pytest.mark.piper
async def test_phonemes_choose_the_pronunciation_with_piper(piper_server):
    text = 'I met <phoneme alphabet="ipa" ph="ˈmædɪsən">Madison</phoneme> today.'
    url = piper_server.ws_url("joe", output_format=f"pcm_{RATE}", sync_alignment=True, enable_ssml_parsing=True)
    frames, code, _ = await exchange(url, [{"text": " "}, {"text": text, "flush": True}, {"text": ""}])
    assert code == 1000
    assert _timeline(frames).text == text
    seconds = len(audio_bytes(frames)) / 2 / RATE
    assert 0.8 < seconds < 3.0  # a short sentence (it lasted 8.6 s when the tags were read aloud)
    cmu = text.replace('alphabet="ipa" ph="ˈmædɪsən"', 'alphabet="cmu-arpabet" ph="M AE1 D IH0 S AH0 N"')
    frames, code, _ = await exchange(url, [{"text": " "}, {"text": cmu, "flush": True}, {"text": ""}])
    assert code == 1000 and 0.8 < len(audio_bytes(frames)) / 2 / RATE < 3.0
