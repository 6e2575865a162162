"""From word timings to per-character spans, covering every character of the text.

A word's letters share its span evenly; the characters between words (spaces,
punctuation) share the gap between them, so pauses land on the punctuation
and silence on the spaces.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WordTiming:
    """Characters ``[char_start, char_end)`` are heard in samples ``[start, end)``."""

    char_start: int
    char_end: int
    start: int
    end: int


def clean_words(words: list[WordTiming], n_chars: int, n_samples: int) -> list[WordTiming]:
    """Clip to the text and audio, merge overlaps (espeak says "3:45" as overlapping words),
    and make times non-decreasing."""
    out: list[WordTiming] = []
    for w in sorted(words, key=lambda w: (w.char_start, w.start)):
        cs, ce = max(0, w.char_start), min(n_chars, w.char_end)
        start, end = min(max(0, w.start), n_samples), min(max(0, w.end), n_samples)
        if ce <= cs:
            continue
        if out and cs < out[-1].char_end:  # overlapping: one longer word
            prev = out[-1]
            out[-1] = WordTiming(prev.char_start, max(prev.char_end, ce), prev.start, max(prev.end, end))
            continue
        if out:
            start = max(start, out[-1].end)
        out.append(WordTiming(cs, ce, start, max(start, end)))
    return out


def char_spans(n_chars: int, n_samples: int, words: list[WordTiming]) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) in samples for each of ``n_chars`` characters."""
    starts = np.zeros(n_chars, np.int64)
    ends = np.zeros(n_chars, np.int64)

    def spread(a: int, b: int, s0: int, s1: int) -> None:
        if b <= a:
            return
        edges = np.linspace(s0, s1, b - a + 1).round().astype(np.int64)
        starts[a:b], ends[a:b] = edges[:-1], edges[1:]

    words = clean_words(words, n_chars, n_samples)
    cursor_char, cursor_sample = 0, 0
    for w in words:
        spread(cursor_char, w.char_start, cursor_sample, w.start)  # the gap before this word
        spread(w.char_start, w.char_end, w.start, w.end)
        cursor_char, cursor_sample = w.char_end, w.end
    spread(cursor_char, n_chars, cursor_sample, n_samples)
    return starts, ends
