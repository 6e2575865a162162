"""Audio helpers shared by client and server: G.711, WAV, resampling, decoding, saving.

Resampling is soxr's, MP3 and Opus coding lameenc's and PyAV's; only G.711
(μ-law / A-law) is done here, in a few lines of numpy, bit-exact with the
``audioop`` functions that Python 3.13 removed. Nothing here knows about
sockets, servers or clients.
"""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import soxr

from .protocol import OutputFormat

_EMPTY = np.zeros(0, np.int16)

# --- G.711 ---------------------------------------------------------------------------
# The segment arithmetic follows the ITU G.711 reference that audioop implements.

_ULAW_BIAS = 0x84
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
    """Floats in [-1, 1) (times 32768, undoing decoders' /32768) or any integers → int16, clipped."""
    samples = np.asarray(samples)
    if samples.dtype == np.int16:
        return samples
    if np.issubdtype(samples.dtype, np.floating):
        samples = np.round(samples * 32768.0)
    return np.clip(samples, -32768, 32767).astype(np.int16)


def resample(pcm: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample a whole int16 mono signal with soxr (no aliasing, unlike linear interpolation)."""
    pcm = np.asarray(pcm, dtype=np.int16)
    if from_rate == to_rate or not len(pcm):
        return pcm
    return to_int16(soxr.resample(pcm, from_rate, to_rate))


class Resampler:
    """Resamples int16 mono that arrives in chunks, keeping soxr's filter state across them.

    Resampling each chunk on its own would restart the filter at every
    boundary (a click, and a few samples lost or gained each time); one stream
    gives the same samples as resampling the whole signal at once.
    """

    def __init__(self, from_rate: int, to_rate: int):
        self.from_rate, self.to_rate = from_rate, to_rate
        self._stream = None
        if from_rate != to_rate:
            self._stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype="int16")

    def process(self, pcm: np.ndarray, last: bool = False) -> np.ndarray:
        """The output available so far; ``last=True`` also drains the filter's tail."""
        pcm = np.asarray(pcm, dtype=np.int16)
        if self._stream is None:
            return pcm
        return self._stream.resample_chunk(pcm, last=last)

    __call__ = process

    def flush(self) -> np.ndarray:
        """The filter's remaining output, at the end of the stream."""
        return self.process(_EMPTY, last=True)


def wav_bytes(pcm: bytes | np.ndarray, sample_rate: int) -> bytes:
    """A mono 16-bit PCM WAV file holding ``pcm`` (int16 samples or S16LE bytes)."""
    data = np.asarray(pcm, dtype="<i2").tobytes() if isinstance(pcm, np.ndarray) else bytes(pcm)
    if len(data) % 2:
        raise ValueError(f"S16LE PCM must have an even number of bytes, not {len(data)}")
    fmt_chunk = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * 2, 2, 16)  # PCM, mono, 16-bit
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
            + b"data" + struct.pack("<I", len(data)) + data)


# --- decoding ---------------------------------------------------------------------------------


def _frames_to_int16(frames) -> tuple[np.ndarray, int | None]:
    """PyAV audio frames → (int16 mono, their sample rate); several channels are averaged."""
    parts, rate = [], None
    for frame in frames:
        array = frame.to_ndarray()
        channels = frame.layout.nb_channels
        if frame.format.is_planar:  # (channels, samples)
            array = array.mean(axis=0) if channels > 1 else array[0]
        else:  # (1, samples * channels), interleaved
            array = array.reshape(-1, channels).mean(axis=1) if channels > 1 else array[0]
        parts.append(to_int16(array))
        rate = frame.sample_rate
    return (np.concatenate(parts) if parts else _EMPTY), rate


class _Mp3Stream:
    """MP3 bytes in any pieces → PCM: PyAV's parser finds the frames across chunk boundaries.

    An ID3v2 tag at the start is cut off (the parser would glue it to the first
    frame); a packet the decoder still rejects (a damaged frame, a stray tag) is
    skipped and counted in ``skipped``, as players do, rather than ending the stream.
    """

    def __init__(self):
        import av

        self._av = av
        self._codec = av.CodecContext.create("mp3", "r")
        self._head: bytearray | None = bytearray()  # the first bytes, until any ID3v2 tag is past
        self.skipped = 0

    def feed(self, data: bytes) -> tuple[np.ndarray, int | None]:
        if self._head is not None:
            data = self._strip_id3(data)
        return _frames_to_int16(f for packet in self._codec.parse(data) for f in self._decode(packet))

    def _strip_id3(self, data: bytes) -> bytes:
        head = self._head
        head += data
        if len(head) < 10 and b"ID3".startswith(bytes(head[:3])):
            return b""  # too early to tell
        if head[:3] == b"ID3":
            size = 10 + sum((b & 0x7F) << (7 * k) for k, b in enumerate(reversed(head[6:10])))  # "syncsafe"
            size += 10 if head[5] & 0x10 else 0  # a footer
            if len(head) < size:
                return b""
            del head[:size]
        self._head = None
        return bytes(head)

    def close(self) -> tuple[np.ndarray, int | None]:
        # parse(b"") hands out the frame the parser still holds; decode(None) drains the decoder.
        frames = [f for packet in self._codec.parse(b"") for f in self._decode(packet)]
        frames += self._codec.decode(None)
        return _frames_to_int16(frames)

    def _decode(self, packet) -> list:
        try:
            return self._codec.decode(packet)
        except self._av.InvalidDataError:
            self.skipped += 1
            return []


def _opus_decoder(extradata: bytes):
    """A PyAV Opus decoder, libopus's when the FFmpeg build has it.

    FFmpeg's own Opus decoder was measured to blow up (full-scale garbage) on
    libopus's 32 kbps hybrid-mode packets of a loud 1.5-2.5 kHz sweep, where
    libopus decodes them cleanly.
    """
    import av

    try:
        codec = av.CodecContext.create("libopus", "r")
    except ValueError:  # UnknownCodecError: a build without libopus
        codec = av.CodecContext.create("opus", "r")
    codec.extradata = extradata
    return codec


class _OggOpusStream:
    """Ogg Opus bytes in any pieces → 48 kHz PCM, page by page, as the pages complete.

    PyAV's demuxer wants the whole file, so the Ogg pages are split here (the
    framing is a 27-byte header and a lacing table) and each Opus packet goes to
    PyAV's decoder as soon as its page is complete. Trimming follows RFC 7845:
    ``pre-skip`` samples are dropped at the start, and the end-of-stream page's
    granule position cuts the encoder's padding at the end. A new beginning-of-
    stream page (a chained stream) starts a new decoder.
    """

    RATE = 48000

    def __init__(self):
        self._buffer = bytearray()
        self._codec = None
        self._packet = b""  # a packet continued on the next page
        self._packets_seen = 0  # of this logical stream: 0 OpusHead, 1 OpusTags, then audio
        self._skip = 0  # pre-skip samples still to drop
        self._decoded = 0  # samples decoded in this logical stream, pre-skip included

    def feed(self, data: bytes) -> tuple[np.ndarray, int]:
        self._buffer += data
        parts = []
        while (page := self._next_page()) is not None:
            parts.append(self._on_page(*page))
        return (np.concatenate(parts) if parts else _EMPTY), self.RATE

    def close(self) -> tuple[np.ndarray, int]:
        if self._buffer:
            raise ValueError(f"the Ogg Opus stream ends inside a page ({len(self._buffer)} bytes left over)")
        return self._drain(limit=None), self.RATE  # no EOS page seen: keep all the decoder holds

    def _next_page(self) -> tuple[int, int, list[int], bytes] | None:
        buf = self._buffer
        if len(buf) < 27:
            return None
        if buf[:4] != b"OggS":
            raise ValueError(f"not an Ogg stream: expected a page starting with b'OggS', "
                             f"got {bytes(buf[:4])!r}")
        flags, granule = buf[5], struct.unpack_from("<q", buf, 6)[0]
        n_segments = buf[26]
        if len(buf) < 27 + n_segments:
            return None
        lacing = list(buf[27:27 + n_segments])
        end = 27 + n_segments + sum(lacing)
        if len(buf) < end:
            return None
        body = bytes(buf[27 + n_segments:end])
        del buf[:end]
        return flags, granule, lacing, body

    def _on_page(self, flags: int, granule: int, lacing: list[int], body: bytes) -> np.ndarray:
        if flags & 0x02:  # beginning of a (possibly chained) logical stream
            self._codec, self._packet, self._packets_seen = None, b"", 0
        if not flags & 0x01:  # not a continuation: a stray partial packet is dropped
            self._packet = b""
        # Only the last page's granule may end mid-packet: it cuts the encoder's padding.
        eos = bool(flags & 0x04)
        limit = granule if eos and granule >= 0 else None
        parts, pos = [], 0
        for size in lacing:
            self._packet += body[pos:pos + size]
            pos += size
            if size < 255:  # a lacing value under 255 ends the packet
                parts.append(self._on_packet(self._packet, limit))
                self._packet = b""
        if eos:
            parts.append(self._drain(limit))
        return np.concatenate(parts) if parts else _EMPTY

    def _on_packet(self, packet: bytes, limit: int | None) -> np.ndarray:
        self._packets_seen += 1
        if self._packets_seen == 1:
            self._open(packet)
            return _EMPTY
        if self._packets_seen == 2 or self._codec is None:  # OpusTags, or audio without a header
            return _EMPTY
        import av

        return self._emit(_frames_to_int16(self._codec.decode(av.Packet(packet)))[0], limit)

    def _drain(self, limit: int | None) -> np.ndarray:
        if self._codec is None:
            return _EMPTY
        codec, self._codec = self._codec, None
        return self._emit(_frames_to_int16(codec.decode(None))[0], limit)

    def _open(self, head: bytes) -> None:
        if not head.startswith(b"OpusHead") or len(head) < 19:
            raise ValueError("not an Ogg Opus stream: its first packet is not an OpusHead")
        self._skip = struct.unpack_from("<H", head, 10)[0]
        self._decoded = 0
        # Give the decoder a header with pre-skip 0 and drop the samples here, so the
        # trimming does not depend on what a given FFmpeg build does with pre-skip.
        self._codec = _opus_decoder(head[:10] + b"\0\0" + head[12:])

    def _emit(self, pcm: np.ndarray, limit: int | None) -> np.ndarray:
        """Cut at the granule ``limit`` (samples from the stream's start), then drop pre-skip."""
        if limit is not None:
            pcm = pcm[:max(0, limit - self._decoded)]
        self._decoded += len(pcm)
        dropped = min(self._skip, len(pcm))
        self._skip -= dropped
        return pcm[dropped:]


class StreamDecoder:
    """Decodes the audio chunks of one stream or context, as they arrive, into int16 mono.

    ``feed(chunk)`` returns the samples that chunk completes; ``close()`` the
    rest. PCM carries an odd trailing byte over to the next chunk; μ-law and
    A-law decode by table; MP3 goes through PyAV's parser, so chunk boundaries
    need not fall on frame boundaries; Ogg Opus is demuxed page by page, so its
    audio also comes out as the pages arrive (one Ogg page, about 20 ms, behind).
    Output is at ``sample_rate``: ``target_rate`` if given, else the format's rate.
    """

    def __init__(self, fmt: OutputFormat, target_rate: int | None = None):
        if fmt.codec not in ("pcm", "ulaw", "alaw", "mp3", "opus"):
            raise ValueError(f"cannot decode codec {fmt.codec!r}; known: pcm, ulaw, alaw, mp3, opus")
        self.fmt = fmt
        self.sample_rate = target_rate or fmt.sample_rate
        self._carry = b""
        self._resampler: Resampler | None = None  # made once the decoded rate is known
        self._codec = _Mp3Stream() if fmt.codec == "mp3" else _OggOpusStream() if fmt.codec == "opus" else None
        self.closed = False

    def feed(self, data: bytes) -> np.ndarray:
        """Decode one chunk; returns int16 mono at ``sample_rate`` (possibly empty)."""
        if self.closed:
            raise RuntimeError("StreamDecoder.feed() after close()")
        if not data:
            return _EMPTY
        codec = self.fmt.codec
        if codec == "pcm":
            data = self._carry + bytes(data)
            even = len(data) - len(data) % 2
            self._carry = data[even:]
            pcm, rate = np.frombuffer(data[:even], dtype="<i2").astype(np.int16), self.fmt.sample_rate
        elif codec == "ulaw":
            pcm, rate = ulaw_decode(data), self.fmt.sample_rate
        elif codec == "alaw":
            pcm, rate = alaw_decode(data), self.fmt.sample_rate
        else:
            pcm, rate = self._codec.feed(bytes(data))
        return self._to_target(pcm, rate)

    def close(self) -> np.ndarray:
        """The samples still held (codec and resampler tails); the decoder is done after this."""
        if self.closed:
            return _EMPTY
        self.closed = True
        pcm, rate = self._codec.close() if self._codec is not None else (_EMPTY, None)
        return self._to_target(pcm, rate, last=True)

    def _to_target(self, pcm: np.ndarray, rate: int | None, last: bool = False) -> np.ndarray:
        if self._resampler is None:
            if not len(pcm) or rate is None:
                return _EMPTY
            # The stream's real rate wins over the format's name (a server could differ).
            self._resampler = Resampler(rate, self.sample_rate)
        return self._resampler.process(pcm, last=last)


def decode_all(data: bytes, fmt: OutputFormat) -> tuple[np.ndarray, int]:
    """All of a stream's bytes in ``fmt`` → (int16 mono, the format's sample rate)."""
    decoder = StreamDecoder(fmt)
    return np.concatenate([decoder.feed(data), decoder.close()]), decoder.sample_rate


def decode_container(data: bytes, container: str | None = None) -> tuple[np.ndarray, int]:
    """Decode a whole file's bytes (MP3, Ogg Opus, WAV, ...) with PyAV's demuxer → (int16 mono, rate)."""
    import av

    with av.open(io.BytesIO(data), format=container) as box:
        stream = box.streams.audio[0]
        codec = stream.codec_context
        if codec.name == "opus":
            codec = _opus_decoder(codec.extradata)  # the demuxer's packets carry the pre-skip and end trim
        pcm, rate = _frames_to_int16(f for packet in box.demux(stream) for f in codec.decode(packet))
    return pcm, rate or stream.codec_context.sample_rate


# --- saving -----------------------------------------------------------------------------------

SAVE_EXTENSIONS = (".wav", ".mp3", ".ogg", ".opus", ".pcm", ".raw", ".ulaw", ".alaw")


def save_audio(path: str | Path, data: bytes | np.ndarray, fmt: OutputFormat) -> Path:
    """Write audio received in ``fmt`` to ``path``, in the form its extension names.

    Bytes already in the asked-for form are written as they are (``.mp3`` from
    mp3, ``.ogg``/``.opus`` from opus, ``.pcm``/``.raw`` from pcm, ``.ulaw`` from
    ulaw, ``.alaw`` from alaw); otherwise the audio is decoded and re-encoded:
    ``.wav`` is a mono 16-bit WAV at the received rate, ``.pcm``/``.raw`` headerless
    S16LE, ``.ulaw``/``.alaw`` raw G.711 at 8 kHz, ``.mp3`` via lameenc, ``.ogg``/
    ``.opus`` Ogg Opus via PyAV. ``data`` may also be int16 samples at ``fmt``'s rate.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SAVE_EXTENSIONS:
        raise ValueError(f"cannot save audio as {ext or 'a file without an extension'!r}; "
                         f"use one of {', '.join(SAVE_EXTENSIONS)}")
    raw = np.asarray(data, dtype="<i2").tobytes() if isinstance(data, np.ndarray) else bytes(data)
    same = {".mp3": "mp3", ".ogg": "opus", ".opus": "opus", ".pcm": "pcm", ".raw": "pcm",
            ".ulaw": "ulaw", ".alaw": "alaw"}
    if same.get(ext) == fmt.codec:
        path.write_bytes(raw[:len(raw) - len(raw) % 2] if fmt.codec == "pcm" else raw)
        return path
    pcm, rate = decode_all(raw, fmt)
    if ext == ".wav":
        out = wav_bytes(pcm, rate)
    elif ext in (".pcm", ".raw"):
        out = pcm.astype("<i2").tobytes()
    elif ext in (".ulaw", ".alaw"):
        narrow = resample(pcm, rate, 8000)
        out = ulaw_encode(narrow) if ext == ".ulaw" else alaw_encode(narrow)
    else:
        from .server.encoders import make_encoder

        if ext == ".mp3":  # MPEG-1 rates take 128 kbps; lower rates (MPEG-2) 64 kbps at 22050 Hz
            target = OutputFormat("mp3_44100_128", "mp3", 44100, 128) if rate > 24000 else \
                OutputFormat("mp3_22050_64", "mp3", 22050, 64)
        else:
            target = OutputFormat("opus_48000_64", "opus", 48000, 64)
        encoder = make_encoder(target, rate)
        out = encoder.encode(pcm) + encoder.flush()
    path.write_bytes(out)
    return path
