"""eleven_nb.audio: G.711 against audioop, WAV, resampling, stream decoding, saving."""
from __future__ import annotations

import io
import struct
import wave
import warnings

import numpy as np
import pytest

from eleven_nb.audio import (
    SAVE_EXTENSIONS, Resampler, StreamDecoder, alaw_decode, alaw_encode, decode_all, decode_container,
    resample, save_audio, ulaw_decode, ulaw_encode, wav_bytes,
)
from eleven_nb.protocol import OUTPUT_FORMATS, OutputFormat
from eleven_nb.audio import make_encoder

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # Python 3.13+
        audioop = None

RATE = 22050
ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_BYTES = bytes(range(256))


def tone(hz: float = 440.0, seconds: float = 1.0, rate: int = RATE, amplitude: float = 10000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.round(amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def peak_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(float) * np.hanning(len(pcm))))
    return float(np.argmax(spectrum) * rate / len(pcm))


def encoded(name: str, pcm: np.ndarray, chunk: int = RATE // 10) -> bytes:
    encoder = make_encoder(OUTPUT_FORMATS[name], RATE)
    return b"".join(encoder.encode(pcm[i:i + chunk]) for i in range(0, len(pcm), chunk)) + encoder.flush()


# --- G.711 ------------------------------------------------------------------------------

needs_audioop = pytest.mark.skipif(audioop is None, reason="audioop is gone (Python 3.13+)")


@needs_audioop
def test_ulaw_is_bit_exact_with_audioop():
    assert ulaw_encode(ALL_INT16) == audioop.lin2ulaw(ALL_INT16.tobytes(), 2)
    assert ulaw_decode(ALL_BYTES).tobytes() == audioop.ulaw2lin(ALL_BYTES, 2)


@needs_audioop
def test_alaw_is_bit_exact_with_audioop():
    assert alaw_encode(ALL_INT16) == audioop.lin2alaw(ALL_INT16.tobytes(), 2)
    assert alaw_decode(ALL_BYTES).tobytes() == audioop.alaw2lin(ALL_BYTES, 2)


def test_g711_round_trip_is_close_and_decode_encode_is_identity():
    for encode, decode in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        back = decode(encode(ALL_INT16)).astype(int)
        # logarithmic: the error grows with the magnitude, about 1/32 of it at most
        assert np.all(np.abs(back - ALL_INT16) <= np.maximum(16, np.abs(ALL_INT16.astype(int)) // 16))
        codes = encode(decode(ALL_BYTES))
        assert decode(codes).tobytes() == decode(ALL_BYTES).tobytes()
    assert ulaw_encode(np.zeros(0, np.int16)) == b"" and len(alaw_decode(b"")) == 0


# --- WAV and resampling -------------------------------------------------------------------------


@pytest.mark.parametrize("as_bytes", [False, True])
def test_wav_bytes_reads_back_with_the_wave_module(as_bytes):
    pcm = tone(seconds=0.25)
    data = wav_bytes(pcm.tobytes() if as_bytes else pcm, RATE)
    with wave.open(io.BytesIO(data)) as wav:
        params = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes())
        assert params == (1, 2, RATE, len(pcm))
        assert np.array_equal(np.frombuffer(wav.readframes(len(pcm)), "<i2"), pcm)
    assert data[:4] == b"RIFF" and struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    with pytest.raises(ValueError, match="even"):
        wav_bytes(b"\x00\x01\x02", RATE)


@pytest.mark.parametrize("to_rate", [8000, 16000, 24000, 44100, 48000])
def test_resample_keeps_duration_and_frequency(to_rate):
    out = resample(tone(), RATE, to_rate)
    assert out.dtype == np.int16 and len(out) == to_rate
    assert abs(peak_hz(out, to_rate) - 440) < 2
    assert np.array_equal(resample(tone(), RATE, RATE), tone())
    assert len(resample(np.zeros(0, np.int16), RATE, 8000)) == 0


def test_resample_does_not_alias():
    high = tone(9000)  # above 8 kHz: must vanish at 16 kHz, not fold back to 7 kHz
    assert np.sqrt(np.mean(resample(high, RATE, 16000).astype(float) ** 2)) < 100


def test_streaming_resampler_matches_one_shot_and_has_no_clicks():
    pcm = tone()
    whole = resample(pcm, RATE, 16000)
    stream = Resampler(RATE, 16000)
    pieces = [stream.process(pcm[i:i + 777]) for i in range(0, len(pcm), 777)]
    pieces = np.concatenate(pieces + [stream.flush()])
    assert len(pieces) == len(whole)
    assert np.abs(pieces.astype(int) - whole).max() <= 2  # rounding only
    # the control: restarting the filter per chunk changes the length and clicks at the seams
    naive = np.concatenate([resample(pcm[i:i + 777], RATE, 16000) for i in range(0, len(pcm), 777)])
    m = min(len(naive), len(whole))
    assert np.abs(naive[:m].astype(int) - whole[:m]).max() > 1000


def test_resampler_passthrough():
    pcm = tone(seconds=0.1)
    stream = Resampler(RATE, RATE)
    assert np.array_equal(stream.process(pcm), pcm) and len(stream.flush()) == 0


# --- stream decoding -----------------------------------------------------------------------------


def fed_in_pieces(fmt: OutputFormat, data: bytes, size: int = 777, target_rate: int | None = None) -> list:
    decoder = StreamDecoder(fmt, target_rate)
    return [decoder.feed(data[i:i + size]) for i in range(0, len(data), size)] + [decoder.close()]


def test_pcm_decoder_carries_an_odd_byte():
    pcm = tone(seconds=0.5)
    parts = fed_in_pieces(OUTPUT_FORMATS["pcm_22050"], pcm.tobytes(), size=777)
    assert all(len(p) == 388 or len(p) == 389 for p in parts[:-2])
    assert np.array_equal(np.concatenate(parts), pcm)


def test_decoder_resamples_to_a_target_rate():
    parts = fed_in_pieces(OUTPUT_FORMATS["pcm_24000"], tone(rate=24000).tobytes(), target_rate=48000)
    out = np.concatenate(parts)
    assert len(out) == 48000 and abs(peak_hz(out, 48000) - 440) < 2


@pytest.mark.parametrize("name", ["mp3_44100_128", "opus_48000_64"])
def test_compressed_audio_comes_out_while_it_arrives(name):
    fmt = OUTPUT_FORMATS[name]
    data = encoded(name, tone(seconds=2.0))
    decoder = StreamDecoder(fmt)
    first_half = sum(len(decoder.feed(data[i:i + 777])) for i in range(0, len(data) // 2, 777))
    assert first_half / fmt.sample_rate > 0.8  # not held until close()


def test_mp3_decoder_skips_a_leading_id3_tag_and_survives_stray_ones():
    fmt = OUTPUT_FORMATS["mp3_44100_128"]
    encoder = make_encoder(fmt, RATE)
    chunks = [encoder.encode(c) for c in np.array_split(tone(), 10)] + [encoder.flush()]
    id3 = b"ID3\x04\x00\x00\x00\x00\x00\x20" + b"TXXX" + bytes(28)  # a 42-byte ID3v2.4 tag
    clean = len(np.concatenate(fed_in_pieces(fmt, b"".join(chunks))))
    for size in (1, 5, 777):
        assert len(np.concatenate(fed_in_pieces(fmt, id3 + b"".join(chunks), size=size))) == clean
    # a tag before every chunk (the fake-server bug LiveKit choked on) costs frames, not the stream
    assert len(np.concatenate(fed_in_pieces(fmt, b"".join(id3 + c for c in chunks)))) > clean / 2


def test_opus_stream_decoding_matches_pyav_demuxer():
    data = encoded("opus_48000_64", tone())
    streamed = np.concatenate(fed_in_pieces(OUTPUT_FORMATS["opus_48000_64"], data, size=101))
    reference, rate = decode_container(data, "ogg")
    assert rate == 48000 and len(streamed) == len(reference) == 48000  # pre-skip and end padding trimmed
    assert np.array_equal(streamed, reference)


def test_chained_ogg_opus_streams_decode_one_after_the_other():
    data = encoded("opus_48000_32", tone(seconds=0.5)) + encoded("opus_48000_32", tone(880, seconds=0.5))
    out, rate = decode_all(data, OUTPUT_FORMATS["opus_48000_32"])
    assert len(out) == rate and abs(peak_hz(out[rate // 2:], rate) - 880) < 4


def test_broken_streams_raise_clear_errors():
    opus = OUTPUT_FORMATS["opus_48000_64"]
    with pytest.raises(ValueError, match="not an Ogg stream"):
        StreamDecoder(opus).feed(b"ID3" + bytes(100))
    truncated = StreamDecoder(opus)
    truncated.feed(encoded("opus_48000_64", tone(seconds=0.2))[:-10])
    with pytest.raises(ValueError, match="ends inside a page"):
        truncated.close()
    decoder = StreamDecoder(OUTPUT_FORMATS["ulaw_8000"])
    decoder.close()
    with pytest.raises(RuntimeError, match="after close"):
        decoder.feed(b"\xff")
    with pytest.raises(ValueError, match="codec"):
        StreamDecoder(OutputFormat("flac_44100", "flac", 44100))


def test_decode_all_returns_the_format_rate():
    for name in ("ulaw_8000", "mp3_22050_32", "pcm_16000"):
        out, rate = decode_all(encoded(name, tone()), OUTPUT_FORMATS[name])
        assert rate == OUTPUT_FORMATS[name].sample_rate and abs(len(out) / rate - 1.0) < 0.1


# --- saving ----------------------------------------------------------------------------------------


def read_saved(path, ext: str) -> tuple[np.ndarray, int]:
    data = path.read_bytes()
    if ext == ".wav":
        with wave.open(str(path)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
            return np.frombuffer(wav.readframes(wav.getnframes()), "<i2"), wav.getframerate()
    if ext in (".pcm", ".raw", ".ulaw", ".alaw"):
        decode = {".ulaw": ulaw_decode, ".alaw": alaw_decode}.get(ext, lambda raw: np.frombuffer(raw, "<i2"))
        return decode(data), 0
    return decode_container(data, "mp3" if ext == ".mp3" else "ogg")


@pytest.mark.parametrize("source", ["pcm_24000", "mp3_44100_64", "opus_48000_64", "ulaw_8000", "alaw_8000"])
@pytest.mark.parametrize("ext", SAVE_EXTENSIONS)
def test_save_audio_writes_each_extension(tmp_path, source, ext):
    fmt = OUTPUT_FORMATS[source]
    data = encoded(source, tone())
    path = save_audio(tmp_path / f"out{ext}", data, fmt)
    pcm, rate = read_saved(path, ext)
    rate = rate or {".ulaw": 8000, ".alaw": 8000}.get(ext, fmt.sample_rate)
    assert abs(len(pcm) / rate - 1.0) < 0.1
    assert abs(peak_hz(pcm, rate) - 440) < 3
    kept = {".mp3": "mp3", ".ogg": "opus", ".opus": "opus", ".pcm": "pcm", ".raw": "pcm", ".ulaw": "ulaw",
            ".alaw": "alaw"}.get(ext) == fmt.codec
    assert (path.read_bytes() == data) == kept


def test_save_audio_takes_samples_and_rejects_unknown_extensions(tmp_path):
    pcm = tone()
    path = save_audio(tmp_path / "a.WAV", pcm, OUTPUT_FORMATS["pcm_22050"])
    assert read_saved(path, ".wav")[1] == RATE
    with pytest.raises(ValueError, match=r"'\.flac'.*\.wav, \.mp3"):
        save_audio(tmp_path / "a.flac", pcm, OUTPUT_FORMATS["pcm_22050"])
    with pytest.raises(ValueError, match="without an extension"):
        save_audio(tmp_path / "noext", pcm, OUTPUT_FORMATS["pcm_22050"])
    for ext in (".pcm", ".mp3"):  # written as is, or encoded first: the folder is checked before either
        with pytest.raises(FileNotFoundError, match=r"the folder '.*missing' does not exist"):
            save_audio(tmp_path / "missing" / f"a{ext}", pcm, OUTPUT_FORMATS["pcm_22050"])


def test_wav_streams_one_header_then_pcm_and_reads_back_in_any_pieces():
    """wav_<rate> (the HTTP API's): one header with the sizes unknown, then PCM; Python's wave module,
    PyAV and the stream decoder (fed 7 bytes at a time) all read it; a header with other chunks too."""
    from eleven_nb.audio import decode_container
    from eleven_nb.audio.decode import StreamDecoder
    from eleven_nb.audio.pcm import wav_header

    fmt = OUTPUT_FORMATS["wav_16000"]
    encoder = make_encoder(fmt, 22050)
    tone = (np.sin(np.arange(22050) / 5) * 5000).astype(np.int16)
    data = b"".join(encoder.encode(tone[i:i + 1001]) for i in range(0, len(tone), 1001)) + encoder.flush()
    assert data.startswith(b"RIFF") and data.count(b"RIFF") == 1
    with wave.open(io.BytesIO(data)) as read:
        assert read.getframerate() == 16000 and len(read.readframes(10**9)) == 2 * 16000
    assert decode_container(data)[0].size == 16000
    decoder = StreamDecoder(fmt)
    pieces = [decoder.feed(data[i:i + 7]) for i in range(0, len(data), 7)] + [decoder.close()]
    assert np.array_equal(np.concatenate(pieces), decode_all(data, fmt)[0]) and sum(map(len, pieces)) == 16000
    empty = make_encoder(fmt, 22050).flush()
    assert empty == wav_header(16000) and decode_all(empty, fmt)[0].size == 0
    listed = data[:36] + b"LIST" + (6).to_bytes(4, "little") + b"INFOab" + data[36:]  # a chunk before data
    assert np.array_equal(decode_all(listed, fmt)[0], decode_all(data, fmt)[0])
    with pytest.raises(ValueError, match="not a WAV"):
        StreamDecoder(fmt).feed(b"ID3\x04" + bytes(20))
