"""Chunk-relative alignment → absolute timeline, words and captions."""
import pytest

from eleven_nb.alignment import Alignment, Timeline


def chunk(text, step=100.0):
    return Alignment(tuple(text), tuple(i * step for i in range(len(text))), (step,) * len(text))


def test_timeline_uses_audio_durations_when_known():
    timeline = Timeline()
    assert timeline.add_chunk(chunk("Hi "), audio_ms=400) == 0
    assert timeline.add_chunk(chunk("you"), audio_ms=300) == 400
    assert timeline.text == "Hi you"
    assert timeline.starts_ms == [0, 100, 200, 400, 500, 600]
    words = timeline.words()
    assert [(w.text, w.start_ms, w.end_ms) for w in words] == [("Hi", 0, 200), ("you", 400, 700)]


def test_timeline_falls_back_to_alignment_end():
    timeline = Timeline()
    timeline.add_chunk(chunk("ab"))
    assert timeline.add_chunk(chunk("cd")) == 200
    timeline.add_chunk(None)  # a chunk without alignment (sync_alignment off) moves nothing
    assert timeline.end_ms == 400


def test_captions():
    timeline = Timeline()
    timeline.add_chunk(chunk("Hello world. Bye now.", step=50), audio_ms=1100)
    srt = timeline.to_srt()
    assert srt.startswith("1\n00:00:00,000 --> 00:00:00,600\nHello world.\n")
    assert "2\n00:00:00,650 --> 00:00:01,050\nBye now." in srt
    vtt = timeline.to_vtt()
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:00.600\nHello world.")


def test_alignment_validates_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        Alignment(("a",), (0.0, 1.0), (1.0,))
    assert chunk("abc").end_ms == 300 and chunk("abc").shifted(10).starts_ms[0] == 10
