"""What the client knows about one context (or the one stream of stream-input): sent, spoken, closing."""
from __future__ import annotations

from collections import deque
from typing import Any

from .errors import ProtocolError
from .limits import DEFAULT_CHUNK_LENGTH_SCHEDULE
from .messages import ServerMessage

__all__ = ["ContextState"]


class ContextState:
    """Per-context bookkeeping of a :class:`~eleven_nb.protocol.client.ClientConnection`.

    Only the text not yet spoken is kept (what a reconnect resends, and what pacing
    counts); what the alignment has covered is dropped, so memory follows the window,
    not the length of the stream.
    """

    def __init__(self, context_id: str | None):
        self.context_id = context_id
        self.init_message: dict[str, Any] | None = None  # its first message, text " " (for a resume)
        self.opened = False  # its first message has been written
        self.flushed = False  # a flush was asked for (resent text is flushed too)
        self.closing = False  # end of stream / close_context queued
        self.close_written = False
        self.done = False  # final received, failed, or the connection ended
        self.error: ProtocolError | None = None
        self.last_sent = 0.0
        self.written_chars = 0  # content characters written (see protocol.is_text_content)
        self.aligned_chars = 0  # characters the alignment has covered
        self.flush_mark = 0  # written_chars at the last flush written: audio is owed up to here
        # Whether alignment reports progress: None until the first chunk, then True if it had
        # alignment. A server that sends audio without alignment cannot pace the sender.
        self.paced: bool | None = None
        self._unspoken: deque[str] = deque()  # written, not yet aligned; the first piece from _head
        self._head = 0

    @property
    def unspoken_chars(self) -> int:
        return max(0, self.written_chars - self.aligned_chars)

    @property
    def unspoken_text(self) -> str:
        """Text written that no alignment has covered yet: what a reconnect resends."""
        text = "".join(self._unspoken)
        return text[self._head:]

    @property
    def held_text(self) -> str:
        """Text written after the last flush and not yet spoken: what a server may keep buffered
        until its ``chunk_length_schedule`` fills, a flush, or the end of the stream."""
        held = self.written_chars - max(self.flush_mark, self.aligned_chars)
        return self.unspoken_text[-held:] if held > 0 else ""

    @property
    def of(self) -> str:
        """`` of context 'id'`` for messages, or nothing on stream-input."""
        return f" of context {self.context_id!r}" if self.context_id is not None else ""

    def silence_reason(self) -> str | None:
        """Why no audio will come until the application acts, as advice; ``None`` when the context is
        not open yet, has ended, is closing, is owed audio for flushed text, or gets no alignment
        (then what was spoken cannot be told)."""
        if not self.opened or self.done or self.closing or self.paced is False or self.aligned_chars < self.flush_mark:
            return None
        held = self.held_text
        if not held.strip():
            return f"everything sent{self.of} has been spoken: send more text, or close to end it"
        preview = held if len(held) <= 40 else held[:37] + "..."
        return (f"the server holds the {len(held)} characters sent{self.of} since the last flush ({preview!r}) "
                f"until its chunk_length_schedule fills ({DEFAULT_CHUNK_LENGTH_SCHEDULE[0]} characters by default): "
                "send more text, flush, or close to have them spoken")

    def add_written(self, text: str) -> None:
        self.written_chars += len(text)
        self._unspoken.append(text)

    def add_aligned(self, count: int) -> None:
        """``count`` more characters were spoken: drop them from the unspoken text."""
        self.aligned_chars += count
        drop = self._head + count
        while self._unspoken and drop >= len(self._unspoken[0]):
            drop -= len(self._unspoken.popleft())
        self._head = drop if self._unspoken else 0

    def received(self, message: ServerMessage) -> None:
        """Note an audio or final frame for this context: what its alignment covered."""
        if message.alignment is not None:
            self.add_aligned(sum(len(c) for c in message.alignment.chars))
            self.paced = True
        elif message.audio and self.paced is None:
            self.paced = False

    def fail(self, error: ProtocolError) -> None:
        self.error = error
        self.done = True

    def __repr__(self) -> str:
        state = "done" if self.done else "closing" if self.closing else "open" if self.opened else "new"
        return (f"ContextState({self.context_id!r}, {state}, written={self.written_chars}, "
                f"aligned={self.aligned_chars})")
