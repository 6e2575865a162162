"""Decoding received audio, as it arrives (:class:`StreamDecoder`) or whole files."""
from __future__ import annotations

import io

import numpy as np

from ..protocol import OutputFormat
from .g711 import alaw_decode, ulaw_decode
from .ogg import OggOpusStream, frames_to_int16, opus_decoder
from .pcm import EMPTY, Resampler



class _WavStream:
    """WAV bytes in any pieces → PCM: the chunks before ``data`` are read (the rate from ``fmt ``, 16-bit
    PCM only), then every byte is a sample's; an odd trailing byte waits for the next piece."""

    MAX_HEADER = 1 << 16  # a header longer than this is not a WAV this decoder reads

    def __init__(self) -> None:
        self._head: bytearray | None = bytearray()
        self._rate: int | None = None
        self._carry = b""

    def feed(self, data: bytes) -> tuple[np.ndarray, int | None]:
        if self._head is not None:
            self._head += data
            data = self._after_header()
            if self._head is not None:
                return EMPTY, None
        data = self._carry + data
        even = len(data) - len(data) % 2
        self._carry = data[even:]
        return np.frombuffer(data[:even], dtype="<i2").astype(np.int16), self._rate

    def _after_header(self) -> bytes:
        """The bytes after the ``data`` chunk's header once it has arrived (the header is then done)."""
        head = self._head
        assert head is not None
        if len(head) >= 12 and (head[:4] != b"RIFF" or head[8:12] != b"WAVE"):
            raise ValueError("not a WAV stream: it does not start with RIFF....WAVE")
        at = 12
        while len(head) >= at + 8:
            kind, size = bytes(head[at:at + 4]), int.from_bytes(head[at + 4:at + 8], "little")
            if kind == b"data":
                self._head = None
                return bytes(head[at + 8:])
            if len(head) < at + 8 + size:
                break
            if kind == b"fmt ":
                codec, channels, rate = int.from_bytes(head[at + 8:at + 10], "little"), head[at + 10], \
                    int.from_bytes(head[at + 12:at + 16], "little")
                bits = int.from_bytes(head[at + 22:at + 24], "little")
                if (codec, channels, bits) != (1, 1, 16):
                    raise ValueError(f"WAV of codec {codec}, {channels} channels, {bits} bits: only mono 16-bit PCM")
                self._rate = rate
            at += 8 + size + size % 2
        if len(head) > self.MAX_HEADER:
            raise ValueError("no data chunk in the WAV stream's first 64 KiB")
        return b""

    def close(self) -> tuple[np.ndarray, int | None]:
        return EMPTY, self._rate


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
        return frames_to_int16(f for packet in self._codec.parse(data) for f in self._decode(packet))

    def _strip_id3(self, data: bytes) -> bytes:
        head = self._head
        assert head is not None  # only called until the tag is past
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
        return frames_to_int16(frames)

    def _decode(self, packet) -> list:
        try:
            return self._codec.decode(packet)
        except self._av.InvalidDataError:
            self.skipped += 1
            return []


class StreamDecoder:
    """Decodes the audio chunks of one stream or context, as they arrive, into int16 mono.

    ``feed(chunk)`` returns the samples that chunk completes; ``close()`` the
    rest. PCM carries an odd trailing byte over to the next chunk; μ-law and
    A-law decode by table; MP3 goes through PyAV's parser, so chunk boundaries
    need not fall on frame boundaries; Ogg Opus is demuxed page by page, so its
    audio also comes out as the pages arrive (one Ogg page, about 20 ms, behind);
    WAV is read past its header, then as PCM.
    Output is at ``sample_rate``: ``target_rate`` if given, else the format's rate.
    """

    def __init__(self, fmt: OutputFormat, target_rate: int | None = None):
        if fmt.codec not in ("pcm", "ulaw", "alaw", "mp3", "opus", "wav"):
            raise ValueError(f"cannot decode codec {fmt.codec!r}; known: pcm, ulaw, alaw, mp3, opus, wav")
        self.fmt = fmt
        self.sample_rate = target_rate or fmt.sample_rate
        self._carry = b""
        self._resampler: Resampler | None = None  # made once the decoded rate is known
        codecs: dict[str, type[_Mp3Stream | OggOpusStream | _WavStream]] = {
            "mp3": _Mp3Stream, "opus": OggOpusStream, "wav": _WavStream}
        self._codec = codecs[fmt.codec]() if fmt.codec in codecs else None
        self.closed = False

    def feed(self, data: bytes) -> np.ndarray:
        """Decode one chunk; returns int16 mono at ``sample_rate`` (possibly empty)."""
        if self.closed:
            raise RuntimeError("StreamDecoder.feed() after close()")
        if not data:
            return EMPTY
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
            assert self._codec is not None  # mp3, opus and wav have one
            pcm, decoded_rate = self._codec.feed(bytes(data))
            return self._to_target(pcm, decoded_rate)
        return self._to_target(pcm, rate)

    def close(self) -> np.ndarray:
        """The samples still held (codec and resampler tails); the decoder is done after this."""
        if self.closed:
            return EMPTY
        self.closed = True
        pcm, rate = self._codec.close() if self._codec is not None else (EMPTY, None)
        return self._to_target(pcm, rate, last=True)

    def _to_target(self, pcm: np.ndarray, rate: int | None, last: bool = False) -> np.ndarray:
        if self._resampler is None:
            if not len(pcm) or rate is None:
                return EMPTY
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

    with av.open(io.BytesIO(data), mode="r", format=container) as box:
        stream = box.streams.audio[0]
        codec = stream.codec_context
        if codec.name == "opus":
            codec = opus_decoder(codec.extradata or b"")  # the demuxer's packets carry the pre-skip and end trim
        pcm, rate = frames_to_int16(f for packet in box.demux(stream) for f in codec.decode(packet))
    return pcm, rate or stream.codec_context.sample_rate
