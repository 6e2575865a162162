"""hibari's text step, with positions: each word's phonemes and the characters of the input it reads.

hibari's G2P normalises a line first ("3:45 pm" -> "three forty-five P.M."), then
tokenises and phonemises the normalised text. Its tokens carry no positions, so
this module finds each token in the normalised line and maps that back to the
input with a character diff (:class:`_PositionMap`): text the normaliser rewrote
maps to the whole rewritten stretch, and tokens landing on the same stretch merge
into one word. Then :func:`plan_calls` groups words into model calls, one per
sentence, none longer than a phoneme budget (so one call's memory is bounded
whatever the text: a long unbroken "word" is cut into pieces).
"""
from __future__ import annotations

import bisect
import difflib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

SENTENCE_END = frozenset(".!?…")
CLOSERS = frozenset(")”\"'’]")  # may follow a sentence end and still belong to it
CLAUSE = frozenset(",;:—")
PUNCTUATION = SENTENCE_END | CLOSERS | CLAUSE | frozenset("(“")
_LINE = re.compile(r"[^\n]+")
_BLANK_AFTER = re.compile(r"[^\S\n]*\n\s*\n")  # the rest of a line, then a blank line
_LONG_NUMBER = re.compile(r"\d{13,}")  # beyond hundreds of billions hibari's number reader fails
log = logging.getLogger(__name__)


@dataclass
class Word:
    """Characters ``[char_start, char_end)`` of the input and the phonemes hibari says for them.
    ``space_after``: the G2P joins this word to the next with a space (a short pause).
    ``ends_paragraph``: the last word of a line with a blank line after it."""

    char_start: int
    char_end: int
    phonemes: str
    space_after: bool = True
    ends_paragraph: bool = False


class _PositionMap:
    """Positions in a normalised string back to positions in the original (monotone)."""

    def __init__(self, original: str, normalised: str):
        self._ops = difflib.SequenceMatcher(None, original, normalised, autojunk=False).get_opcodes()
        self._j1 = [op[3] for op in self._ops]

    def _op(self, j: int) -> tuple[str, int, int, int, int]:
        return self._ops[max(0, bisect.bisect_right(self._j1, j) - 1)]

    def start(self, j: int) -> int:
        tag, i1, _, j1, _ = self._op(j)
        return i1 + (j - j1) if tag == "equal" else i1

    def end(self, j: int) -> int:
        """The original position just after normalised character ``j - 1``."""
        tag, i1, i2, j1, _ = self._op(max(j - 1, 0))
        return i1 + (j - j1) if tag == "equal" else i2


def _tokens(g2p, normalised: str) -> list:
    """hibari's tokens with phonemes. Its G2P fails on some input (a 16-digit number has no name
    for its scale): then each space-separated chunk goes alone, and a chunk that still fails is
    left unread (its characters get the time around them)."""
    try:
        return g2p.phonemize_tokens(g2p.tokenize(normalised))
    except Exception:  # noqa: BLE001 - any failure of the text step must not lose the message
        tokens: list = []
        for chunk in normalised.split(" "):
            try:
                found = g2p.phonemize_tokens(g2p.tokenize(chunk)) if chunk else []
            except Exception:  # noqa: BLE001 - still failing: this chunk alone is left unread
                log.debug("hibari's G2P cannot read %r; left unread", chunk[:40])
                continue
            if found:
                found[-1].whitespace = " "
            tokens += found
        return tokens


def line_words(g2p, normalize, line: str, offset: int) -> list[Word]:
    """The words of one line (no newline in it), positions shifted by ``offset``."""
    normalised = _LONG_NUMBER.sub(lambda m: " ".join(m.group()), normalize(line))  # read digit by digit
    if not normalised:
        return []
    tokens = _tokens(g2p, normalised)
    where = _PositionMap(line, normalised)
    words: list[Word] = []
    cursor = 0
    for tk in tokens:
        found = normalised.find(tk.text, cursor) if tk.text else -1
        if found >= 0:
            cursor = found + len(tk.text)
            a, b = where.start(found) + offset, where.end(cursor) + offset
        else:  # a token not in the line as written: spoken, timed with its neighbours
            a = b = words[-1].char_end if words else offset
        phonemes = tk.phonemes or ""
        if words and a < words[-1].char_end:  # one rewritten stretch read as several tokens
            last = words[-1]
            last.char_end = max(last.char_end, b)
            last.phonemes += (" " if last.space_after else "") + phonemes
            last.space_after = bool(tk.whitespace)
            continue
        words.append(Word(a, max(a, b), phonemes, bool(tk.whitespace)))
    return words


def text_words(g2p, normalize, text: str) -> list[list[Word]]:
    """Words line by line (hibari reads each line on its own), lines without words left out; the last
    spoken word of a line followed by a blank line ends a paragraph."""
    lines = []
    for m in _LINE.finditer(text):
        if m.group().isspace():
            continue
        words = line_words(g2p, normalize, m.group(), m.start())
        spoken = [w for w in words if w.phonemes]
        if spoken:
            spoken[-1].ends_paragraph = _BLANK_AFTER.match(text, m.end()) is not None
            lines.append(words)
    return lines


def _pieces(word: Word, budget: int) -> list[Word]:
    """A word with more than ``budget`` phonemes, cut into pieces of at most ``budget``;
    its characters shared out in proportion (a piece may get none)."""
    n = len(word.phonemes)
    cuts = list(range(0, n, budget)) + [n]
    span = word.char_end - word.char_start
    out = []
    for k in range(len(cuts) - 1):
        a = word.char_start + span * cuts[k] // n
        b = word.char_start + span * cuts[k + 1] // n
        out.append(Word(a, b, word.phonemes[cuts[k]:cuts[k + 1]], False))
    out[-1].space_after, out[-1].ends_paragraph = word.space_after, word.ends_paragraph
    return out


def plan_calls(lines: Iterable[list[Word]], budget: int, first_budget: int | None = None) -> list[list[Word]]:
    """Model calls: a new call at each line and sentence, and before ``budget`` phonemes would be
    passed (at the last clause mark when there is one). The first call keeps to ``first_budget``,
    so that the first audio comes sooner."""
    calls: list[list[Word]] = []
    for words in lines:
        current: list[Word] = []
        size, ended = 0, False
        for word in (p for w in words if w.phonemes for p in _pieces(w, budget)):
            length = len(word.phonemes) + 1
            starts_sentence = ended and not set(word.phonemes) <= PUNCTUATION
            limit = budget if calls or first_budget is None else first_budget
            if current and (starts_sentence or size + length > limit):
                keep: list[Word] = []
                if not starts_sentence:  # over budget: cut after the last clause mark, if any
                    marks = [i for i, w in enumerate(current[:-1]) if w.phonemes[-1] in CLAUSE]
                    if marks:
                        keep = current[marks[-1] + 1:]
                        current = current[:marks[-1] + 1]
                calls.append(current)
                current, size = keep, sum(len(w.phonemes) + 1 for w in keep)
                if current and size + length > limit:
                    calls.append(current)
                    current, size = [], 0
            current.append(word)
            size += length
            ended = word.phonemes[-1] in SENTENCE_END or (ended and set(word.phonemes) <= PUNCTUATION)
        if current:
            calls.append(current)
    return calls


def call_phonemes(words: list[Word]) -> tuple[str, list[tuple[int, int]]]:
    """The phoneme string of one call and each word's ``[start, end)`` in it."""
    parts, owned, at = [], [], 0
    for i, w in enumerate(words):
        owned.append((at, at + len(w.phonemes)))
        sep = " " if w.space_after and i < len(words) - 1 else ""
        parts.append(w.phonemes + sep)
        at += len(w.phonemes) + len(sep)
    return "".join(parts), owned
