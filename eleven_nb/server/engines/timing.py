"""Word timings to character timings, shared by every engine.

An engine knows when each *word* is spoken; the protocol wants a time for
every *character*, spaces and punctuation included. :func:`char_spans` spreads
a word's span over its letters, gives the pause between words to the
punctuation there and plain gaps to the spaces.
"""
from __future__ import annotations

import unicodedata

import numpy as np

from ...boundaries import CJK_PHRASE, CLOSERS, SPACED_PHRASE

# Seconds of silence kept after the last sound of a piece cut mid-sentence (at speed 1). The engines end
# every call with a pause (hibari ~0.45 s, espeak-ng ~0.3 s, piper ~0.2 s); after a cell's flushed first
# phrase that pause is a hole before the rest of its sentence, which comes as the next generation.
OPEN_TAIL_S = 0.05
EDGE_FADE_S = 0.005  # a cut in the quiet fades over this, so what is left of a soft sound ends without a click
_STOPS = frozenset(SPACED_PHRASE + CJK_PHRASE)  # a sentence or a clause ends at these marks
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


def _opens(text: str, i: int) -> bool:
    """Whether ``text[i]`` opens what follows: a bracket, an opening quote, or a straight quote after a space."""
    ch = text[i]
    if unicodedata.category(ch) in ("Ps", "Pi"):
        return True
    return ch in "\"'" and (i == 0 or text[i - 1].isspace())


def snap_cut(text: str, p: int, previous: int = 0) -> int:
    """Move a sentence start ``p`` back over the quotes and brackets that open it (not past ``previous``)."""
    while p - 1 > previous and _opens(text, p - 1):
        p -= 1
    return p


def trim_trailing_silence(pcm: np.ndarray, spans: list[tuple[int, int]], rate: int) -> list[tuple[int, int]]:
    """Word spans without the silence at their ends: a model may stretch a word's last phoneme over
    the pause after it ("friend." ends in ~0.3 s of quiet 'd'). The quiet part then falls in the gap,
    which :func:`char_spans` gives to the punctuation. Words keep at least 30 ms."""
    block = max(1, rate // 100)  # 10 ms
    floor = max(100.0, 0.08 * float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))) if len(pcm) else 0.0
    keep = rate * 3 // 100
    out = []
    for s, e in spans:
        end = e
        while end - block >= s + keep:
            tail = pcm[end - block:end].astype(np.float64)
            if np.sqrt(np.mean(tail ** 2)) > floor:
                break
            end -= block
        out.append((s, end))
    return out


def sound_bounds(pcm: np.ndarray, rate: int) -> tuple[int, int] | None:
    """[start, end) samples from the first to the last 10 ms block that is not quiet (louder than 8 %
    of the whole's RMS, and than 100); None when every block is quiet."""
    if not len(pcm):
        return None
    block = max(1, rate // 100)
    squares = np.square(pcm, dtype=np.float32)  # 4 bytes a sample: minutes of audio stay a few MB
    firsts = np.arange(0, len(pcm), block)
    means = np.add.reduceat(squares, firsts, dtype=np.float64) / np.diff(np.append(firsts, len(pcm)))
    loud = np.flatnonzero(means > max(100.0 ** 2, (0.08 ** 2) * float(squares.mean(dtype=np.float64))))
    if not len(loud):
        return None
    return int(firsts[loud[0]]), min(len(pcm), int(firsts[loud[-1]]) + block)


def kept_span(pcm: np.ndarray, rate: int, lead: float, tail: float) -> tuple[int, int]:
    """The [a, b) of ``pcm`` that keeps at most ``lead`` seconds of silence before its first sound
    and ``tail`` after its last; all of it when it is all quiet."""
    bounds = sound_bounds(pcm, rate)
    if bounds is None:
        return 0, len(pcm)
    return max(0, bounds[0] - int(rate * lead)), min(len(pcm), bounds[1] + int(rate * tail))


def cut_quietly(pcm: np.ndarray, a: int, b: int, rate: int) -> np.ndarray:
    """A copy of ``pcm[a:b]``, faded in over :data:`EDGE_FADE_S` where it starts after ``pcm`` does, and out
    where it ends before: the cut falls in the quiet, but the tail of a soft "f" or "th" may still be there."""
    out = pcm[a:b].copy()
    n = min(len(out) // 2, int(rate * EDGE_FADE_S))
    if n:
        ramp = np.linspace(0.0, 1.0, n + 1, dtype=np.float32)[1:]
        if a > 0:
            out[:n] = out[:n] * ramp
        if b < len(pcm):
            out[-n:] = out[-n:] * ramp[::-1]
    return out


def fit_silences(pcm: np.ndarray, spans: list[tuple[int, int]], rate: int, lead: float,
                 tail: float) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """``pcm`` cut to its :func:`kept_span` (:func:`cut_quietly`), and ``spans`` (sample ranges into it)
    moved and clipped to match."""
    a, b = kept_span(pcm, rate, lead, tail)
    return cut_quietly(pcm, a, b, rate), [(min(max(s - a, 0), b - a), min(max(e - a, 0), b - a)) for s, e in spans]


def ends_open(text: str) -> bool:
    """Whether ``text`` stops mid-sentence: it has something in it, and it ends neither at a sentence
    or clause mark (past closing quotes and brackets) nor at a paragraph break (a blank line). A piece
    ending on a word, a number, a symbol ("50%", "&") or an emoji was cut off by a first phrase or a
    chunk schedule, and its speech goes straight on in the next. A single line break does not end a
    sentence: a hard-wrapped paragraph runs on."""
    body = text.rstrip()
    if text.count("\n", len(body)) >= 2:
        return False
    last = body.rstrip(CLOSERS).rstrip()[-1:]
    return bool(last) and last not in _STOPS


def cap_open_tail(pcm: np.ndarray, rate: int, speed: float = 1.0) -> np.ndarray:
    """``pcm``, a piece cut mid-sentence, ending :data:`OPEN_TAIL_S` (divided by ``speed``) after its
    last sound (:func:`cut_quietly`)."""
    return cut_quietly(pcm, 0, kept_span(pcm, rate, 0.0, OPEN_TAIL_S / speed)[1], rate)


def trim_edges(pcm: np.ndarray, rate: int, keep_seconds: float = 0.04) -> np.ndarray:
    """``pcm`` without the silence before its first and after its last sound (``keep_seconds`` of
    each kept): a word spoken on its own, inside a sentence, should not bring a sentence's pauses."""
    return fit_silences(pcm, [], rate, keep_seconds, keep_seconds)[0]
