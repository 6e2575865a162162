"""Word timings to character timings, shared by every engine.

An engine knows when each *word* is spoken; the protocol wants a time for
every *character*, spaces and punctuation included. :func:`char_spans` spreads
a word's span over its letters, gives the pause between words to the
punctuation there and plain gaps to the spaces.
"""
from __future__ import annotations

import numpy as np

PAUSE_SHARE = 0.8  # of a gap between words, the part its punctuation gets (the rest goes to its spaces)


def char_spans(text: str, n_samples: int, timings: list[tuple[int, int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) in samples for every character of ``text``.

    ``timings`` are ``(char_start, char_end, start, end)`` per word, in text order.
    A word's span is spread evenly over its characters. The characters between
    words share the gap: where there is punctuation it takes most of it (the
    pause after a comma is the comma's) and the spaces a sliver; a gap of pure
    whitespace goes to the spaces. Times never go backwards.
    """
    n = len(text)
    starts = np.zeros(n, np.int64)
    ends = np.zeros(n, np.int64)

    def spread(a: int, b: int, s0: int, s1: int, weights: np.ndarray | None = None) -> None:
        if b <= a:
            return
        w = np.ones(b - a) if weights is None else weights
        edges = np.round(s0 + (s1 - s0) * np.concatenate([[0.0], np.cumsum(w) / w.sum()])).astype(np.int64)
        starts[a:b], ends[a:b] = edges[:-1], edges[1:]

    def gap(a: int, b: int, s0: int, s1: int) -> None:
        marks = np.array([not text[i].isspace() for i in range(a, b)], bool)
        if marks.any() and not marks.all():  # the pause is the punctuation's; spaces get a sliver
            spread(a, b, s0, s1, np.where(marks, PAUSE_SHARE / marks.sum(), (1 - PAUSE_SHARE) / (~marks).sum()))
        else:
            spread(a, b, s0, s1)

    char_cursor, sample_cursor = 0, 0
    for cs, ce, s0, s1 in timings:
        cs, ce = max(cs, char_cursor), min(ce, n)
        if ce <= cs:
            continue
        s0 = min(max(s0, sample_cursor), n_samples)
        s1 = min(max(s1, s0), n_samples)
        gap(char_cursor, cs, sample_cursor, s0)
        spread(cs, ce, s0, s1)
        char_cursor, sample_cursor = ce, s1
    gap(char_cursor, n, sample_cursor, n_samples)
    return starts, ends
