"""Where text may be cut: sentence and phrase ends, word and CJK breaks, markup to keep whole.

Every pattern here runs in time linear in its input, whatever the input: runs of
punctuation are tried only from their first character (a lookbehind), so a
failed try backs off over one run once, and the whitespace after a boundary is
taken in the same match, so a run of 100,000 spaces or newlines is read once.
(No possessive quantifiers: they need Python 3.11, and the package supports 3.10.)

A *cut point* is an index just after a boundary and the whitespace that follows
it. ASCII-style punctuation (and Arabic and Devanagari) ends a phrase only when
whitespace or the end of the text follows; CJK and fullwidth punctuation ends
one at once (CJK text has no spaces). Markup (``<break .../>``, a whole
``<phoneme ...>word</phoneme>`` element, any ``<...>`` tag) is never cut.
"""
from __future__ import annotations

import bisect
import re
from collections.abc import Callable

# Punctuation that needs a following space (or the end) to end a sentence / a phrase.
SPACED_SENTENCE = ".!?…؟।॥"
SPACED_PHRASE = SPACED_SENTENCE + ",;:—–،؛"
# CJK and fullwidth punctuation: ends a sentence / phrase with no space after it.
CJK_SENTENCE = "。！？｡．"
CJK_PHRASE = CJK_SENTENCE + "，、；：､"
# Closing quotes and brackets that stay with the punctuation before them.
CLOSERS = "\"')]”’»」』）】〉》〕］｝"
# Characters of scripts written without spaces, between which a run may be cut by length.
_CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f"

_RUN_CHARS = frozenset(SPACED_PHRASE + CJK_PHRASE + CLOSERS)
TAG_LIMIT = 200  # a "<" with no ">" within this many characters is plain text, not a tag


def _cut_pattern(spaced: str, cjk: str, newline: bool) -> re.Pattern[str]:
    sp, cj, cl = (re.escape(s) for s in (spaced, cjk, CLOSERS))
    # One leading character class lets the regex engine skip plain text fast; a lookbehind then
    # picks the kind of boundary (a spaced run counts only from its first character).
    alternatives = [
        rf"(?<=[{sp}])[{sp}]*[{cl}]*(?=\s|\Z)",
        rf"(?<=[{cj}])[{cj}]*[{cl}]*",
        rf"(?<=…)…*(?=[{_CJK_CHARS}])",  # an ellipsis straight before CJK text
    ]
    if newline:
        alternatives.append(r"(?<=\n)")
    first = sp + cj + ("\n" if newline else "")
    return re.compile(f"[{first}](?<![{sp}][{sp}])(?:" + "|".join(alternatives) + r")\s*")


SENTENCE_CUT = _cut_pattern(SPACED_SENTENCE, CJK_SENTENCE, newline=False)
PHRASE_CUT = _cut_pattern(SPACED_PHRASE, CJK_PHRASE, newline=True)
# The end of the last cut point before a given end: greedy ".*" backs off from the end.
_LAST_SENTENCE_CUT = re.compile(r"(?s:.*)" + SENTENCE_CUT.pattern)
_LAST_PHRASE_CUT = re.compile(r"(?s:.*)" + PHRASE_CUT.pattern)
LAST_CUT = {SENTENCE_CUT: _LAST_SENTENCE_CUT, PHRASE_CUT: _LAST_PHRASE_CUT}

# A tag, or a whole phoneme element (its word must not be cut from its tags).
_ELEMENT = rf"<phoneme\b[^<>]{{0,{TAG_LIMIT}}}>[^<]{{0,{TAG_LIMIT}}}</phoneme\s*>"
_ONE_TAG = rf"<[A-Za-z/!?][^<>]{{0,{TAG_LIMIT}}}>"
TAG = re.compile(f"{_ELEMENT}|{_ONE_TAG}")
_CJK_CHAR = re.compile(rf"[{_CJK_CHARS}]")
_TAG_START = re.compile(r"[A-Za-z/!?]|\Z")
_PHONEME_END = re.compile(r"</phoneme\s*>")
_ATOM = rf"(?:{_ELEMENT}|{_ONE_TAG}|\S)"
# A word with its trailing whitespace (the first also takes the text's leading whitespace).
WORD = re.compile(rf"\A\s*{_ATOM}+\s*|{_ATOM}+\s*")
_SPACE = re.compile(r"\s")
_NON_SPACE = re.compile(r"\S")
SPEAKABLE = re.compile(r"[^\W_]")  # exactly str.isalnum, in C
_ASCII_SPEAKABLE = re.compile(r"[0-9A-Za-z]")  # the same on ASCII text, and 7x faster over long junk


def speakable_in(text: str) -> re.Pattern[str]:
    """The fastest pattern finding speakable characters (letters, digits) in ``text``."""
    return _ASCII_SPEAKABLE if text.isascii() else SPEAKABLE
# Searched in the reversed text: a CJK character, then (before it) a CJK character or punctuation.
_CJK_PAIR_REVERSED = re.compile(rf"[{_CJK_CHARS}](?=[{_CJK_CHARS}{re.escape(CJK_PHRASE)}])")
# The last word break in a window: a whitespace character followed by a non-space (after a word,
# when the window starts a phrase: its leading whitespace belongs to its first word).
_LAST_WORD_BREAK = re.compile(r"(?s).*\s(?=\S)")
_LAST_WORD_BREAK_AFTER_WORD = re.compile(r"(?s)\s*\S.*\s(?=\S)")


class Spans:
    """Sorted, disjoint ``(start, end)`` spans of markup; a cut strictly inside one is not allowed."""

    def __init__(self, text: str, pos: int = 0):
        self.starts: list[int] = []
        self.ends: list[int] = []
        if "<" not in text:
            return
        for m in TAG.finditer(text, pos):
            self.starts.append(m.start())
            self.ends.append(m.end())

    def around(self, point: int) -> tuple[int, int] | None:
        """The span with ``start < point < end``, if any."""
        if not self.starts:
            return None
        i = bisect.bisect_left(self.starts, point) - 1
        if i >= 0 and self.ends[i] > point:
            return self.starts[i], self.ends[i]
        return None


NO_SPANS = Spans("")


def cut_points(text: str, pattern: re.Pattern[str], spans: Spans | None = None) -> list[int]:
    """Every cut point of ``text`` (ascending, possibly repeated), none inside markup."""
    points = [m.end() for m in pattern.finditer(text)]
    if spans is None:
        spans = Spans(text)
    if spans.starts:
        points = [p for p in points if spans.around(p) is None]
    return points


def next_cut(text: str, pattern: re.Pattern[str], pos: int, spans: Spans) -> int:
    """The first cut point after ``pos`` (``pos`` holds a non-boundary character), or ``len(text)``."""
    while True:
        m = pattern.search(text, pos)
        if m is None:
            return len(text)
        if not spans.starts:
            return m.end()
        span = spans.around(m.end())
        if span is None:
            return m.end()
        pos = span[1]


def last_cut(text: str, pattern: re.Pattern[str], start: int, end: int, spans: Spans) -> int:
    """The last cut point in ``(start, end]`` (``text[end]`` is no boundary character), else ``start``."""
    finder = LAST_CUT[pattern]
    lo = start  # a match ending past `start` may begin before it, in the run of boundary characters there
    while lo > 0 and (text[lo - 1] in _RUN_CHARS or text[lo - 1].isspace()):
        lo -= 1
    def cut_before(end: int) -> int | None:
        m = finder.match(text, lo, end + 1)  # endpos past `end`: "\\Z" must not hold at `end`
        return None if m is None else m.end()

    return _last_outside_markup(cut_before, start, end, spans)


def last_word_break(text: str, start: int, end: int, spans: Spans, *, leading: bool = True) -> int:
    """The last index in ``(start, end]`` where a word starts after whitespace, else ``start``.

    With ``leading``, whitespace at ``start`` is the first word's, not a break.
    """
    finder = _LAST_WORD_BREAK_AFTER_WORD if leading else _LAST_WORD_BREAK
    def break_before(end: int) -> int | None:
        if _SPACE.search(text, start, end) is None or _NON_SPACE.search(text, start + 1, end + 1) is None:
            return None  # no break here: spare the regex its backtracking
        m = finder.match(text, start, end + 1)
        return None if m is None else m.end()

    return _last_outside_markup(break_before, start, end, spans)


def _last_outside_markup(last_before: Callable[[int], int | None], start: int, end: int, spans: Spans) -> int:
    """The last point ``last_before`` finds in ``(start, end]`` that is not inside markup, else ``start``:
    a point inside a tag moves the search to before that tag."""
    while end > start:
        point = last_before(end)
        if point is None or point <= start:
            return start
        span = spans.around(point)
        if span is None:
            return point
        end = span[0]
    return start


def last_cjk_break(text: str, start: int = 0) -> int:
    """The last index after ``start`` between two CJK characters (or after CJK punctuation), else -1."""
    tail = text[start:]
    m = _CJK_PAIR_REVERSED.search(tail[::-1])
    # a match at index i of the reversed tail is the character text[len - 1 - i]: break before it
    return -1 if m is None else len(text) - m.start() - 1


def hard_cut(point: int, start: int, spans: Spans) -> int:
    """``point``, moved out of any markup span (to its start when that leaves a piece, else its end)."""
    span = spans.around(point)
    if span is None:
        return point
    return span[0] if span[0] > start else span[1]


def unfinished_markup(text: str) -> int:
    """Index of a tag (or phoneme element) still open at the end of ``text``, else ``len(text)``.

    A "<" opens a tag when a letter, "/", "!" or "?" follows it (or nothing yet), as in XML;
    "a < b" is plain text. A tag still without its ">" after ``TAG_LIMIT`` characters is
    plain text too, so holding text back is bounded.
    """
    hold = len(text)
    lt = text.rfind("<", max(0, len(text) - TAG_LIMIT - 1))
    if lt >= 0 and text.find(">", lt) < 0 and _TAG_START.match(text, lt + 1) is not None:
        hold = lt
    element = text.rfind("<phoneme", max(0, len(text) - 2 * TAG_LIMIT - 12))
    if element >= 0 and text.find(">", element) >= 0 and _PHONEME_END.search(text, element) is None:
        hold = min(hold, element)
    return hold


def tail_state(text: str) -> str:
    """A short string that ends the same way as ``text`` for every boundary pattern.

    Boundary matches never reach back past the last punctuation run, its
    closers and the whitespace after them; this keeps just that much, in
    canonical form, so scanning ``tail_state(old) + new`` finds the same cut
    points in ``new`` as scanning ``old + new``.
    """
    stripped = text.rstrip()
    space = text[len(stripped):]
    before = stripped.rstrip(CLOSERS)
    last = before[-1:]
    # punctuation and CJK characters stand for themselves (a CJK break may follow); others are "x"
    keep = last and (last in _RUN_CHARS or _CJK_CHAR.match(last) is not None)
    head = last if keep else ("x" if before else "")
    return head + ("\n" if "\n" in space else " " if space else "")
