"""The server's text buffer: when does buffered text become a generation?

:class:`ScheduleBuffer` follows ``chunk_length_schedule`` (or ``auto_mode``)
as the real service does. Each :meth:`ScheduleBuffer.append` looks only at the
new text (plus an open tag, at most a few hundred characters), so a stream of
appends costs time linear in its total length, even when nothing is released
(8,000 characters of ", " in small frames).
"""
from __future__ import annotations

from .boundaries import (
    NO_SPANS,
    PHRASE_CUT,
    Spans,
    last_cjk_break,
    last_cut,
    speakable_in,
    tail_state,
    unfinished_markup,
)

DEFAULT_CHUNK_LENGTH_SCHEDULE = (120, 160, 250, 290)  # the service's default schedule
MIN_CHUNK_LENGTH = 50  # try_trigger_generation never releases less than this
CJK_RUN = 40  # auto mode cuts a CJK run with no punctuation after this many characters


class ScheduleBuffer:
    """Buffers text and releases generations as the real service does.

    Without ``auto_mode`` a generation starts when the buffer reaches the
    next value of ``chunk_length_schedule`` (the last value repeats); it is cut
    at the last whitespace (or between two CJK characters) so no word is split.
    With ``auto_mode`` text is released at every sentence or phrase boundary
    (CJK punctuation included), and a CJK run without one after ``cjk_run``
    characters. ``drain`` releases all. A release never cuts inside markup,
    and an unfinished tag at the end waits for its ``>``.
    """

    def __init__(self, schedule: tuple[int, ...] = DEFAULT_CHUNK_LENGTH_SCHEDULE, auto_mode: bool = False,
                 *, min_chars: int = MIN_CHUNK_LENGTH, cjk_run: int = CJK_RUN):
        if not schedule:
            raise ValueError("chunk_length_schedule must have at least one value")
        self.schedule = tuple(schedule)
        self.auto_mode = auto_mode
        self.min_chars = min_chars
        self.cjk_run = cjk_run
        self.generations = 0
        self._reset()

    def _reset(self) -> None:
        self._done: list[str] = []  # scanned text; nothing in it can change
        self._done_len = 0
        self._open = ""  # text after it: an unfinished tag, scanned again with the next append
        self._ctx = ""  # tail_state of the scanned text
        self._speakable = -1  # index of the first speakable character, -1 if none yet
        self._cut = 0  # auto mode: the last phrase cut point (0: none)
        self._space = 0  # the last index just after whitespace (0: none)
        self._cjk = 0  # the last index between two CJK characters (0: none)

    @property
    def text(self) -> str:
        """Everything buffered."""
        if len(self._done) > 1:
            self._done = ["".join(self._done)]
        return (self._done[0] if self._done else "") + self._open

    def __len__(self) -> int:
        return self._done_len + len(self._open)

    def _threshold(self) -> int:
        return self.schedule[min(self.generations, len(self.schedule) - 1)]

    def _scan(self, text: str) -> None:
        """Take in ``text``: find the boundaries it adds, up to any unfinished tag."""
        base = self._done_len  # index of region[0] in the buffer
        region = self._open + text
        markup = "<" in region
        hold = unfinished_markup(region) if markup else len(region)
        ctx = self._ctx
        scanned = ctx + region[:hold]
        offset = base - len(ctx)  # index of scanned[0] in the buffer
        spans = Spans(scanned) if markup else NO_SPANS
        if self._speakable < 0:
            m = speakable_in(region).search(region, 0, hold)
            if m is not None:
                self._speakable = base + m.start()
        if self.auto_mode:
            point = last_cut(scanned, PHRASE_CUT, 0, len(scanned), spans)
            if point > len(ctx):
                self._cut = offset + point
        space = max(scanned.rfind(" "), scanned.rfind("\n"))
        while space >= len(ctx) and (span := spans.around(space)) is not None:
            space = max(scanned.rfind(" ", 0, span[0]), scanned.rfind("\n", 0, span[0]))
        if space >= len(ctx):
            self._space = offset + space + 1
        if not region.isascii():
            cjk = last_cjk_break(scanned, max(0, len(ctx) - 1))
            if cjk >= len(ctx) and offset + cjk > 0 and spans.around(cjk) is None:
                self._cjk = offset + cjk
        self._done.append(region[:hold])
        self._done_len += hold
        self._open = region[hold:]
        self._ctx = tail_state(scanned)

    def _release(self, end: int) -> list[str]:
        text = self.text
        out, rest = text[:end], text[end:]
        self.generations += 1
        self._reset()
        if rest:
            self._scan(rest)
        return [out] if out else []

    def append(self, text: str, try_trigger: bool = False) -> list[str]:
        """Add text; return the generations it triggers (at most one)."""
        if text:
            self._scan(text)
        speakable = self._speakable
        if speakable < 0:
            return []
        if self.auto_mode:
            if self._cut > speakable:
                return self._release(self._cut)
            if len(self) - speakable >= self.cjk_run and self._cjk > speakable:
                return self._release(self._cjk)
            return []
        # try_trigger_generation generates early, but only past the minimum a chunk may have
        threshold = min(self.min_chars, self._threshold()) if try_trigger else self._threshold()
        if len(self) < threshold:
            return []
        cut = max(self._space, self._cjk)
        return self._release(cut) if cut > speakable else []

    def drain(self) -> list[str]:
        """Release everything buffered (flush, end of stream)."""
        return self._release(len(self)) if len(self) else []
