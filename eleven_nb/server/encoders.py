"""Streaming encoders: one per stream or context, so its frames form ONE continuous stream.

The engine's int16 PCM is resampled with soxr's streaming resampler (no clicks
at chunk boundaries) and encoded to the requested ``output_format``: raw PCM,
G.711, MP3 (lameenc: no per-chunk header) or Ogg Opus (PyAV).
"""
from __future__ import annotations

import io

import numpy as np

from ..audio import Resampler, alaw_encode, ulaw_encode
from ..protocol import OutputFormat


class StreamEncoder:
    """``encode(pcm)`` per chunk, ``flush()`` once at the end; outputs concatenate to one stream."""

    def __init__(self, fmt: OutputFormat, source_rate: int):
        self.fmt = fmt
        self._resample = Resampler(source_rate, fmt.sample_rate)

    def encode(self, pcm: np.ndarray) -> bytes:
        return self._encode(self._resample(pcm)) if len(pcm) else b""

    def flush(self) -> bytes:
        return self._encode(self._resample(np.zeros(0, np.int16), last=True)) + self._finish()

    def _encode(self, pcm: np.ndarray) -> bytes:
        return pcm.astype("<i2").tobytes()

    def _finish(self) -> bytes:
        return b""


class _G711Encoder(StreamEncoder):
    def _encode(self, pcm: np.ndarray) -> bytes:
        return ulaw_encode(pcm) if self.fmt.codec == "ulaw" else alaw_encode(pcm)


class _Mp3Encoder(StreamEncoder):
    def __init__(self, fmt: OutputFormat, source_rate: int):
        super().__init__(fmt, source_rate)
        import lameenc

        self._lame = lameenc.Encoder()
        self._lame.set_channels(1)
        self._lame.set_in_sample_rate(fmt.sample_rate)
        self._lame.set_out_sample_rate(fmt.sample_rate)
        self._lame.set_bit_rate(fmt.bitrate_kbps or 128)
        self._lame.set_quality(7)  # fast; 170-340x real time here

    def _encode(self, pcm: np.ndarray) -> bytes:
        return bytes(self._lame.encode(pcm.astype("<i2").tobytes())) if len(pcm) else b""

    def _finish(self) -> bytes:
        return bytes(self._lame.flush())


class _OpusEncoder(StreamEncoder):
    """Ogg Opus through PyAV; pages are handed out as soon as the muxer writes them."""

    FRAME = 960  # 20 ms at 48 kHz

    def __init__(self, fmt: OutputFormat, source_rate: int):
        super().__init__(fmt, source_rate)
        import av

        self._av = av
        self._buffer = io.BytesIO()
        # page_duration (µs) small, so pages (and audio) leave as each chunk is encoded
        self._box = av.open(self._buffer, mode="w", format="ogg", options={"page_duration": "20000"})
        self._stream = self._box.add_stream("libopus", rate=48000)
        self._stream.layout = "mono"
        self._stream.bit_rate = (fmt.bitrate_kbps or 64) * 1000
        self._pending = np.zeros(0, np.int16)
        self._pts = 0
        self._read = 0

    def _take(self) -> bytes:
        data = self._buffer.getvalue()[self._read:]
        self._read += len(data)
        return data

    def _mux_frames(self, pcm: np.ndarray, final: bool) -> bytes:
        self._pending = np.concatenate([self._pending, pcm])
        while len(self._pending) >= self.FRAME or (final and len(self._pending)):
            block = self._pending[: self.FRAME]
            if len(block) < self.FRAME:
                block = np.concatenate([block, np.zeros(self.FRAME - len(block), np.int16)])
            self._pending = self._pending[self.FRAME:]
            frame = self._av.AudioFrame.from_ndarray(block.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = 48000
            frame.pts = self._pts
            self._pts += self.FRAME
            for packet in self._stream.encode(frame):
                self._box.mux(packet)
        return self._take()

    def _encode(self, pcm: np.ndarray) -> bytes:
        return self._mux_frames(pcm, final=False)

    def _finish(self) -> bytes:
        out = self._mux_frames(np.zeros(0, np.int16), final=True)
        for packet in self._stream.encode(None):
            self._box.mux(packet)
        self._box.close()
        return out + self._take()


def make_encoder(fmt: OutputFormat, source_rate: int) -> StreamEncoder:
    """The encoder for ``fmt``, fed PCM at ``source_rate``."""
    kind = {"pcm": StreamEncoder, "ulaw": _G711Encoder, "alaw": _G711Encoder, "mp3": _Mp3Encoder,
            "opus": _OpusEncoder}[fmt.codec]
    return kind(fmt, source_rate)
