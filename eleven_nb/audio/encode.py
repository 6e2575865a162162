"""Streaming encoders: one per stream or context, so its outputs form ONE continuous stream.

The engine's int16 PCM is resampled with soxr's streaming resampler (no clicks
at chunk boundaries) and encoded to the requested ``output_format``: raw S16LE
PCM, WAV (one header, then PCM), raw G.711 at 8 kHz, MP3 (one lameenc encoder: frames only, no per-chunk
ID3/Xing header) or Ogg Opus (PyAV's libopus and Ogg muxer, pages handed out
as soon as the muxer writes them). Concatenating every ``encode`` output and
the ``flush`` output gives one valid file in that format.
"""
from __future__ import annotations

import io

import numpy as np

from ..protocol import OutputFormat
from .g711 import alaw_encode, ulaw_encode
from .pcm import Resampler, wav_header


class StreamEncoder:
    """``encode(pcm)`` per chunk, ``flush()`` once at the end; the outputs concatenate to one stream.

    The base class writes raw S16LE at the format's rate; subclasses override
    :meth:`_encode` (resampled samples → bytes) and :meth:`_finish` (codec tail).
    """

    def __init__(self, fmt: OutputFormat, source_rate: int):
        self.fmt = fmt
        self.source_rate = source_rate
        self._resampler = Resampler(source_rate, fmt.sample_rate)
        self._finished = False
        self._resampled = 0  # samples at the format's rate handed to the codec so far

    @property
    def position(self) -> float:
        """Seconds of audio handed to the codec so far. The resampler holds a few milliseconds back, so
        this trails the audio given to :meth:`encode`; for raw formats it is exactly the audio returned."""
        return self._resampled / self.fmt.sample_rate

    @property
    def emitted(self) -> float:
        """Seconds of the stream that the bytes returned so far decode to in full, never more (a codec
        holds frames back behind :attr:`position`); for raw formats, :attr:`position`."""
        return self.position

    def encode(self, pcm: np.ndarray) -> bytes:
        """Encode int16 mono at ``source_rate``; returns the bytes ready so far (maybe b"")."""
        if self._finished:
            raise RuntimeError(f"{self.fmt.name} encoder: encode() after flush()")
        if not len(pcm):
            return b""
        pcm = np.asarray(pcm)
        if pcm.ndim != 1:
            raise ValueError(f"encoders take mono 1-D int16 samples, not an array of shape {pcm.shape}")
        return self._hand_on(self._resampler.process(pcm.astype(np.int16, copy=False)))

    def flush(self) -> bytes:
        """End the stream: the resampler's and codec's tails. Later calls return b""."""
        if self._finished:
            return b""
        self._finished = True
        return self._hand_on(self._resampler.flush()) + self._finish()

    def _hand_on(self, resampled: np.ndarray) -> bytes:
        self._resampled += len(resampled)
        return self._encode(resampled)

    def _encode(self, pcm: np.ndarray) -> bytes:
        return pcm.astype("<i2", copy=False).tobytes()

    def _finish(self) -> bytes:
        return b""


class _WavEncoder(StreamEncoder):
    """One WAV header first (its sizes unknown: the stream's length is), then raw S16LE."""

    def __init__(self, fmt: OutputFormat, source_rate: int):
        super().__init__(fmt, source_rate)
        self._header: bytes = wav_header(fmt.sample_rate)

    def _encode(self, pcm: np.ndarray) -> bytes:
        header, self._header = self._header, b""
        return header + pcm.astype("<i2", copy=False).tobytes()

    def _finish(self) -> bytes:
        header, self._header = self._header, b""  # a stream with no audio is still one valid file
        return header


class _G711Encoder(StreamEncoder):
    def _encode(self, pcm: np.ndarray) -> bytes:
        return ulaw_encode(pcm) if self.fmt.codec == "ulaw" else alaw_encode(pcm)


class _Mp3Encoder(StreamEncoder):
    """One LAME encoder for the whole stream; soxr does the resampling, not LAME."""

    QUALITY = 7  # LAME: 0 best .. 9 fastest; 7 is ~1.5x faster than 5 here and fine for speech
    DELAY = 576 + 529  # samples: LAME's encoder delay and a decoder's; the decoded stream starts with them

    def __init__(self, fmt: OutputFormat, source_rate: int):
        super().__init__(fmt, source_rate)
        import lameenc

        self._lame = lameenc.Encoder()
        self._lame.set_channels(1)
        self._lame.set_in_sample_rate(fmt.sample_rate)
        self._lame.set_out_sample_rate(fmt.sample_rate)
        self._lame.set_bit_rate(fmt.bitrate_kbps or 128)
        self._lame.set_quality(self.QUALITY)
        self._started = False  # lameenc refuses flush() before any encode()
        self._bytes = 0  # returned so far

    @property
    def emitted(self) -> float:
        """At a constant bit rate the bytes give the frames' duration, padding averaging out; it trails
        the decoded length (measured: by 0-20 ms), so the estimate stays on the safe side."""
        decoded = self._bytes * 8 / ((self.fmt.bitrate_kbps or 128) * 1000)
        return max(0.0, decoded - self.DELAY / self.fmt.sample_rate)

    def _encode(self, pcm: np.ndarray) -> bytes:
        if not len(pcm):
            return b""
        self._started = True
        data = bytes(self._lame.encode(pcm.astype("<i2", copy=False).tobytes()))
        self._bytes += len(data)
        return data

    def _finish(self) -> bytes:
        return bytes(self._lame.flush()) if self._started else b""


class _OpusEncoder(StreamEncoder):
    """Ogg Opus at 48 kHz through PyAV: libopus packets of 20 ms, muxed into an in-memory Ogg.

    ``page_duration`` of 20 ms makes the muxer close a page per packet, so each
    ``encode`` hands out the audio encoded so far; the muxer keeps one page
    back (it may be the last, flagged at the end) and libopus one frame of
    look-ahead, so the output trails the input by roughly 40-60 ms until ``flush``.
    """

    RATE = 48000
    FRAME = 960  # 20 ms: libopus's default frame size

    def __init__(self, fmt: OutputFormat, source_rate: int):
        if fmt.sample_rate != self.RATE:
            raise ValueError(f"Ogg Opus is encoded at {self.RATE} Hz, not {fmt.sample_rate}")
        super().__init__(fmt, source_rate)
        import av

        self._av = av
        self._out = io.BytesIO()
        self._box = av.open(self._out, mode="w", format="ogg", options={"page_duration": "20000"})
        self._stream = self._box.add_stream("libopus", rate=self.RATE)
        self._stream.layout = "mono"
        self._stream.bit_rate = (fmt.bitrate_kbps or 64) * 1000
        self._pending = np.zeros(0, np.int16)  # less than one frame
        self._pts = 0
        self._granule = 0  # of the last Ogg page returned: samples decodable, pre-skip included
        self._pre_skip = 0  # from the OpusHead: samples the decoder drops at the start

    @property
    def emitted(self) -> float:
        return max(0, self._granule - self._pre_skip) / self.RATE

    def _encode(self, pcm: np.ndarray) -> bytes:
        self._pending = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
        whole = len(self._pending) - len(self._pending) % self.FRAME
        for start in range(0, whole, self.FRAME):
            self._encode_frame(self._pending[start:start + self.FRAME])
        self._pending = self._pending[whole:]
        return self._take()

    def _finish(self) -> bytes:
        if len(self._pending):  # libopus takes a short last frame; the end granule trims its padding
            self._encode_frame(self._pending)
            self._pending = np.zeros(0, np.int16)
        for packet in self._stream.encode(None):
            self._box.mux(packet)
        self._box.close()  # writes the last page, flagged end-of-stream
        return self._take()

    def _encode_frame(self, block: np.ndarray) -> None:
        frame = self._av.AudioFrame.from_ndarray(np.ascontiguousarray(block).reshape(1, -1),
                                                 format="s16", layout="mono")
        frame.sample_rate = self.RATE
        frame.pts = self._pts
        self._pts += len(block)
        for packet in self._stream.encode(frame):
            self._box.mux(packet)

    def _take(self) -> bytes:
        """The bytes the muxer has written since the last call (whole pages), and forget them."""
        data = self._out.getvalue()
        self._out.seek(0)
        self._out.truncate()
        self._read_pages(data)
        return data

    def _read_pages(self, data: bytes) -> None:
        """Note the granule position of the last page in ``data``, and the pre-skip of the OpusHead
        (RFC 7845: a 27-byte page header, its segment table, then the segments)."""
        at = 0
        while at + 27 <= len(data) and data[at:at + 4] == b"OggS":
            count = data[at + 26]
            body = at + 27 + count
            granule = int.from_bytes(data[at + 6:at + 14], "little", signed=True)
            if data[body:body + 8] == b"OpusHead":
                self._pre_skip = int.from_bytes(data[body + 10:body + 12], "little")
            elif granule >= 0:  # -1: no packet ends on this page
                self._granule = granule
            at = body + sum(data[at + 27:body])


_ENCODERS = {"pcm": StreamEncoder, "ulaw": _G711Encoder, "alaw": _G711Encoder, "mp3": _Mp3Encoder,
             "opus": _OpusEncoder, "wav": _WavEncoder}


def make_encoder(fmt: OutputFormat, source_rate: int) -> StreamEncoder:
    """A new encoder for one stream in ``fmt``, fed int16 mono PCM at ``source_rate``."""
    try:
        kind = _ENCODERS[fmt.codec]
    except KeyError:
        raise ValueError(f"cannot encode codec {fmt.codec!r}; known: {', '.join(_ENCODERS)}") from None
    if source_rate <= 0:
        raise ValueError(f"source_rate must be positive, not {source_rate}")
    return kind(fmt, source_rate)
