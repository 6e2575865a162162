"""Frames and their alignment, with real encoders: nothing waits behind a codec's look-ahead."""
import numpy as np
import pytest

from eleven_nb.audio import decode_all, make_encoder
from eleven_nb.protocol import parse_output_format
from eleven_nb.server.engines.base import Utterance
from eleven_nb.server.frames import FrameBuilder

RATE = 22050


def utterance(text: str, n: int) -> Utterance:
    """``text`` spread over ``n`` samples of a tone; the last character starts in the last few samples."""
    audio = (np.sin(np.arange(n) / 5) * 5000).astype(np.int16)
    starts = np.linspace(0, n - 5, len(text)).astype(np.int64)
    ends = np.append(starts[1:], n)
    return Utterance(text, audio, starts, ends)


@pytest.mark.parametrize("fmt", ["pcm_16000", "mp3_44100_64", "opus_48000_32"])
def test_drain_sends_the_timing_a_codec_held_back(fmt):
    builder = FrameBuilder(make_encoder(parse_output_format(fmt), RATE), RATE, sync_alignment=True,
                           frame_samples=4000)
    text = "held back at the very end."
    frames = builder.add(utterance(text, 8005))  # the last slice is 5 samples: no bytes come out for it
    sent = "".join(f.alignment.text for f in frames if f.alignment)
    assert sent != text  # the tail's timing is waiting (this is what a flush would leave behind)
    frames += builder.drain()
    assert "".join(f.alignment.text for f in frames if f.alignment) == text
    assert all(f.audio for f in frames)  # timing always rides on audio bytes
    if fmt.startswith("pcm"):  # the resampler's delay is enough silence (a codec may need more)
        assert builder._position - 8005 <= 0.03 * RATE  # 26 ms here
    assert builder.drain() == []  # nothing waiting: no silence added


def test_without_sync_alignment_the_first_frame_carries_the_utterance():
    builder = FrameBuilder(make_encoder(parse_output_format("pcm_22050"), RATE), RATE, frame_samples=2000)
    frames = builder.add(utterance("whole utterance", 7000))
    assert frames[0].alignment.text == "whole utterance"
    assert all(f.alignment is None for f in frames[1:]) and len(frames) == 4


def spoken_text(frames):
    return "".join(f.normalized.text for f in frames if f.normalized)


def test_spoken_text_starts_each_generation_with_one_space_and_collapses_whitespace():
    builder = FrameBuilder(make_encoder(parse_output_format("pcm_22050"), RATE), RATE, sync_alignment=True,
                           frame_samples=2000)
    builder.start_generation()
    frames = builder.add(utterance("First  sentence.\n\n", 6000))
    builder.start_generation()
    frames += builder.add(utterance("Second one.", 4000))
    assert "".join(f.alignment.text for f in frames) == "First  sentence.\n\nSecond one."  # as sent
    # as spoken, per generation: " First sentence. " + " Second one." (never a fused "sentence.Second")
    assert spoken_text(frames) == " First sentence. " + " Second one."
    for f in frames:
        assert len(f.normalized.chars) == len(f.normalized.starts_ms) == len(f.normalized.durations_ms)
        assert all(s >= 0 for s in f.normalized.starts_ms)


def test_a_spoken_function_expands_spans_with_their_time():
    def numbers(text):  # "2" is said "two": a stand-in for the text normalizer's spans
        return [(i, i + 1, "two" if c == "2" else c) for i, c in enumerate(text)]

    builder = FrameBuilder(make_encoder(parse_output_format("pcm_22050"), RATE), RATE, spoken=numbers)
    builder.start_generation()
    frames = builder.add(utterance("I have 2 cats.", 7000))
    assert frames[0].alignment.text == "I have 2 cats."
    normalized = frames[0].normalized
    assert normalized.text == " I have two cats."
    two = normalized.text.index("two")
    source = frames[0].alignment.text.index("2")
    assert normalized.starts_ms[two] == pytest.approx(frames[0].alignment.starts_ms[source], abs=0.1)


@pytest.mark.parametrize("fmt", ["pcm_16000", "pcm_44100", "ulaw_8000", "pcm_22050"])
@pytest.mark.parametrize("sync", [True, False])
def test_each_character_is_timed_where_it_sounds_in_the_audio_received(fmt, sync):
    """The resampler holds a few milliseconds back, so a frame's audio starts where the audio already
    sent ends, not where the engine audio fed so far ends: a client adding up the audio it received
    puts each character at its engine time, and times never go backwards (they did by 9-29 ms). With
    sync_alignment, a character whose audio the resampler still holds waits for the frame that has it."""
    out = parse_output_format(fmt)
    def one_for_one(text):
        return [(i, i + 1, c) for i, c in enumerate(text)]

    builder = FrameBuilder(make_encoder(out, RATE), RATE, sync_alignment=sync, frame_samples=3000, spoken=one_for_one)
    pieces = [utterance("I am ", 10_000), utterance("so happy today. ", 17_000), utterance("Yes.", 5_000)]
    frames, expected, fed = [], [], 0
    for piece in pieces:
        builder.start_generation()
        frames += builder.add(piece)
        expected += [(fed + s) * 1000 / RATE for s in piece.char_starts]
        fed += len(piece.audio)
    frames += builder.drain() + builder.finish()
    bytes_per_sample = 1 if out.codec in ("ulaw", "alaw") else 2
    heard, received = [], 0.0
    for frame in frames:
        duration = len(frame.audio) / bytes_per_sample * 1000 / out.sample_rate
        if frame.alignment:
            heard += [received + s for s in frame.alignment.starts_ms]
            if sync:  # a frame carries the characters that start in its own audio
                assert all(0 <= s < duration for s in frame.alignment.starts_ms), (duration, frame.alignment)
        received += duration
    assert heard == pytest.approx(expected, abs=1000 / out.sample_rate)
    assert all(b >= a for a, b in zip(heard, heard[1:]))
    assert spoken_text(frames) == " I am " + " so happy today. " + " Yes."  # the spoken text waits in step, whole


def loud_end(data: bytes, out) -> float:
    """Where the last sample above -30 dBFS is, in seconds on the decoded stream's clock (MP3's starts with
    its encoder's and decoder's delay)."""
    pcm, rate = decode_all(data, out)
    return np.flatnonzero(np.abs(pcm) > 1000)[-1] / rate


@pytest.mark.parametrize("fmt", ["mp3_22050_32", "mp3_24000_48", "mp3_44100_32", "mp3_44100_64", "mp3_44100_128",
                                 "opus_48000_32", "pcm_16000", "pcm_44100", "ulaw_8000", "pcm_22050"])
@pytest.mark.parametrize("sync", [True, False])
def test_a_drained_generation_is_heard_in_full(fmt, sync):
    """At a flushed generation's end, silence is fed until the speech the resampler or codec holds has come
    out: the bytes sent decode to all of it. The timing may have gone with earlier bytes (at the voice's own
    rate nothing waits), so that is not the measure: LAME kept 50-180 ms of speech, soxr 10-35 ms, until
    the next text or the close. The silence is what the codec needed, not a fixed length."""
    out = parse_output_format(fmt)
    builder = FrameBuilder(make_encoder(out, RATE), RATE, sync_alignment=sync, frame_samples=1500)
    spoken = utterance("the last words stay in the codec", 3 * RATE)  # 3 s of tone, loud to its last sample
    frames = builder.add(spoken) + builder.drain()
    assert "".join(f.alignment.text for f in frames if f.alignment) == spoken.text
    drained = b"".join(f.audio for f in frames)
    assert loud_end(drained, out) == pytest.approx(
        loud_end(drained + b"".join(f.audio for f in builder.finish()), out), abs=0.001)
    assert builder._position - len(spoken.audio) <= 0.25 * RATE  # LAME at 44.1 kHz, 32 kb/s needs the most
    assert builder.drain() == []  # the silence fed is quiet: nothing held that a listener would miss


@pytest.mark.parametrize("quiet_s", [0.2, 1.0])  # within the scanned tail, and longer than it
def test_a_generation_ending_in_silence_is_not_drained(quiet_s):
    builder = FrameBuilder(make_encoder(parse_output_format("mp3_22050_32"), RATE), RATE, frame_samples=1500)
    spoken = utterance("then a pause", 2 * RATE)
    spoken.audio[-int(quiet_s * RATE):] = 0  # what the codec holds is silence
    builder.add(spoken)
    assert builder.drain() == []


def test_quiet_utterances_after_speech_add_up_to_no_drain():
    """Speech, then generations of silence only (a pause, a tag): the quiet run spans utterances."""
    builder = FrameBuilder(make_encoder(parse_output_format("mp3_22050_32"), RATE), RATE, frame_samples=1500)
    builder.add(utterance("speech", RATE))
    quiet = utterance(" ", int(0.01 * RATE))
    quiet.audio[:] = 0
    for _ in range(3):  # 30 ms of silence in three pieces: the speech's end is still in LAME
        builder.add(quiet)
    assert builder.drain() != []
    builder = FrameBuilder(make_encoder(parse_output_format("mp3_22050_32"), RATE), RATE, frame_samples=1500)
    builder.add(utterance("speech", RATE))
    for _ in range(40):  # 400 ms of silence: more than any codec holds
        builder.add(quiet)
    assert builder.drain() == []
