"""eleven_nb.audio.encode: every output format round-trips as ONE continuous stream."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from eleven_nb.audio import StreamDecoder, decode_all, decode_container
from eleven_nb.protocol import OUTPUT_FORMATS, OutputFormat
from eleven_nb.audio import make_encoder

RATE = 22050  # the piper voice's rate
CHUNK = RATE // 10  # 100 ms, as the server's frames are cut


def tone(hz: float = 440.0, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.round(10000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def chirp(seconds: float = 1.0, f0: float = 200.0, f1: float = 3500.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.round(10000 * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds)))).astype(np.int16)


def peak_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(float) * np.hanning(len(pcm))))
    return float(np.argmax(spectrum) * rate / len(pcm))


def encode_chunks(fmt: OutputFormat, pcm: np.ndarray, chunk: int = CHUNK) -> list[bytes]:
    encoder = make_encoder(fmt, RATE)
    return [encoder.encode(pcm[i:i + chunk]) for i in range(0, len(pcm), chunk)] + [encoder.flush()]


# Codec delay and padding: an MP3 gains LAME's delay (~1100 samples) and pads the last frame.
DURATION_TOLERANCE = {"mp3": 0.08, "opus": 0.001, "pcm": 0.001, "wav": 0.001, "ulaw": 0.001, "alaw": 0.001}
# Chunked vs. one-go output. The resampler alone differs by rounding (pcm: 2 LSB); that flips a G.711
# code now and then (one step, 512 at this level) and steers a lossy codec's choices a little. A lost or
# doubled sample at a seam would differ by thousands (10000 * 2*pi*f/rate) for the rest of the signal.
SEAM_TOLERANCE = {"mp3": 300, "opus": 600, "pcm": 2, "wav": 2, "ulaw": 512, "alaw": 512}


@pytest.mark.parametrize("name", list(OUTPUT_FORMATS))
def test_round_trip_keeps_duration_and_frequency(name):
    fmt = OUTPUT_FORMATS[name]
    data = b"".join(encode_chunks(fmt, tone()))
    pcm, rate = decode_all(data, fmt)
    assert rate == fmt.sample_rate
    assert 1.0 <= len(pcm) / rate <= 1.0 + DURATION_TOLERANCE[fmt.codec]
    assert abs(peak_hz(pcm, rate) - 440) < 3
    rms = np.sqrt(np.mean(pcm.astype(float) ** 2))
    assert 0.8 * 7071 < rms < 1.2 * 7071  # the level survives (10000 peak)


@pytest.mark.parametrize("name", list(OUTPUT_FORMATS))
@pytest.mark.parametrize("signal", [tone, chirp])
def test_chunked_encoding_has_no_seams(name, signal):
    fmt = OUTPUT_FORMATS[name]
    pcm = signal()
    chunked, _ = decode_all(b"".join(encode_chunks(fmt, pcm)), fmt)
    whole, _ = decode_all(b"".join(encode_chunks(fmt, pcm, chunk=len(pcm))), fmt)
    assert len(chunked) == len(whole)
    diff = np.abs(chunked.astype(int) - whole)
    assert diff.max() <= SEAM_TOLERANCE[fmt.codec]
    assert np.sqrt(np.mean(diff.astype(float) ** 2)) < 100  # 1% of the amplitude, on average


@pytest.mark.parametrize("name", list(OUTPUT_FORMATS))
def test_stream_decoder_in_odd_pieces_matches_decoding_at_once(name):
    fmt = OUTPUT_FORMATS[name]
    data = b"".join(encode_chunks(fmt, chirp()))
    decoder = StreamDecoder(fmt)
    pieces = [decoder.feed(data[i:i + 777]) for i in range(0, len(data), 777)] + [decoder.close()]
    assert np.array_equal(np.concatenate(pieces), decode_all(data, fmt)[0])


@pytest.mark.parametrize("name", ["pcm_8000", "pcm_24000", "pcm_44100", "ulaw_8000", "alaw_8000"])
def test_raw_formats_are_headerless_at_the_format_rate(name):
    fmt = OUTPUT_FORMATS[name]
    data = b"".join(encode_chunks(fmt, tone()))
    assert len(data) == fmt.bytes_per_second  # exactly one second, no header


def mp3_frames(data: bytes) -> list[tuple[int, int, int]]:
    """Walk MPEG audio Layer III frame headers: [(bitrate kbps, sample rate, length)], all bytes accounted."""
    bitrates = {1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
                2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]}
    rates = {1: [44100, 48000, 32000], 2: [22050, 24000, 16000]}
    frames, pos = [], 0
    while pos < len(data):
        (header,) = struct.unpack_from(">I", data, pos)
        assert header >> 21 == 0x7FF, f"no frame sync at byte {pos}"
        version = 1 if (header >> 19) & 3 == 3 else 2
        assert (header >> 17) & 3 == 1, "not Layer III"
        kbps, rate = bitrates[version][(header >> 12) & 15], rates[version][(header >> 10) & 3]
        length = (144 if version == 1 else 72) * kbps * 1000 // rate + ((header >> 9) & 1)
        frames.append((kbps, rate, length))
        pos += length
    assert pos == len(data), "the last frame is cut short"
    return frames


@pytest.mark.parametrize("name", [n for n, f in OUTPUT_FORMATS.items() if f.codec == "mp3"])
def test_mp3_chunks_concatenate_to_one_headerless_constant_bitrate_stream(name):
    fmt = OUTPUT_FORMATS[name]
    chunks = encode_chunks(fmt, tone())
    data = b"".join(chunks)
    assert not data.startswith(b"ID3") and b"Xing" not in data and b"Info" not in data[:200]
    frames = mp3_frames(data)  # every byte belongs to a frame: no per-chunk headers in between
    assert {(kbps, rate) for kbps, rate, _ in frames} == {(fmt.bitrate_kbps, fmt.sample_rate)}
    assert sum(1 for c in chunks[1:] if c.startswith(b"ID3")) == 0
    pcm, rate = decode_container(data, "mp3")  # a plain MP3 file to FFmpeg's demuxer
    assert rate == fmt.sample_rate and 1.0 <= len(pcm) / rate <= 1.08


def ogg_pages(data: bytes) -> list[tuple[int, int, int, int]]:
    """[(flags, granule, serial, sequence)] of each Ogg page; all bytes accounted."""
    pages, pos = [], 0
    while pos < len(data):
        assert data[pos:pos + 4] == b"OggS", f"no page at byte {pos}"
        flags, granule, serial, sequence = data[pos + 5], *struct.unpack_from("<qII", data, pos + 6)
        n = data[pos + 26]
        pos += 27 + n + sum(data[pos + 27:pos + 27 + n])
        pages.append((flags, granule, serial, sequence))
    assert pos == len(data)
    return pages


@pytest.mark.parametrize("name", [n for n, f in OUTPUT_FORMATS.items() if f.codec == "opus"])
def test_opus_is_one_ogg_stream_that_streams_before_flush(name):
    fmt = OUTPUT_FORMATS[name]
    chunks = encode_chunks(fmt, tone(seconds=2.0))
    before_flush = b"".join(chunks[:-1])
    assert chunks[0][:4] == b"OggS" and b"OpusHead" in chunks[0]
    decoder = StreamDecoder(fmt)
    assert len(decoder.feed(before_flush)) / 48000 > 1.9  # nearly all audio is out before the end
    pages = ogg_pages(b"".join(chunks))
    assert [p[0] & 2 for p in pages].count(2) == 1 and pages[0][0] & 2  # one beginning of stream, first
    assert pages[-1][0] & 4 and not any(p[0] & 4 for p in pages[:-1])  # one end of stream, last
    assert {p[2] for p in pages} == {pages[0][2]} and [p[3] for p in pages] == list(range(len(pages)))
    pre_skip = struct.unpack_from("<H", chunks[0], chunks[0].index(b"OpusHead") + 10)[0]
    assert pages[-1][1] - pre_skip == 96000  # exactly two seconds
    average_kbps = len(b"".join(chunks)) * 8 / 2.0 / 1000
    assert 0.5 * fmt.bitrate_kbps < average_kbps < 1.5 * fmt.bitrate_kbps + 12  # + Ogg page overhead


def test_short_and_empty_inputs():
    for name in ("pcm_16000", "mp3_44100_128", "opus_48000_64", "ulaw_8000"):
        fmt = OUTPUT_FORMATS[name]
        encoder = make_encoder(fmt, RATE)
        assert encoder.encode(np.zeros(0, np.int16)) == b""
        data = encoder.encode(tone(seconds=0.01)) + encoder.flush()  # less than one codec frame
        assert encoder.flush() == b""
        pcm, rate = decode_all(data, fmt)
        assert 0.009 < len(pcm) / rate < 0.1
        with pytest.raises(RuntimeError, match="after flush"):
            encoder.encode(tone(seconds=0.01))


def test_flush_alone_gives_a_valid_empty_stream():
    for name in ("mp3_44100_128", "opus_48000_64", "pcm_24000"):
        fmt = OUTPUT_FORMATS[name]
        pcm, _ = decode_all(make_encoder(fmt, RATE).flush(), fmt)
        assert len(pcm) == 0


def test_clear_errors():
    with pytest.raises(ValueError, match="codec 'flac'"):
        make_encoder(OutputFormat("flac_44100", "flac", 44100), RATE)
    with pytest.raises(ValueError, match="48000"):
        make_encoder(OutputFormat("opus_24000_32", "opus", 24000, 32), RATE)
    with pytest.raises(ValueError, match="mono"):
        make_encoder(OUTPUT_FORMATS["pcm_22050"], RATE).encode(np.zeros((2, 10), np.int16))
