"""Text chunking, both sides of the wire.

- Client side: :func:`chunk_text` splits a cell or document into the pieces a
  client sends (sentences, phrases, words or fixed sizes), each ending in a
  space as the protocol asks; :class:`PhraseChunker` does the same for a token
  stream (an LLM's), releasing a phrase as soon as it is complete.
- Server side: :class:`~eleven_nb.schedule.ScheduleBuffer` (re-exported here)
  buffers incoming text and decides when to generate, and
  :func:`split_for_engine` cuts a generation into engine-sized pieces so the
  first audio never waits for a long text.

Everything runs in time linear in its input (a text of 1 MiB of spaces,
newlines or ", " is cut in milliseconds), knows CJK, Arabic and Devanagari
punctuation, and never cuts inside markup such as ``<break time="1s"/>``
(see :mod:`eleven_nb.boundaries`).
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

from .boundaries import (
    PHRASE_CUT,
    SENTENCE_CUT,
    WORD,
    Spans,
    cut_points,
    hard_cut,
    last_cjk_break,
    last_cut,
    last_word_break,
    next_cut,
    speakable_in,
    unfinished_markup,
)
from .schedule import DEFAULT_CHUNK_LENGTH_SCHEDULE, MIN_CHUNK_LENGTH, ScheduleBuffer

__all__ = [
    "CHUNK_MODES", "DEFAULT_CHUNK_LENGTH_SCHEDULE", "FIRST_PHRASE_CHARS", "MAX_ENGINE_PIECE", "MAX_SEND_PIECE",
    "MIN_CHUNK_LENGTH", "PhraseChunker", "ScheduleBuffer", "chunk_text", "is_speakable", "iter_phrases",
    "split_for_engine", "split_sentences",
]

MAX_ENGINE_PIECE = 300  # characters; a piece longer than this is cut at a phrase or word
MAX_SEND_PIECE = 2000  # characters; a longer "sentence" is sent in pieces, so sending can be paced
FIRST_PHRASE_CHARS = 20  # the first client chunk: 2-3 words (32 cost piper ~100 ms more; docs/latency.md)


def is_speakable(text: str) -> bool:
    """True when ``text`` has something an engine can say (a letter or digit)."""
    return speakable_in(text).search(text) is not None


def _split_at(text: str, points: Iterable[int]) -> list[str]:
    pieces, start = [], 0
    for point in points:
        if point > start:
            pieces.append(text[start:point])
            start = point
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _word_pack(text: str, start: int, end: int, limit: int, spans: Spans) -> list[int]:
    """Ends of the pieces of ``text[start:end]``: as many whole words as fit in ``limit``.

    A word keeps its trailing whitespace; a word longer than ``limit`` (a URL,
    a hash, a CJK run) is cut every ``limit`` characters.
    """
    ends: list[int] = []
    while end - start > limit:
        cut = last_word_break(text, start, start + limit, spans, leading=not ends)
        if cut <= start:
            cut = hard_cut(start + limit, start, spans)
        ends.append(cut)
        start = cut
    ends.append(end)
    return ends


def _pack(text: str, limit: int, spans: Spans) -> list[str]:
    """Cut ``text`` at phrase, then word, boundaries into pieces of at most ``limit``."""
    if len(text) <= limit:
        return [text] if text else []
    out: list[str] = []
    start = 0
    for point in cut_points(text, PHRASE_CUT, spans) + [len(text)]:
        if point <= start:
            continue
        ends = [point] if point - start <= limit else _word_pack(text, start, point, limit, spans)
        for end in ends:
            out.append(text[start:end])
            start = end
    return out


def split_sentences(text: str) -> list[str]:
    """Sentences, each keeping its trailing whitespace; they join back to ``text``."""
    return _split_at(text, cut_points(text, SENTENCE_CUT))


def split_for_engine(text: str, limit: int = MAX_ENGINE_PIECE) -> list[str]:
    """Cut one generation into speakable pieces of at most ``limit`` characters.

    Sentences are the pieces; a sentence longer than ``limit`` is cut at its
    phrases, and a phrase longer than that at its words. The pieces join back
    to exactly ``text``. Unspeakable scraps (a lone space or "...") ride along
    with a neighbour; if nothing at all is speakable, the whole text comes
    back as one piece.

    It walks from one speakable character to the next, so runs of whitespace
    or punctuation are skipped by the regex engine, not piece by piece.
    """
    if not text:
        return []
    spans = Spans(text)
    speakable = speakable_in(text).search
    sentence_search = SENTENCE_CUT.search
    pieces: list[str] = []
    sentence_start = sentence_end = phrase_end = 0  # the sentence / long phrase holding the last piece
    phrase_ends: list[int] = []  # ends of that long phrase's pieces
    i = 0
    while (m := speakable(text, i)) is not None:
        f = m.start()
        if f >= sentence_end:
            if spans.starts:
                sentence_end = next_cut(text, SENTENCE_CUT, f, spans)
            else:  # the common case, inlined: most pieces are whole sentences
                sentence_end = c.end() if (c := sentence_search(text, f)) is not None else len(text)
            sentence_start = i if sentence_end - i <= limit else last_cut(text, SENTENCE_CUT, i, f, spans)
        if sentence_end - sentence_start <= limit:
            end = sentence_end
        else:
            if f >= phrase_end:
                phrase_end = next_cut(text, PHRASE_CUT, f, spans)
                start = last_cut(text, PHRASE_CUT, max(i, sentence_start), f, spans)
                phrase_ends = _word_pack(text, start, phrase_end, limit, spans)
            end = phrase_ends[bisect.bisect_right(phrase_ends, f)]
        pieces.append(text[i:end])
        i = end
    if i < len(text):
        if pieces:
            pieces[-1] += text[i:]
        else:
            pieces.append(text[i:])
    return pieces


# --- client side ---------------------------------------------------------------------

CHUNK_MODES = ("sentence", "phrase", "word")


def _ensure_trailing_space(pieces: list[str]) -> list[str]:
    return [p if p[-1:].isspace() else p + " " for p in pieces if p]


def chunk_text(text: str, mode: str | int = "sentence", first_phrase: bool = True) -> list[str]:
    """Split ``text`` into chunks to send, each ending in whitespace.

    ``mode`` is ``"sentence"``, ``"phrase"``, ``"word"`` or a number of
    characters (cut at word boundaries). With ``first_phrase`` the first chunk
    is at most a short phrase, so the server can start speaking at once.
    """
    if isinstance(mode, str) and mode.isdigit():
        mode = int(mode)
    spans = Spans(text)
    if isinstance(mode, int):
        if mode < 1:
            raise ValueError(f"chunk size must be a positive number of characters, not {mode}")
        pieces = _pack(text, mode, spans)
    elif mode == "sentence":
        pieces = split_sentences(text)
    elif mode == "phrase":
        pieces = _split_at(text, cut_points(text, PHRASE_CUT, spans))
    elif mode == "word":
        pieces = [m.group(0) for m in WORD.finditer(text)] or [text]
    else:
        raise ValueError(f"chunk mode must be one of {CHUNK_MODES} or a number of characters, not {mode!r}")
    if any(len(p) > MAX_SEND_PIECE for p in pieces):  # a text without sentence ends (a log, a list)
        pieces = [part for p in pieces for part in (_pack(p, MAX_SEND_PIECE, Spans(p))
                                                     if len(p) > MAX_SEND_PIECE else [p])]
    if first_phrase and pieces and len(pieces[0]) > FIRST_PHRASE_CHARS:
        head = _pack(pieces[0], FIRST_PHRASE_CHARS, Spans(pieces[0]))
        pieces = [head[0], "".join(head[1:])] + pieces[1:]
    return _ensure_trailing_space([p for p in pieces if p])


class PhraseChunker:
    """Turn a token stream into phrases as soon as each phrase is complete.

    ``feed(token)`` returns the phrases completed by that token; ``close()``
    returns whatever is left. A phrase ends at punctuation followed by a space
    (or at CJK punctuation, or a newline); a run without one is released at a
    word break once it passes ``max_chars``, a CJK run between two characters,
    and anything else at ``2 * max_chars``. So the text held back stays under
    about ``2 * max_chars`` and each token costs time linear in its own length.
    A tag such as ``<break time="1s"/>`` is never cut.
    """

    def __init__(self, max_chars: int = 120):
        if max_chars < 1:
            raise ValueError(f"max_chars must be a positive number of characters, not {max_chars}")
        self.max_chars = max_chars
        self._pending = ""

    def feed(self, token: str) -> list[str]:
        text = self._pending + token
        hold = unfinished_markup(text) if "<" in text else len(text)
        spans = Spans(text)
        points = [p for p in cut_points(text, PHRASE_CUT, spans)
                  if p <= hold and (p < len(text) or text[-1:].isspace())]
        out = _split_at(text[: points[-1]], points) if points else []
        start = points[-1] if points else 0
        while hold - start > self.max_chars:
            end = self._long_run_cut(text, start, hold, spans)
            if end <= start:
                break
            out.append(text[start:end])
            start = end
        self._pending = text[start:]
        return _ensure_trailing_space([p for p in out if p.strip()])

    def _long_run_cut(self, text: str, start: int, hold: int, spans: Spans) -> int:
        """Where to cut a run that passed ``max_chars`` (``start`` when it may wait)."""
        end = len(text[:hold].rstrip())
        cut = last_word_break(text, start, end - 1, spans) if end > start else start
        if cut > start:
            return cut
        cut = -1 if text.isascii() else last_cjk_break(text[:hold], start)
        if cut > start:
            return cut
        if hold - start > 2 * self.max_chars:
            return hard_cut(start + self.max_chars, start, spans)
        return start

    def close(self) -> list[str]:
        rest, self._pending = self._pending, ""
        return _ensure_trailing_space([rest]) if rest.strip() else []


def iter_phrases(tokens: Iterable[str], max_chars: int = 120) -> Iterator[str]:
    """Phrases from an iterable of tokens (see :class:`PhraseChunker`)."""
    chunker = PhraseChunker(max_chars)
    for token in tokens:
        yield from chunker.feed(token)
    yield from chunker.close()
