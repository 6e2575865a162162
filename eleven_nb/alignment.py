"""Character alignment: chunk-relative timings, the absolute timeline, words and captions.

The wire carries, per audio chunk, ``chars`` with start times and durations in
milliseconds *relative to that chunk*. :class:`Timeline` accumulates chunks into
one absolute timeline per stream or context and derives words, SRT and WebVTT.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Alignment:
    """Per-character timing: ``chars[i]`` starts at ``starts_ms[i]`` and lasts ``durations_ms[i]``."""

    chars: tuple[str, ...]
    starts_ms: tuple[float, ...]
    durations_ms: tuple[float, ...]

    def __post_init__(self) -> None:
        if not len(self.chars) == len(self.starts_ms) == len(self.durations_ms):
            raise ValueError(
                f"alignment arrays differ in length: {len(self.chars)} chars, "
                f"{len(self.starts_ms)} starts, {len(self.durations_ms)} durations"
            )

    @property
    def text(self) -> str:
        return "".join(self.chars)

    @property
    def end_ms(self) -> float:
        """Where the last character ends (0 for an empty alignment)."""
        return max((s + d for s, d in zip(self.starts_ms, self.durations_ms)), default=0.0)

    def shifted(self, offset_ms: float) -> "Alignment":
        return Alignment(self.chars, tuple(s + offset_ms for s in self.starts_ms), self.durations_ms)

    def __len__(self) -> int:
        return len(self.chars)


@dataclass(frozen=True)
class Word:
    """A run of non-space characters with its absolute start and end."""

    text: str
    start_ms: float
    end_ms: float
    char_index: int  # index of the word's first character in the timeline


@dataclass
class Timeline:
    """An absolute timeline built from chunk-relative alignments.

    Feed every audio chunk in order with :meth:`add_chunk`. When the chunk's
    audio duration is known (it is for PCM, and for anything decoded), chunk
    offsets follow the audio exactly; otherwise the next chunk starts where the
    previous alignment ended, as pipecat and LiveKit do.
    """

    chars: list[str] = field(default_factory=list)
    starts_ms: list[float] = field(default_factory=list)
    durations_ms: list[float] = field(default_factory=list)
    audio_ms: float = 0.0  # audio received so far, when durations are known
    _known_audio: bool = True

    def add_chunk(self, alignment: Alignment | None, audio_ms: float | None = None) -> float:
        """Add one chunk; return the absolute start (ms) used for it."""
        start = self.audio_ms if self._known_audio else self.end_ms
        if alignment is not None:
            self.chars.extend(alignment.chars)
            self.starts_ms.extend(start + s for s in alignment.starts_ms)
            self.durations_ms.extend(alignment.durations_ms)
        if audio_ms is None:
            self._known_audio = False
        else:
            self.audio_ms = start + audio_ms
        return start

    @property
    def text(self) -> str:
        return "".join(self.chars)

    @property
    def end_ms(self) -> float:
        ends = (s + d for s, d in zip(self.starts_ms, self.durations_ms))
        return max(max(ends, default=0.0), self.audio_ms if self._known_audio else 0.0)

    def alignment(self) -> Alignment:
        return Alignment(tuple(self.chars), tuple(self.starts_ms), tuple(self.durations_ms))

    def words(self) -> list[Word]:
        """Whitespace-separated words; punctuation stays attached, as a reader expects."""
        words: list[Word] = []
        current: list[int] = []

        def close() -> None:
            if current:
                first, last = current[0], current[-1]
                text = "".join(self.chars[i] for i in current)
                end = self.starts_ms[last] + self.durations_ms[last]
                words.append(Word(text, self.starts_ms[first], end, first))
                current.clear()

        for i, ch in enumerate(self.chars):
            if ch.isspace():
                close()
            else:
                current.append(i)
        close()
        return words

    def cues(self, max_chars: int = 42, max_ms: float = 5000.0) -> list[tuple[float, float, str]]:
        """Group words into caption cues of at most ``max_chars`` characters / ``max_ms``."""
        cues: list[tuple[float, float, str]] = []
        group: list[Word] = []
        for word in self.words():
            if group:
                text = " ".join(w.text for w in group + [word])
                ends_sentence = group[-1].text[-1:] in ".!?"
                if len(text) > max_chars or word.end_ms - group[0].start_ms > max_ms or ends_sentence:
                    cues.append((group[0].start_ms, group[-1].end_ms, " ".join(w.text for w in group)))
                    group = []
            group.append(word)
        if group:
            cues.append((group[0].start_ms, group[-1].end_ms, " ".join(w.text for w in group)))
        return cues

    def to_srt(self) -> str:
        """SubRip captions."""
        blocks = [
            f"{n}\n{_clock(a, ',')} --> {_clock(b, ',')}\n{text}\n"
            for n, (a, b, text) in enumerate(self.cues(), start=1)
        ]
        return "\n".join(blocks)

    def to_vtt(self) -> str:
        """WebVTT captions."""
        blocks = [f"{_clock(a, '.')} --> {_clock(b, '.')}\n{text}\n" for a, b, text in self.cues()]
        return "WEBVTT\n\n" + "\n".join(blocks)


def _clock(ms: float, sep: str) -> str:
    total = max(0, int(round(ms)))
    h, rest = divmod(total, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, milli = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{milli:03d}"
