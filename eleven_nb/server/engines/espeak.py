"""espeak-ng as an engine (~700x real time, robotic, exact word timing), and the
word events the piper engine aligns to.

espeak-ng's WORD events give each word's characters, its PHONEME events the
sounds that follow with their start samples. :func:`espeak_words` turns them
into :class:`Word` objects (repairing what espeak reports oddly: zero lengths,
overlapping number words, trailing spaces); :func:`.timing.char_spans` spreads
each word's span over its characters.
"""
from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from .base import Engine, SynthesisSettings, Utterance, VoiceInfo, silence_utterance
from .espeak_lib import (
    DEFAULT_PITCH_RANGE,
    DEFAULT_RATE_WPM,
    EVENT_PHONEME,
    EVENT_SENTENCE,
    EVENT_WORD,
    Event,
    espeak,
)
from .timing import cap_open_tail, char_spans, ends_open, snap_cut

# voice id -> (espeak voice name, display name). Variants give dialogs distinct speakers.
VOICES = {
    "espeak-en-us": ("en-us", "Ava (espeak-ng, en-US)"),
    "espeak-en-gb": ("en", "Bram (espeak-ng, en-GB)"),
    "espeak-en-us-f": ("en-us+f3", "Cleo (espeak-ng, en-US, higher)"),
    "espeak-en-gb-m": ("en+m3", "Dev (espeak-ng, en-GB, lower)"),
}


@dataclass
class Word:
    """Characters ``[char_start, char_end)`` and the phonemes espeak says for them:
    ``(ipa, start, end)`` with samples in espeak's own audio."""

    char_start: int
    char_end: int
    phonemes: list[tuple[str, int, int]] = field(default_factory=list)
    sample: int = 0  # where espeak's WORD event put it (for words without phonemes)

    @property
    def start(self) -> int:
        return self.phonemes[0][1] if self.phonemes else self.sample

    @property
    def end(self) -> int:
        return self.phonemes[-1][2] if self.phonemes else self.sample


def _is_word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LNM"


def _extent(text: str, position: int, length: int) -> tuple[int, int]:
    """The characters a WORD event covers, trimmed of whitespace; espeak reports length 0
    for a word after an opening quote, so then take the run of letters/digits."""
    start = min(max(position, 0), len(text))
    end = min(start + max(length, 0), len(text))
    if end == start:
        while end < len(text) and _is_word_char(text[end]):
            end += 1
        if end == start:
            while end < len(text) and not text[end].isspace():
                end += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while start < end and text[start].isspace():
        start += 1
    return start, end


def espeak_words(text: str, events: list[Event], n_samples: int) -> list[Word]:
    """Words in text order, non-overlapping, each with its phonemes' sample spans.

    A phoneme lasts until the next phoneme or word event; pauses (phoneme events
    without IPA) end a word but belong to none. Words espeak reports overlapping
    ("1,234" as "1," ",2" "234") merge into one; a word with no characters of its
    own (an emoji's second word, reported at the following newline) joins the word
    before it.
    """
    marks = [e for e in events if e.kind in (EVENT_WORD, EVENT_PHONEME)]
    words: list[Word] = []
    current: Word | None = None
    for i, e in enumerate(marks):
        if e.kind == EVENT_WORD:
            start, end = _extent(text, e.position, e.length)
            if end <= start or (words and start < words[-1].char_end):
                current = words[-1] if words else None  # merge into the word before
                if current is not None and end > current.char_end:
                    current.char_end = end
            else:
                current = Word(start, end, sample=min(max(e.sample, 0), n_samples))
                words.append(current)
        elif e.phoneme.strip() and current is not None:
            until = marks[i + 1].sample if i + 1 < len(marks) else n_samples
            begin = min(max(e.sample, 0), n_samples)
            current.phonemes.append((e.phoneme.strip(), begin, max(begin, min(until, n_samples))))
    return words


def sentence_cuts(text: str, events: list[Event], words: list[Word]) -> list[int]:
    """Where to split ``text`` into sentences: espeak's SENTENCE positions, moved back over
    opening quotes and brackets, never inside a word, and only after a piece with a word in it
    (so leading spaces or a lone quote never make an utterance of their own)."""
    inside = {i for w in words for i in range(w.char_start + 1, w.char_end)}
    word_starts = sorted(w.char_start for w in words)
    cuts: list[int] = []
    for p in sorted({e.position for e in events if e.kind == EVENT_SENTENCE}):
        if not 0 < p < len(text) or p in inside:
            continue
        previous = cuts[-1] if cuts else 0
        p = snap_cut(text, p, previous)
        if any(previous <= s < p for s in word_starts):
            cuts.append(p)
    return cuts


class EspeakEngine(Engine):
    """espeak-ng through ctypes. ``speed`` sets the rate (175 wpm x speed), ``stability``
    the pitch range (0.5 is espeak's default; lower moves the pitch more).

    ``seed`` is not honoured: espeak-ng carries waveform state from one synthesis
    to the next (not reset by ``espeak_ng_SetRandSeed`` nor by re-initialising), so
    repeats of a text differ slightly in their samples.
    """

    name = "espeak"

    def __init__(self) -> None:
        self._lib = espeak()
        self.sample_rate = self._lib.sample_rate

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(vid, label, self.name, description="espeak-ng formant voice (fast, robotic)",
                          honours=("speed", "stability"))
                for vid, (_, label) in VOICES.items()]

    def synthesize(self, text: str, voice_id: str, settings: SynthesisSettings) -> Iterator[Utterance]:
        """One utterance per sentence (espeak's SENTENCE events) of ``text``."""
        try:
            voice = VOICES[voice_id][0]
        except KeyError:
            raise ValueError(f"espeak has no voice {voice_id!r}; it has {', '.join(VOICES)}") from None
        if not text:
            return
        result = self._lib.synthesize(
            text, voice,
            rate_wpm=round(DEFAULT_RATE_WPM * settings.speed),
            pitch_range=round(2 * DEFAULT_PITCH_RANGE * (1.0 - settings.stability)),
        )
        audio, events = result.audio, result.events
        if ends_open(text):  # cut mid-sentence: its words go on in the next piece, without espeak's pause
            audio = cap_open_tail(audio, self.sample_rate, settings.speed)
        words = espeak_words(text, events, len(audio))
        if not words or not len(audio):
            yield silence_utterance(text, self.sample_rate)
            return
        starts, ends = char_spans(text, len(audio), [(w.char_start, w.char_end, w.start, w.end) for w in words])
        bounds = [0, *sentence_cuts(text, events, words), len(text)]
        for a, b in itertools.pairwise(bounds):
            s0 = int(starts[a])
            s1 = int(starts[b]) if b < len(text) else len(audio)
            yield Utterance(text[a:b], audio[s0:s1].copy(), starts[a:b] - s0, ends[a:b].clip(s0, s1) - s0)
