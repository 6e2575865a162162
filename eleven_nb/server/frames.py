"""Engine utterances → encoded audio frames with chunk-relative alignment.

One :class:`FrameBuilder` per stream or context, owning that stream's encoder,
so the frames' audio concatenates to one continuous stream (one MP3, one Ogg).
Times are tracked in engine samples and turned into milliseconds relative to
the start of each frame, as the real service sends them.

A frame's times are relative to where its audio starts: the encoder's position when the
bytes were made (its resampler holds a few milliseconds back, so that is not the engine
audio fed so far), and the client, adding up the audio it received, puts every character
where it sounds.

Each frame carries two timings, as the real service's do: ``alignment`` covers
exactly the text the client sent, and ``normalizedAlignment`` the text as
spoken. The spoken text of every generation starts with one space, its
whitespace runs are one space each, and, given a ``spoken`` function (source
spans to spoken strings, e.g. "2" to "two"), it holds the expanded words, each
taking the time of the characters it replaces.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..alignment import Alignment
from ..protocol import OutputFormat
from .engines.base import Utterance

FRAME_SECONDS = 0.5  # audio per frame: small enough for steady streaming, far below 1 MiB
DRAIN_SECONDS = 0.3  # at most this much silence pushes out what a resampler or codec holds (FrameBuilder.drain)
QUIET = 64  # int16 magnitude (-54 dBFS) at or under which held audio need not be pushed out: it is silence


# text -> (start, end, spoken) spans covering it in order; spoken "" drops the span (e.g. markup)
Spoken = Callable[[str], Sequence[tuple[int, int, str]]]
_WHITESPACE = re.compile(r"\s+")


class Encoder(Protocol):
    fmt: OutputFormat

    def encode(self, pcm: np.ndarray) -> bytes: ...
    def flush(self) -> bytes: ...
    @property
    def position(self) -> float: ...  # seconds handed to the codec so far (see audio.encode.StreamEncoder)
    @property
    def emitted(self) -> float: ...  # seconds the bytes returned decode to in full (ditto)


@dataclass
class Frame:
    audio: bytes
    alignment: Alignment | None
    normalized: Alignment | None = None


@dataclass
class _Timing:
    """Characters waiting for a frame, with absolute start and end samples (parallel lists:
    long texts are handled in bulk, not character by character)."""

    chars: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    def extend(self, chars: Sequence[str], starts: Sequence[int], ends: Sequence[int]) -> None:
        self.chars.extend(chars)
        self.starts.extend(starts)
        self.ends.extend(ends)

    def split(self, at: float) -> tuple[_Timing, _Timing]:
        """(the characters starting before ``at``, the rest); starts never decrease."""
        k = bisect.bisect_left(self.starts, at)
        return (_Timing(self.chars[:k], self.starts[:k], self.ends[:k]),
                _Timing(self.chars[k:], self.starts[k:], self.ends[k:]))

    def relative(self, origin: float, sample_rate: int) -> Alignment:
        ms = 1000.0 / sample_rate
        starts, ends = np.asarray(self.starts, np.float64), np.asarray(self.ends, np.float64)
        return Alignment(tuple(self.chars), tuple(((starts - origin) * ms).tolist()),
                         tuple(((ends - starts) * ms).tolist()))


@dataclass
class FrameBuilder:
    """Cuts utterances into frames and attaches alignment.

    With ``sync_alignment`` every frame carries the characters that start in
    its audio; without, the first frame of each utterance (one generation)
    carries the whole utterance's timing, as the real service does. Timing
    waiting for audio (the resampler's delay, or a codec's look-ahead that gave
    no bytes for a slice) goes with the next bytes. A frame's times are relative
    to where its bytes start (the encoder's position when they were made), or
    to its first character if that is earlier (a codec's bytes may start before).
    """

    encoder: Encoder
    sample_rate: int
    sync_alignment: bool = False
    frame_samples: int = 0
    spoken: Spoken | None = None
    _position: int = 0  # engine samples fed to the encoder so far
    _quiet_tail: int = 0  # how many of the last samples fed were at or under QUIET
    _pending: _Timing = field(default_factory=_Timing)  # the text as sent
    _pending_spoken: _Timing = field(default_factory=_Timing)  # the text as spoken
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
        said, said_starts, said_ends, owners = self._spoken_chars(text, starts, ends)
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
            self._pending.extend(text[i0:i1], starts[i0:i1], ends[i0:i1])
            j0, j1 = (i0, i1) if owners is None else (bisect.bisect_left(owners, i0), bisect.bisect_left(owners, i1))
            self._collapse(said[j0:j1], said_starts[j0:j1], said_ends[j0:j1])
            frames += self._encode(audio[a:b])
        self._position += n
        self._note_quiet_tail(audio)
        return frames

    def _note_quiet_tail(self, audio: np.ndarray) -> None:
        """How many of the last samples fed are quiet. Only the utterance's last DRAIN_SECONDS are scanned
        (this runs on the event loop, once per utterance): a longer quiet run counts as that long, which is
        already more than any resampler or codec holds."""
        tail = audio[-int(self.sample_rate * DRAIN_SECONDS):]
        loud = np.flatnonzero((tail > QUIET) | (tail < -QUIET))
        if loud.size:
            self._quiet_tail = len(tail) - 1 - int(loud[-1])
        else:
            self._quiet_tail = len(tail) if len(tail) < len(audio) else self._quiet_tail + len(audio)

    def _spoken_chars(self, text: str, starts: list[int], ends: list[int]
                      ) -> tuple[str, list[int], list[int], list[int] | None]:
        """The spoken text with its times, and for each character the source character it belongs
        to (``None``: one for one). A span's spoken string takes the time of the characters it replaces."""
        if self.spoken is None:
            return text, starts, ends, None
        said: list[str] = []
        said_starts: list[int] = []
        said_ends: list[int] = []
        owners: list[int] = []
        for a, b, words in self.spoken(text):
            if b <= a or not words:
                continue
            s0, e0 = starts[a], ends[b - 1]
            step = (e0 - s0) / len(words)
            said += words
            said_starts += [s0 + round(k * step) for k in range(len(words))]
            said_ends += [s0 + round((k + 1) * step) for k in range(len(words))]
            owners += [a] * len(words)
        return "".join(said), said_starts, said_ends, owners

    def _collapse(self, text: str, starts: list[int], ends: list[int]) -> None:
        """Add spoken text: whitespace runs become one space; a generation's text starts with one."""
        at = 0
        for run in _WHITESPACE.finditer(text):
            self._spoken_run(text, starts, ends, at, run.start())
            if not (self._after_space or self._space_next):
                self._pending_spoken.extend(" ", starts[run.start():run.start() + 1], ends[run.start():run.start() + 1])
                self._after_space = True
            at = run.end()
        self._spoken_run(text, starts, ends, at, len(text))

    def _spoken_run(self, text: str, starts: list[int], ends: list[int], a: int, b: int) -> None:
        if a >= b:
            return
        if self._space_next:
            self._pending_spoken.extend(" ", starts[a:a + 1], starts[a:a + 1])
            self._space_next = False
        self._after_space = False
        self._pending_spoken.extend(text[a:b], starts[a:b], ends[a:b])

    def drain(self) -> list[Frame]:
        """End of a generation with nothing queued after it: feed silence, 5 ms at a time, until what the
        resampler or codec holds of its speech has come out and no timing waits (as one frame; at most
        :data:`DRAIN_SECONDS`). The timing may have gone ahead with earlier bytes while the last words stay
        in a codec: LAME holds 50-180 ms of audio (the most at 32 kb/s), Opus 20-40 ms, soxr 10-35 ms. A
        generation that ends in silence, with no timing waiting, gets nothing."""
        speech_end = (self._position - self._quiet_tail) / self.sample_rate  # seconds into the stream
        start, data, fed = self.encoder.position, b"", 0
        step, limit = max(1, self.sample_rate // 200), int(self.sample_rate * DRAIN_SECONDS)
        while fed < limit and (self.encoder.emitted < speech_end or self._timing_waits(data)):
            data += self.encoder.encode(np.zeros(step, np.int16))
            fed += step
        self._position += fed
        self._quiet_tail += fed
        return [self._frame(data, start)] if data else []

    def _timing_waits(self, data: bytes) -> bool:
        """Characters wait, and ``data`` (the bytes that would carry them) is missing or ends before them."""
        return bool(self._pending.chars) and not (
            data and self._pending.starts[-1] < self.encoder.position * self.sample_rate)

    def finish(self) -> list[Frame]:
        """Flush the encoder at the end of the stream or context."""
        start = self.encoder.position
        tail = self.encoder.flush()
        frames = [self._frame(tail, start)] if tail else []
        if self._pending.chars:  # nothing left to carry them: send the timing with an empty payload
            frames.append(self._frame(b"", self.encoder.position, everything=True))
        return frames

    def _encode(self, pcm: np.ndarray) -> list[Frame]:
        """A frame for the bytes the encoder has ready after ``pcm``, if any, timed from where they start."""
        start = self.encoder.position
        data = self.encoder.encode(pcm)
        return [self._frame(data, start)] if data else []

    def _frame(self, data: bytes, start: float, *, everything: bool = False) -> Frame:
        """The frame of ``data``, whose audio starts ``start`` seconds into the stream, with the timing
        waiting; with ``sync_alignment``, only that of the characters starting before its audio ends
        (the rest are in what the resampler holds back) unless ``everything``. The spoken text keeps in
        step: it waits from where the text as sent waits."""
        if self.sync_alignment and not everything:
            pending, self._pending = self._pending.split(self.encoder.position * self.sample_rate)
            spoken, self._pending_spoken = self._pending_spoken.split(
                self._pending.starts[0] if self._pending.starts else float("inf"))
        else:
            pending, spoken = self._pending, self._pending_spoken
            self._pending, self._pending_spoken = _Timing(), _Timing()
        if not pending.chars and not spoken.chars:  # with sync_alignment every chunk carries timing, even an empty one
            empty = Alignment((), (), ()) if self.sync_alignment else None
            return Frame(data, empty, empty)
        # in engine samples, as the characters' times are; a codec's held bytes can start before the
        # position, so never after the first character carried
        origin = min(start * self.sample_rate, *pending.starts[:1], *spoken.starts[:1])
        return Frame(data, pending.relative(origin, self.sample_rate), spoken.relative(origin, self.sample_rate))
