"""Ogg Opus demuxing page by page (RFC 7845 trimming), and PyAV frame helpers."""
from __future__ import annotations

import struct

import numpy as np

from .pcm import EMPTY, to_int16



def frames_to_int16(frames) -> tuple[np.ndarray, int | None]:
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
    return (np.concatenate(parts) if parts else EMPTY), rate


def opus_decoder(extradata: bytes):
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


class OggOpusStream:
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
        return (np.concatenate(parts) if parts else EMPTY), self.RATE

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
        return np.concatenate(parts) if parts else EMPTY

    def _on_packet(self, packet: bytes, limit: int | None) -> np.ndarray:
        self._packets_seen += 1
        if self._packets_seen == 1:
            self._open(packet)
            return EMPTY
        if self._packets_seen == 2 or self._codec is None:  # OpusTags, or audio without a header
            return EMPTY
        import av

        return self._emit(frames_to_int16(self._codec.decode(av.Packet(packet)))[0], limit)

    def _drain(self, limit: int | None) -> np.ndarray:
        if self._codec is None:
            return EMPTY
        codec, self._codec = self._codec, None
        return self._emit(frames_to_int16(codec.decode(None))[0], limit)

    def _open(self, head: bytes) -> None:
        if not head.startswith(b"OpusHead") or len(head) < 19:
            raise ValueError("not an Ogg Opus stream: its first packet is not an OpusHead")
        self._skip = struct.unpack_from("<H", head, 10)[0]
        self._decoded = 0
        # Give the decoder a header with pre-skip 0 and drop the samples here, so the
        # trimming does not depend on what a given FFmpeg build does with pre-skip.
        self._codec = opus_decoder(head[:10] + b"\0\0" + head[12:])

    def _emit(self, pcm: np.ndarray, limit: int | None) -> np.ndarray:
        """Cut at the granule ``limit`` (samples from the stream's start), then drop pre-skip."""
        if limit is not None:
            pcm = pcm[:max(0, limit - self._decoded)]
        self._decoded += len(pcm)
        dropped = min(self._skip, len(pcm))
        self._skip -= dropped
        return pcm[dropped:]
