"""Audio helpers shared by client and server: G.711, WAV, resampling, decoding, saving.

Resampling is soxr's, MP3 and Opus coding PyAV's and lameenc's; only G.711
(μ-law / A-law) is done here, in a few lines of numpy, bit-exact with the
``audioop`` functions that Python 3.13 removed.
"""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import soxr

from .protocol import OutputFormat

# --- G.711 ---------------------------------------------------------------------------

_ULAW_BIAS, _ULAW_CLIP = 0x84, 32635
_SEG_ENDS = np.array([0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF])


def ulaw_encode(pcm: np.ndarray) -> bytes:
    """int16 → μ-law bytes (as ``audioop.lin2ulaw(x, 2)``)."""
    x = np.asarray(pcm, dtype=np.int32) >> 2  # audioop works on 14-bit magnitudes
    mask = np.where(x < 0, 0x7F, 0xFF)
    x = np.minimum(np.abs(x), 8159) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_SEG_ENDS >> 2, x, side="left")
    out = np.where(seg >= 8, 0x7F, (seg << 4) | ((x >> (seg + 1)) & 0xF))
    return (out ^ mask).astype(np.uint8).tobytes()


def ulaw_decode(data: bytes) -> np.ndarray:
    """μ-law bytes → int16 (as ``audioop.ulaw2lin(x, 2)``)."""
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def alaw_encode(pcm: np.ndarray) -> bytes:
    """int16 → A-law bytes (as ``audioop.lin2alaw(x, 2)``)."""
    x = np.asarray(pcm, dtype=np.int32) >> 3  # 13-bit
    mask = np.where(x >= 0, 0xD5, 0x55)
    x = np.where(x >= 0, x, -x - 1)
    seg = np.searchsorted(_SEG_ENDS >> 3, x, side="left")
    aval = np.where(seg < 2, (x >> 1) & 0xF, (x >> seg) & 0xF) | (seg << 4)
    out = np.where(seg >= 8, 0x7F, aval)
    return (out ^ mask).astype(np.uint8).tobytes()


def alaw_decode(data: bytes) -> np.ndarray:
    """A-law bytes → int16 (as ``audioop.alaw2lin(x, 2)``)."""
    a = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, np.where(seg == 1, t + 0x108, (t + 0x108) << np.maximum(seg - 1, 0)))
    return np.where(a & 0x80, t, -t).astype(np.int16)


# --- PCM, WAV, resampling -----------------------------------------------------------------


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float [-1, 1] or any integer array → int16, clipped."""
    if samples.dtype == np.int16:
        return samples
    if np.issubdtype(samples.dtype, np.floating):
        return np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)
    return np.clip(samples, -32768, 32767).astype(np.int16)


def resample(pcm: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample int16 mono with soxr (no aliasing, unlike linear interpolation)."""
    if from_rate == to_rate or not len(pcm):
        return np.asarray(pcm, dtype=np.int16)
    return to_int16(soxr.resample(np.asarray(pcm, dtype=np.int16), from_rate, to_rate))


class Resampler:
    """Chunked resampling with no clicks at chunk boundaries (soxr's streaming state)."""

    def __init__(self, from_rate: int, to_rate: int):
        self.passthrough = from_rate == to_rate
        self._stream = None if self.passthrough else soxr.ResampleStream(from_rate, to_rate, 1, dtype="int16")

    def __call__(self, pcm: np.ndarray, last: bool = False) -> np.ndarray:
        pcm = np.asarray(pcm, dtype=np.int16)
        if self.passthrough:
            return pcm
        return self._stream.resample_chunk(pcm, last=last)


def wav_bytes(pcm: bytes | np.ndarray, sample_rate: int) -> bytes:
    """A mono 16-bit WAV file around ``pcm``."""
    data = pcm.astype("<i2").tobytes() if isinstance(pcm, np.ndarray) else bytes(pcm)
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16) + b"data" + struct.pack("<I", len(data))
    return header + data


# --- decoding ---------------------------------------------------------------------------------


def _frames_to_int16(frames) -> np.ndarray:
    parts = []
    for frame in frames:
        array = frame.to_ndarray()
        if array.ndim == 2:  # planar (channels, samples) or packed (1, samples*channels)
            array = array.mean(axis=0) if frame.format.is_planar and array.shape[0] > 1 else array[0]
        parts.append(to_int16(array))
    return np.concatenate(parts) if parts else np.zeros(0, np.int16)


class StreamDecoder:
    """Decodes a stream of audio chunks (as they arrive) into int16 mono.

    PCM, μ-law and A-law decode chunk by chunk (an odd PCM byte is carried to
    the next chunk); MP3 through PyAV's parser, across frame boundaries that
    need not match chunk boundaries. Ogg Opus is demuxed by PyAV from the
    whole stream, so its samples come out in :meth:`close`.
    """

    def __init__(self, fmt: OutputFormat, target_rate: int | None = None):
        self.fmt = fmt
        self.sample_rate = target_rate or fmt.sample_rate
        self._resample = Resampler(fmt.sample_rate, self.sample_rate)
        self._carry = b""
        self._opus = bytearray()
        self._mp3 = None
        if fmt.codec == "mp3":
            import av

            self._mp3 = av.CodecContext.create("mp3", "r")

    def feed(self, data: bytes) -> np.ndarray:
        return self._resample(self._decode(data))

    def close(self) -> np.ndarray:
        codec = self.fmt.codec
        if codec == "mp3":
            tail = _frames_to_int16(f for p in self._mp3.parse(b"") for f in self._mp3.decode(p))
            tail = np.concatenate([tail, _frames_to_int16(self._mp3.decode(None))])
        elif codec == "opus":
            tail = decode_container(bytes(self._opus), "ogg")[0] if self._opus else np.zeros(0, np.int16)
        else:
            tail = np.zeros(0, np.int16)
        return self._resample(tail, last=True)

    def _decode(self, data: bytes) -> np.ndarray:
        codec = self.fmt.codec
        if codec == "pcm":
            data = self._carry + data
            even = len(data) - len(data) % 2
            self._carry = data[even:]
            return np.frombuffer(data[:even], dtype="<i2").astype(np.int16)
        if codec == "ulaw":
            return ulaw_decode(data)
        if codec == "alaw":
            return alaw_decode(data)
        if codec == "mp3":
            return _frames_to_int16(f for p in self._mp3.parse(data) for f in self._mp3.decode(p))
        self._opus += data
        return np.zeros(0, np.int16)


def decode_container(data: bytes, container: str | None = None) -> tuple[np.ndarray, int]:
    """Decode a whole file's bytes (MP3, Ogg Opus, WAV, ...) with PyAV → (int16 mono, rate)."""
    import av

    with av.open(io.BytesIO(data), format=container) as box:
        stream = box.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        parts = [np.asarray(out.to_ndarray()).reshape(-1)
                 for frame in box.decode(stream) for out in resampler.resample(frame)]
        parts += [np.asarray(out.to_ndarray()).reshape(-1) for out in resampler.resample(None)]
    return (np.concatenate(parts).astype(np.int16) if parts else np.zeros(0, np.int16)), rate


def decode_all(data: bytes, fmt: OutputFormat) -> tuple[np.ndarray, int]:
    """All of a stream's bytes in ``fmt`` → (int16 mono, sample rate)."""
    decoder = StreamDecoder(fmt)
    pcm = np.concatenate([decoder.feed(data), decoder.close()])
    return pcm, fmt.sample_rate


# --- saving -----------------------------------------------------------------------------------

SAVE_EXTENSIONS = (".wav", ".mp3", ".ogg", ".opus", ".pcm", ".raw", ".ulaw", ".alaw")


def save_audio(path: str | Path, data: bytes | np.ndarray, fmt: OutputFormat) -> Path:
    """Write audio received in ``fmt`` to ``path``, converting to what its extension asks.

    ``.wav`` gets a WAV header around decoded PCM; ``.mp3`` and ``.ogg``/``.opus``
    keep the bytes when they already are that codec, else are encoded;
    ``.pcm``/``.raw`` are S16LE; ``.ulaw``/``.alaw`` raw G.711 at 8 kHz.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SAVE_EXTENSIONS:
        raise ValueError(f"cannot save audio as {ext or 'a file without extension'!r}; "
                         f"use one of {', '.join(SAVE_EXTENSIONS)}")
    raw = data.astype("<i2").tobytes() if isinstance(data, np.ndarray) else bytes(data)
    if (ext == ".mp3" and fmt.codec == "mp3") or (ext in (".ogg", ".opus") and fmt.codec == "opus"):
        path.write_bytes(raw)
        return path
    pcm, rate = decode_all(raw, fmt)
    if ext == ".wav":
        out = wav_bytes(pcm, rate)
    elif ext in (".pcm", ".raw"):
        out = pcm.astype("<i2").tobytes()
    elif ext in (".ulaw", ".alaw"):
        eight = resample(pcm, rate, 8000)
        out = ulaw_encode(eight) if ext == ".ulaw" else alaw_encode(eight)
    else:
        from .server.encoders import make_encoder
        from .protocol import parse_output_format

        target = parse_output_format("mp3_44100_128" if ext == ".mp3" else "opus_48000_64")
        encoder = make_encoder(target, rate)
        out = encoder.encode(pcm) + encoder.flush()
    path.write_bytes(out)
    return path
