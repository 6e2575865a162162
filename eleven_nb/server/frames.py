"""Engine utterances → encoded audio frames with chunk-relative alignment.

One :class:`FrameBuilder` per stream or context, owning that stream's encoder,
so the frames' audio concatenates to one continuous stream (one MP3, one Ogg).
Times are tracked in engine samples and turned into milliseconds relative to
the start of each frame, as the real service sends them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..alignment import Alignment
from .engines.base import Utterance

FRAME_SECONDS = 0.5  # audio per frame: small enough for steady streaming, far below 1 MiB
DRAIN_SECONDS = 0.06  # silence that pushes out what MP3/Opus frames and the resampler hold back


class Encoder(Protocol):
    def encode(self, pcm: np.ndarray) -> bytes: ...
    def flush(self) -> bytes: ...


@dataclass
class Frame:
    audio: bytes
    alignment: Alignment | None


@dataclass
class FrameBuilder:
    """Cuts utterances into frames and attaches alignment.

    With ``sync_alignment`` every frame carries the characters that start in
    it; without, the first frame of each utterance (one generation) carries
    the whole utterance's timing, as the real service does. If an encoder
    returns no bytes for a slice (codec look-ahead), that slice's alignment
    waits for the next bytes, keeping its times relative to where it began.
    """

    encoder: Encoder
    sample_rate: int
    sync_alignment: bool = False
    frame_samples: int = 0
    _position: int = 0  # engine samples fed to the encoder so far
    _pending_start: int | None = None
    _pending: list[tuple[str, int, int]] = field(default_factory=list)  # (char, start, end), absolute samples

    def __post_init__(self) -> None:
        if not self.frame_samples:
            self.frame_samples = max(1, int(self.sample_rate * FRAME_SECONDS))

    def add(self, utterance: Utterance) -> list[Frame]:
        audio, n = utterance.audio, len(utterance.audio)
        starts, ends = utterance.char_starts, utterance.char_ends
        frames: list[Frame] = []
        bounds = list(range(0, n, self.frame_samples)) or [0]
        for k, a in enumerate(bounds):
            b = min(n, a + self.frame_samples)
            last = k == len(bounds) - 1
            if self.sync_alignment:
                mask = (starts >= a) & ((starts < b) | last)
            else:
                mask = np.ones(len(starts), bool) if k == 0 else np.zeros(len(starts), bool)
            if self._pending_start is None:
                self._pending_start = self._position + a
            base = self._position
            self._pending.extend(
                (utterance.text[i], base + int(starts[i]), base + int(ends[i])) for i in np.flatnonzero(mask)
            )
            frames += self._emit(self.encoder.encode(audio[a:b]))
        self._position += n
        return frames

    def drain(self) -> list[Frame]:
        """End of a generation: if timing is still waiting for bytes the codec or resampler holds
        back, feed a little silence so that audio, and the timing with it, goes out now."""
        if not self._pending:
            return []
        silence = np.zeros(max(1, int(self.sample_rate * DRAIN_SECONDS)), np.int16)
        frames = self._emit(self.encoder.encode(silence))
        self._position += len(silence)
        return frames

    def finish(self) -> list[Frame]:
        """Flush the encoder at the end of the stream or context."""
        tail = self.encoder.flush()
        frames = self._emit(tail)
        if self._pending:  # nothing left to carry them: send the timing with an empty payload
            frames.append(Frame(b"", self._take_alignment()))
        return frames

    def _emit(self, data: bytes) -> list[Frame]:
        if not data:
            return []
        return [Frame(data, self._take_alignment())]

    def _take_alignment(self) -> Alignment | None:
        origin, pending = self._pending_start or 0, self._pending
        self._pending_start, self._pending = None, []
        if not pending:  # with sync_alignment every chunk carries timing, even an empty one
            return Alignment((), (), ()) if self.sync_alignment else None
        ms = 1000.0 / self.sample_rate
        return Alignment(
            tuple(c for c, _, _ in pending),
            tuple((s - origin) * ms for _, s, _ in pending),
            tuple((e - s) * ms for _, s, e in pending),
        )
