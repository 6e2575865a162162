"""Engine utterances → encoded audio frames with chunk-relative alignment.

One :class:`FrameBuilder` per stream or context, owning that stream's encoder,
so the frames' audio concatenates to one continuous stream (one MP3, one Ogg).
Times are tracked in engine samples and turned into milliseconds relative to
the start of each frame, as the real service sends them.

Each frame carries two timings, as the real service's do: ``alignment`` covers
exactly the text the client sent, and ``normalizedAlignment`` the text as
spoken. The spoken text of every generation starts with one space, its
whitespace runs are one space each, and, given a ``spoken`` function (source
spans to spoken strings, e.g. "2" to "two"), it holds the expanded words, each
taking the time of the characters it replaces.
"""
from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..alignment import Alignment
from .engines.base import Utterance

FRAME_SECONDS = 0.5  # audio per frame: small enough for steady streaming, far below 1 MiB
DRAIN_SECONDS = 0.06  # silence that pushes out what MP3/Opus frames and the resampler hold back


# text -> (start, end, spoken) spans covering it in order; spoken "" drops the span (e.g. markup)
Spoken = Callable[[str], Sequence[tuple[int, int, str]]]
_Timed = tuple[str, int, int]  # (character, start, end) in absolute engine samples


class Encoder(Protocol):
    def encode(self, pcm: np.ndarray) -> bytes: ...
    def flush(self) -> bytes: ...


@dataclass
class Frame:
    audio: bytes
    alignment: Alignment | None
    normalized: Alignment | None = None


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
    spoken: Spoken | None = None
    _position: int = 0  # engine samples fed to the encoder so far
    _pending_start: int | None = None
    _pending: list[_Timed] = field(default_factory=list)
    _pending_spoken: list[_Timed] = field(default_factory=list)
    _space_next: bool = True  # the next spoken character starts a generation: a space goes first
    _after_space: bool = False  # the last spoken character was whitespace

    def __post_init__(self) -> None:
        if not self.frame_samples:
            self.frame_samples = max(1, int(self.sample_rate * FRAME_SECONDS))

    def start_generation(self) -> None:
        """The next utterance begins a generation: its spoken text starts with a space."""
        self._space_next = True

    def add(self, utterance: Utterance) -> list[Frame]:
        audio, n, text = utterance.audio, len(utterance.audio), utterance.text
        relative = utterance.char_starts
        base = self._position
        starts, ends = (relative + base).tolist(), (utterance.char_ends + base).tolist()
        spoken, owners = self._spoken_chars(text, starts, ends)
        frames: list[Frame] = []
        bounds = list(range(0, n, self.frame_samples)) or [0]
        for k, a in enumerate(bounds):
            b = min(n, a + self.frame_samples)
            last = k == len(bounds) - 1
            if self.sync_alignment:  # the characters that start in this frame (starts never decrease)
                i0 = int(np.searchsorted(relative, a, "left"))
                i1 = len(text) if last else int(np.searchsorted(relative, b, "left"))
            else:  # the first frame of the utterance carries all of it
                i0, i1 = (0, len(text)) if k == 0 else (0, 0)
            if self._pending_start is None:
                self._pending_start = base + a
            self._pending.extend(zip(text[i0:i1], starts[i0:i1], ends[i0:i1]))
            j0, j1 = (i0, i1) if owners is None else (bisect.bisect_left(owners, i0), bisect.bisect_left(owners, i1))
            self._pending_spoken.extend(self._collapse(spoken[j0:j1]))
            frames += self._emit(self.encoder.encode(audio[a:b]))
        self._position += n
        return frames

    def _spoken_chars(self, text: str, starts: list[int], ends: list[int]) -> tuple[list[_Timed], list[int] | None]:
        """The spoken characters with their times, and for each the source character it belongs to
        (``None``: one for one). A span's spoken string takes the time of the characters it replaces."""
        if self.spoken is None:
            return list(zip(text, starts, ends)), None
        spoken: list[_Timed] = []
        owners: list[int] = []
        for a, b, said in self.spoken(text):
            if b <= a or not said:
                continue
            s0, e0 = starts[a], ends[b - 1]
            step = (e0 - s0) / len(said)
            spoken += [(c, s0 + round(k * step), s0 + round((k + 1) * step)) for k, c in enumerate(said)]
            owners += [a] * len(said)
        return spoken, owners

    def _collapse(self, chars: Iterable[_Timed]) -> list[_Timed]:
        """Whitespace runs become one space; a generation's spoken text starts with one."""
        out: list[_Timed] = []
        for c, s, e in chars:
            if c.isspace():
                if self._after_space or self._space_next:
                    continue
                self._after_space = True
                out.append((" ", s, e))
                continue
            if self._space_next:
                out.append((" ", s, s))
                self._space_next = False
            self._after_space = False
            out.append((c, s, e))
        return out

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
            frames.append(self._frame(b""))
        return frames

    def _emit(self, data: bytes) -> list[Frame]:
        return [self._frame(data)] if data else []

    def _frame(self, data: bytes) -> Frame:
        origin = self._pending_start or 0
        pending, spoken = self._pending, self._pending_spoken
        self._pending_start, self._pending, self._pending_spoken = None, [], []
        if not pending:  # with sync_alignment every chunk carries timing, even an empty one
            empty = Alignment((), (), ()) if self.sync_alignment else None
            return Frame(data, empty, empty)
        return Frame(data, self._relative(pending, origin), self._relative(spoken, origin))

    def _relative(self, timed: list[_Timed], origin: int) -> Alignment:
        ms = 1000.0 / self.sample_rate
        return Alignment(
            tuple(c for c, _, _ in timed),
            tuple((s - origin) * ms for _, s, _ in timed),
            tuple((e - s) * ms for _, s, e in timed),
        )
