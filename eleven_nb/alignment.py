"""Character alignment: chunk-relative timings, the absolute timeline, words and captions.

The wire carries, per audio chunk, ``chars`` with start times and durations in
milliseconds *relative to that chunk*. :class:`Timeline` accumulates chunks into
one absolute timeline per stream or context (optionally with a speaker per
character) and derives words, caption cues, SRT and WebVTT. It is the one
captions implementation: ``%%speak --captions``, ``eleven-nb say --captions``
and the player's download all come from :meth:`Timeline.to_vtt`.
"""
from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
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

    def shifted(self, offset_ms: float) -> Alignment:
        return Alignment(self.chars, tuple(s + offset_ms for s in self.starts_ms), self.durations_ms)

    def __len__(self) -> int:
        return len(self.chars)


@dataclass(frozen=True)
class Word:
    """A run of non-space characters with its absolute start and end (and its speaker, if known)."""

    text: str
    start_ms: float
    end_ms: float
    char_index: int  # index of the word's first character in the timeline
    speaker: str | None = None


@dataclass(frozen=True)
class Cue:
    """One caption: one or two lines shown from ``start_ms`` to ``end_ms``."""

    start_ms: float
    end_ms: float
    lines: tuple[str, ...]
    speaker: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\uffef"  # kana, ideographs, fullwidth forms
_CJK = re.compile(f"[{_CJK_RANGES}]")
_CJK_PART = re.compile(f"[{_CJK_RANGES}][\u3000-\u303f\uff01-\uff0f\uff1a-\uff1f]*|[^{_CJK_RANGES}]+")
# Markup (<break .../>, <phoneme ...>) is sent and aligned, but never shown as words.
_MARKUP = re.compile(r"<[A-Za-z/!?][^<>]{0,200}>")


@dataclass
class Timeline:
    """An absolute timeline built from chunk-relative alignments.

    Feed every audio chunk in order with :meth:`add_chunk`. When the chunk's
    audio duration is known (it is for PCM, and for anything decoded), chunk
    offsets follow the audio exactly; otherwise the next chunk starts where the
    previous alignment ended, as pipecat and LiveKit do. ``speakers`` holds
    each character's speaker (``None`` when not given); :meth:`combine`
    merges the timelines of several speakers into one.
    """

    chars: list[str] = field(default_factory=list)
    starts_ms: list[float] = field(default_factory=list)
    durations_ms: list[float] = field(default_factory=list)
    audio_ms: float = 0.0  # audio received so far, when durations are known
    _known_audio: bool = True
    speakers: list[str | None] = field(default_factory=list)  # each character's speaker (None: not given)

    def add_chunk(self, alignment: Alignment | None, audio_ms: float | None = None,
                  speaker: str | None = None) -> float:
        """Add one chunk (spoken by ``speaker``, if given); return the absolute start (ms) used for it."""
        start = self.audio_ms if self._known_audio else self.end_ms
        if alignment is not None:
            self.chars.extend(alignment.chars)
            self.starts_ms.extend(start + s for s in alignment.starts_ms)
            self.durations_ms.extend(alignment.durations_ms)
            self.speakers.extend([speaker] * len(alignment.chars))
        if audio_ms is None:
            self._known_audio = False
        else:
            self.audio_ms = start + audio_ms
        return start

    @classmethod
    def combine(cls, timelines: Mapping[str, Timeline]) -> Timeline:
        """One timeline of several speakers' (a dialog's lanes), word by word in time order.

        Each timeline's characters keep their times; its speaker is its key.
        """
        runs: list[tuple[float, int, list[int], Timeline, str]] = []
        for order, (speaker, timeline) in enumerate(timelines.items()):
            for run in timeline._word_runs():
                runs.append((timeline.starts_ms[run[0]], order, run, timeline, speaker))
        out = cls()
        for _, _, run, timeline, speaker in sorted(runs, key=lambda r: (r[0], r[1])):
            out.chars.extend(timeline.chars[i] for i in run)
            out.starts_ms.extend(timeline.starts_ms[i] for i in run)
            out.durations_ms.extend(timeline.durations_ms[i] for i in run)
            out.speakers.extend([speaker] * len(run))
        out.audio_ms = max((t.end_ms for t in timelines.values()), default=0.0)
        return out

    def _word_runs(self) -> list[list[int]]:
        """Character indices of each word with the whitespace after it (leading whitespace: its own run)."""
        runs: list[list[int]] = []
        for i, ch in enumerate(self.chars):
            if not runs or (not ch.isspace() and self.chars[i - 1].isspace()):
                runs.append([])
            runs[-1].append(i)
        return runs

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
        """Whitespace-separated words; punctuation stays attached, as a reader expects.

        Markup tags are not words, and a word never spans two speakers.
        """
        text = self.text
        hidden = {i for m in _MARKUP.finditer(text) for i in range(m.start(), m.end())} if "<" in text else set()
        speakers = self.speakers + [None] * (len(self.chars) - len(self.speakers))
        words: list[Word] = []
        first = -1  # the current word's first character

        def close(end: int) -> None:
            if first >= 0:
                stop = self.starts_ms[end - 1] + self.durations_ms[end - 1]
                words.append(Word("".join(self.chars[first:end]), self.starts_ms[first], stop, first, speakers[first]))

        for i, ch in enumerate(self.chars):
            gap = ch.isspace() or i in hidden
            if first >= 0 and (gap or speakers[i] != speakers[first]):
                close(i)
                first = -1
            if not gap and first < 0:
                first = i
        close(len(self.chars))
        return words

    def caption_cues(self, max_chars: int = 42, max_ms: float = 6000.0, pause_ms: float = 700.0) -> list[Cue]:
        """Caption cues by the rules in :func:`caption_cues`.

        CJK text has no spaces: its characters (with the punctuation after
        them) count as words here, so long runs can be cut anywhere.
        """
        words: list[Word] = []
        for word in self.words():
            if _CJK.search(word.text) is None:
                words.append(word)
                continue
            for m in _CJK_PART.finditer(word.text):
                first, last = word.char_index + m.start(), word.char_index + m.end() - 1
                words.append(Word(m.group(0), self.starts_ms[first], self.starts_ms[last] + self.durations_ms[last],
                                  first, word.speaker))
        return caption_cues(words, max_chars=max_chars, max_ms=max_ms, pause_ms=pause_ms)

    def cues(self, max_chars: int = 42, max_ms: float = 6000.0) -> list[tuple[float, float, str]]:
        """``(start_ms, end_ms, text)`` of each cue; a two-line cue's text holds a newline."""
        return [(c.start_ms, c.end_ms, c.text) for c in self.caption_cues(max_chars, max_ms)]

    def to_srt(self) -> str:
        """SubRip captions; with several speakers each cue starts with "Speaker: "."""
        blocks = self._caption_blocks(",", lambda speaker: f"{speaker}: ", str)
        return "\n".join(f"{n}\n{block}" for n, block in enumerate(blocks, start=1))

    def to_vtt(self) -> str:
        """WebVTT captions; with several speakers each cue has a ``<v Speaker>`` tag."""
        blocks = self._caption_blocks(".", lambda speaker: f"<v {_vtt_escape(speaker)}>", _vtt_escape)
        return "WEBVTT\n\n" + "\n".join(blocks)

    def _caption_blocks(self, separator: str, name: Callable[[str], str], escape: Callable[[str], str]) -> list[str]:
        """One ``start --> end`` block per cue; the speaker is named (``name``) only in a dialog."""
        cues = self.caption_cues()
        named = len({c.speaker for c in cues if c.speaker is not None}) > 1
        return [f"{_clock(c.start_ms, separator)} --> {_clock(c.end_ms, separator)}\n"
                f"{name(c.speaker) if named and c.speaker else ''}{escape(c.text)}\n" for c in cues]


# --- caption rules ----------------------------------------------------------------------

_CLOSERS = re.escape("\"')]”’»」』）")
_SENTENCE_END = re.compile(rf"[.!?…。！？][{_CLOSERS}]*$")
_CLAUSE_END = re.compile(rf"[,;:—–，、；：][{_CLOSERS}]*$")
# Words a line or cue should not end on: they belong with the word after them.
_WEAK = frozenset(("a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "from", "with", "and", "or",
                   "but", "nor", "if", "as", "so", "than", "that", "this", "these", "those", "my", "your",
                   "his", "her", "its", "our", "their", "is", "are", "was", "were", "be"))
_CUE, _ONE_WORD, _INNER_SENTENCE = 10.0, 25.0, 12.0  # costs: a cue, a lone word, a sentence end mid-cue


def _break_cost(word: Word) -> float:
    """How bad it is to end a cue or a line after ``word``."""
    if _SENTENCE_END.search(word.text):
        return 0.0
    if _CLAUSE_END.search(word.text):
        return 2.0
    return 10.0 if word.text.lower() in _WEAK else 6.0


def _layout(width: list[int], sep: list[int], breaks: list[float], i: int, j: int,
            max_chars: int) -> tuple[float, int] | None:
    """Cost and line split (index of the second line's first word, ``j`` for one line) of words ``i:j``.

    The words ``i:j`` are ``width[j] - width[i] - sep[i]`` characters wide (``width`` sums each
    word's length and the space before it, ``sep``: 1, or 0 for CJK text); ``None``: no fit.
    """
    if width[j] - width[i] - sep[i] <= max_chars or j - i == 1:
        return 0.0, j
    best: tuple[float, int] | None = None
    # only splits where both lines can be short enough (checked exactly below)
    first = max(i + 1, bisect.bisect_left(width, width[j] - max_chars - 1, i, j))
    for k in range(first, bisect.bisect_right(width, width[i] + sep[i] + max_chars, i, j)):
        top, bottom = width[k] - width[i] - sep[i], width[j] - width[k] - sep[k]
        if top <= max_chars and bottom <= max_chars:
            cost = breaks[k - 1] / 2 + abs(top - bottom) / 10
            if best is None or cost < best[0]:
                best = (cost, k)
    return best


def _joined(words: list[Word]) -> str:
    """The words as a line: a space between them, none where they touched in the text (CJK)."""
    return "".join(("" if k == 0 or _touch(words[k - 1], w) else " ") + w.text for k, w in enumerate(words))


def _touch(before: Word, word: Word) -> bool:
    return word.char_index == before.char_index + len(before.text)


def _segments(words: Iterable[Word], pause_ms: float) -> list[list[Word]]:
    """Runs of words with no change of speaker and no pause longer than ``pause_ms``."""
    segments: list[list[Word]] = []
    for w in words:
        last = segments[-1][-1] if segments else None
        if last is None or w.speaker != last.speaker or w.start_ms - last.end_ms > pause_ms:
            segments.append([])
        segments[-1].append(w)
    return segments


def caption_cues(words: Iterable[Word], *, max_chars: int = 42, max_ms: float = 6000.0,
                 pause_ms: float = 700.0) -> list[Cue]:
    """Cues a subtitle editor would accept, from timed words.

    A cue has at most two lines of ``max_chars`` characters and spans at most
    ``max_ms`` (a single longer word excepted). A change of speaker or a
    pause over ``pause_ms`` always starts a new cue. Within that, the cuts
    are chosen together (dynamic programming) to need few cues, end them at
    sentence ends, else at clause ends, never after a word such as "the",
    keep one sentence per cue where that costs no extra cue, and leave no
    word alone unless nothing else fits (or it stands alone between pauses).
    Deterministic: the same words give the same cues.
    """
    cues: list[Cue] = []
    for segment in _segments(words, pause_ms):
        n = len(segment)
        sep = [0] + [0 if _touch(a, b) else 1 for a, b in itertools.pairwise(segment)]
        width = [0]
        for k, w in enumerate(segment):
            width.append(width[-1] + len(w.text) + sep[k])
        breaks = [_break_cost(w) for w in segment]
        sentences = [0]  # sentence ends among words 0:k
        for w in segment:
            sentences.append(sentences[-1] + (1 if _SENTENCE_END.search(w.text) else 0))
        best: list[tuple[float, int, int]] = [(0.0, 0, 0)] + [(float("inf"), 0, 0)] * n  # cost, start, split
        for j in range(1, n + 1):
            for i in range(j - 1, -1, -1):
                if j - i > 1 and segment[j - 1].end_ms - segment[i].start_ms > max_ms:
                    break
                wide = width[j] - width[i] - sep[i]
                if wide > 2 * max_chars + 1 and j - i > 1:
                    break  # two lines cannot hold these words, nor more of them
                layout = (0.0, j) if wide <= max_chars else _layout(width, sep, breaks, i, j, max_chars)
                if layout is None:
                    break
                cost = best[i][0] + _CUE + layout[0] + (breaks[j - 1] if j < n else 0.0)
                cost += _ONE_WORD if j - i == 1 and n > 1 else 0.0
                cost += _INNER_SENTENCE * (sentences[j - 1] - sentences[i])
                if cost < best[j][0]:
                    best[j] = (cost, i, layout[1])
        found: list[Cue] = []
        j = n
        while j > 0:
            _, i, k = best[j]
            lines = tuple(_joined(part) for part in (segment[i:k], segment[k:j]) if part)
            found.append(Cue(segment[i].start_ms, max(segment[j - 1].end_ms, segment[i].start_ms + 1), lines,
                             segment[i].speaker))
            j = i
        cues.extend(reversed(found))
    return cues


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clock(ms: float, sep: str) -> str:
    total = max(0, round(ms))
    h, rest = divmod(total, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, milli = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{milli:03d}"
