"""The chunking code as it was before it was made linear: the oracle for the property tests.

Kept verbatim (quadratic as it is) so that the tests can check the new code gives the same
pieces on ordinary text. Never use it outside tests.
"""
# ruff: noqa
from __future__ import annotations

import re
from typing import Iterable, Iterator

# A sentence ends at . ! ? … (with closing quotes/brackets) followed by space.
_SENTENCE_END = re.compile(r"""[.!?…]+["')\]]*(?=\s|$)""")
# A phrase also ends at , ; : — – and at a newline.
_PHRASE_END = re.compile(r"""(?:[.!?…,;:—–]+["')\]]*(?=\s|$))|\n""")

MAX_ENGINE_PIECE = 300  # characters; a piece longer than this is cut at a phrase or word
from eleven_nb.chunking import FIRST_PHRASE_CHARS  # the same policy: these tests compare the algorithms


def is_speakable(text: str) -> bool:
    """True when ``text`` has something an engine can say (a letter or digit)."""
    return any(ch.isalnum() for ch in text)


def _cut_points(text: str, pattern: re.Pattern[str]) -> list[int]:
    """Indices just after each boundary match, plus the trailing whitespace that follows it."""
    points = []
    for match in pattern.finditer(text):
        end = match.end()
        while end < len(text) and text[end].isspace():
            end += 1
        points.append(end)
    return points


def _split_at(text: str, points: Iterable[int]) -> list[str]:
    pieces, start = [], 0
    for point in points:
        if point > start:
            pieces.append(text[start:point])
            start = point
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _words(text: str) -> list[str]:
    """Words with their trailing whitespace (leading whitespace stays on the first)."""
    return [m.group(0) for m in re.finditer(r"\s*\S+\s*", text)] or ([text] if text else [])


def _merge_unspeakable(pieces: list[str]) -> list[str]:
    """Glue pieces with nothing to say onto their neighbours, so every piece is speakable."""
    merged: list[str] = []
    carry = ""
    for piece in pieces:
        piece = carry + piece
        carry = ""
        if is_speakable(piece):
            merged.append(piece)
        else:
            carry = piece
    if carry:
        if merged:
            merged[-1] += carry
        else:
            merged.append(carry)
    return merged


def _pack(pieces: list[str], limit: int) -> list[str]:
    """Cut any piece longer than ``limit`` at phrase, then word, boundaries."""
    out: list[str] = []
    for piece in pieces:
        if len(piece) <= limit:
            out.append(piece)
            continue
        for phrase in _split_at(piece, _cut_points(piece, _PHRASE_END)):
            if len(phrase) <= limit:
                out.append(phrase)
                continue
            current = ""
            for word in _words(phrase):
                if current and len(current) + len(word) > limit:
                    out.append(current)
                    current = ""
                while len(word) > limit:  # a "word" longer than the limit (a URL, a hash)
                    out.append(word[:limit])
                    word = word[limit:]
                current += word
            if current:
                out.append(current)
    return out


def split_sentences(text: str) -> list[str]:
    """Sentences, each keeping its trailing whitespace; they join back to ``text``."""
    return _split_at(text, _cut_points(text, _SENTENCE_END))


def split_for_engine(text: str, limit: int = MAX_ENGINE_PIECE) -> list[str]:
    """Cut one generation into speakable pieces of at most ``limit`` characters.

    The pieces join back to exactly ``text``. Unspeakable scraps (a lone
    space or "...") ride along with a neighbour; if nothing at all is
    speakable, the whole text comes back as one piece.
    """
    if not text:
        return []
    return _merge_unspeakable(_pack(split_sentences(text), limit))


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
    if isinstance(mode, int):
        if mode < 1:
            raise ValueError(f"chunk size must be a positive number of characters, not {mode}")
        pieces = _pack([text], mode)
    elif mode == "sentence":
        pieces = split_sentences(text)
    elif mode == "phrase":
        pieces = _split_at(text, _cut_points(text, _PHRASE_END))
    elif mode == "word":
        pieces = _words(text)
    else:
        raise ValueError(f"chunk mode must be one of {CHUNK_MODES} or a number of characters, not {mode!r}")
    if first_phrase and pieces and len(pieces[0]) > FIRST_PHRASE_CHARS:
        head = _pack(_split_at(pieces[0], _cut_points(pieces[0], _PHRASE_END)), FIRST_PHRASE_CHARS)
        pieces = [head[0], "".join(head[1:])] + pieces[1:]
    return _ensure_trailing_space([p for p in pieces if p])


class PhraseChunker:
    """Turn a token stream into phrases as soon as each phrase is complete.

    ``feed(token)`` returns the phrases completed by that token; ``close()``
    returns whatever is left. Long runs without punctuation are released at
    a word boundary once they pass ``max_chars``.
    """

    def __init__(self, max_chars: int = 120):
        self.max_chars = max_chars
        self._pending = ""

    def feed(self, token: str) -> list[str]:
        self._pending += token
        points = [p for p in _cut_points(self._pending, _PHRASE_END) if p < len(self._pending)
                  or self._pending[-1:].isspace()]
        out: list[str] = []
        if points:
            cut = points[-1]
            out = _split_at(self._pending[:cut], points)
            self._pending = self._pending[cut:]
        if len(self._pending) > self.max_chars:
            cut = self._pending.rstrip().rfind(" ")
            if cut > 0:
                out.append(self._pending[: cut + 1])
                self._pending = self._pending[cut + 1:]
        return _ensure_trailing_space([p for p in out if p.strip()])

    def close(self) -> list[str]:
        rest, self._pending = self._pending, ""
        return _ensure_trailing_space([rest]) if rest.strip() else []


def iter_phrases(tokens: Iterable[str], max_chars: int = 120) -> Iterator[str]:
    """Phrases from an iterable of tokens (see :class:`PhraseChunker`)."""
    chunker = PhraseChunker(max_chars)
    for token in tokens:
        yield from chunker.feed(token)
    yield from chunker.close()


# --- server side --------------------------------------------------------------------


class ScheduleBuffer:
    """Buffers text and releases generations as the real service does.

    Without ``auto_mode`` a generation starts when the buffer reaches the
    next value of ``chunk_length_schedule`` (the last value repeats); it is cut
    at the last whitespace so no word is split. With ``auto_mode`` text is
    released at every sentence or phrase boundary. ``drain`` releases all.
    """

    def __init__(self, schedule: tuple[int, ...] = (120, 160, 250, 290), auto_mode: bool = False):
        self.schedule = tuple(schedule)
        self.auto_mode = auto_mode
        self.text = ""
        self.generations = 0

    def __len__(self) -> int:
        return len(self.text)

    def _threshold(self) -> int:
        return self.schedule[min(self.generations, len(self.schedule) - 1)]

    def _release(self, end: int) -> list[str]:
        out, self.text = self.text[:end], self.text[end:]
        self.generations += 1
        return [out] if out else []

    def append(self, text: str, try_trigger: bool = False) -> list[str]:
        """Add text; return the generations it triggers (possibly none)."""
        self.text += text
        if self.auto_mode:
            points = [p for p in _cut_points(self.text, _PHRASE_END) if is_speakable(self.text[:p])]
            return self._release(points[-1]) if points else []
        # try_trigger_generation generates early, but only past the minimum a chunk may have
        threshold = min(50, self._threshold()) if try_trigger else self._threshold()
        if len(self.text) < threshold:
            return []
        cut = max(self.text.rfind(" "), self.text.rfind("\n")) + 1
        if cut <= 0 or not is_speakable(self.text[:cut]):
            return []
        return self._release(cut)

    def drain(self) -> list[str]:
        """Release everything buffered (flush, end of stream)."""
        return self._release(len(self.text)) if self.text else []
