"""The client's side of the protocol as a state machine with no I/O: :class:`ClientConnection`.

Feed it what the application sends (:meth:`~ClientConnection.send`) and the text
frames the server sends (:meth:`~ClientConnection.receive_text`), each with the
current time. Ask it for the next frame to write (:meth:`~ClientConnection.next_frame`,
then :meth:`~ClientConnection.frame_written` once it is on the wire), for the next
time something is due (:meth:`~ClientConnection.next_deadline`; call
:meth:`~ClientConnection.tick` then), and, after a dropped connection, to resend
exactly the text not yet spoken (:meth:`~ClientConnection.resume`).

It owns every rule of the client's side: what counts as text to speak, what has
been aligned (spoken) per context, pacing long texts by a window of unspoken
characters, keep-alive due times, the receive deadline while a reply is awaited,
and corrupt frames. The aiohttp driver (``eleven_nb.client.socket``) only moves
frames and wakes up on time.
"""
from __future__ import annotations

import enum
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .client_context import ContextState
from .client_events import (
    AudioReceived,
    ClientEvent,
    ErrorReceived,
    FinalReceived,
    OtherReceived,
    TimedOut,
)
from .errors import ProtocolError
from .messages import (
    ServerMessage,
    close_connection,
    close_context,
    close_socket,
    context_id_of,
    is_text_content,
    keep_alive,
    keep_alive_socket,
    parse_server_message,
    send_text,
)

__all__ = [
    "CLOSE_PROTOCOL_ERROR", "CLOSE_TIMEOUT", "RECEIVE_TIMEOUT", "WINDOW_CHARS", "AudioReceived", "ClientConnection",
    "ClientEvent", "ConnectionState", "ContextState", "ErrorReceived", "FinalReceived", "OtherReceived", "TimedOut",
    "keep_alive_interval",
]

# Unspoken text allowed on the wire per context: far below the 100,000 characters a server
# buffers, far above the longest chunk_length_schedule step (500), so audio never starves.
WINDOW_CHARS = 20_000
RECEIVE_TIMEOUT = 30.0  # seconds without any frame while a reply is awaited
CLOSE_PROTOCOL_ERROR = 1002  # the client closes with this after a corrupt frame
CLOSE_TIMEOUT = 1011  # ... and with this after the receive deadline (as websockets does on a ping timeout)


def keep_alive_interval(inactivity_timeout: float) -> float:
    """Idle seconds before a keep-alive: half the server's inactivity timeout, 0.5 to 10 s."""
    return max(0.5, min(10.0, inactivity_timeout / 2))


class ConnectionState(enum.Enum):
    OPEN = "open"
    DISCONNECTED = "disconnected"  # the socket dropped; a reconnect may :meth:`resume`
    CLOSED = "closed"


_Failure = TypeVar("_Failure", ErrorReceived, TimedOut)


@dataclass
class _Out:
    seq: int
    message: dict[str, Any]
    resent: bool = False  # a reconnect's replay: its text is already counted
    keepalive: bool = False  # never held by the window


class ClientConnection:
    """One stream-input or multi-stream-input connection, seen from the client.

    ``keepalive_interval``: idle seconds before a keep-alive (``None``: never).
    ``window``: unspoken characters allowed on the wire per context before its next
    text waits (``None``: no pacing). ``receive_timeout``: how long the server may stay
    silent while a reply is awaited (``None``: forever).
    """

    def __init__(self, multi: bool, *, keepalive_interval: float | None = None,
                 window: int | None = WINDOW_CHARS, receive_timeout: float | None = RECEIVE_TIMEOUT,
                 now: float = 0.0):
        self.multi = multi
        self.keepalive_interval = keepalive_interval
        self.window = window
        self.receive_timeout = receive_timeout
        self.state = ConnectionState.OPEN
        self.contexts: dict[str | None, ContextState] = {}
        self.failure: ErrorReceived | TimedOut | None = None
        self.socket_closing = False  # close_socket queued (multi-stream-input)
        self._close_socket_written = False
        self._queues: dict[str | None, deque[_Out]] = {}  # per context (None: socket-level on multi)
        self._inflight: tuple[str | None, _Out] | None = None
        self._seq = 0
        self._last_sent = now
        self._last_received = now
        self._awaiting_since: float | None = None

    # --- sending ------------------------------------------------------------------------------

    def context(self, context_id: str | None) -> ContextState:
        """The state of a context (``None`` on stream-input); a finished multi context id starts anew."""
        key = context_id if self.multi else None
        ctx = self.contexts.get(key)
        if ctx is None or (ctx.done and self.multi):
            ctx = self.contexts[key] = ContextState(key)
        return ctx

    def _key(self, message: Mapping[str, Any]) -> str | None:
        return context_id_of(message) if self.multi else None

    def send(self, message: dict[str, Any]) -> bool:
        """Queue a message built by ``eleven_nb.protocol``; ``False`` if the connection is closed.

        Text beyond the window waits here, in order, until alignment shows it spoken.
        """
        if self.state is ConnectionState.CLOSED:
            return False
        key = self._key(message)
        if message.get("close_socket"):
            self.socket_closing = True
        elif key is not None or not self.multi:
            ctx = self.context(key)
            if ctx.init_message is None:
                ctx.init_message = {k: v for k, v in message.items() if k != "text"} | {"text": " "}
            if message.get("flush"):
                ctx.flushed = True
            if message.get("close_context") or (not self.multi and message.get("text") == ""
                                                 and not message.get("flush")):
                ctx.closing = True
        self._seq += 1
        self._queues.setdefault(key, deque()).append(_Out(self._seq, message))
        return True

    def may_send(self, message: Mapping[str, Any]) -> bool:
        """Whether a message would go out now rather than wait for the window (what ``send()`` awaits)."""
        key = self._key(message)
        if key is None and self.multi:
            return True
        ctx = self.contexts.get(key)
        if ctx is None or ctx.done or not self._is_content(ctx, message):
            return True
        return not self._window_full(ctx)

    def _is_content(self, ctx: ContextState, message: Mapping[str, Any]) -> bool:
        text = message.get("text")
        return isinstance(text, str) and is_text_content(text, not ctx.opened)

    def _window_full(self, ctx: ContextState) -> bool:
        return self.window is not None and ctx.paced is not False and ctx.unspoken_chars >= self.window

    def _writable(self, key: str | None, out: _Out) -> bool:
        if key is None and self.multi:
            return True
        ctx = self.contexts.get(key)
        if ctx is None or out.resent or out.keepalive or not self._is_content(ctx, out.message):
            return True
        return not self._window_full(ctx)

    def next_frame(self) -> dict[str, Any] | None:
        """The next message to write (the same one until :meth:`frame_written`), or ``None``."""
        if self._inflight is not None:
            return self._inflight[1].message
        if self.state is not ConnectionState.OPEN:
            return None
        heads = [(out.seq, key, out) for key, queue in self._queues.items() if queue for out in (queue[0],)]
        if not heads:
            return None
        first = min(seq for seq, _, _ in heads)
        for seq, key, out in sorted(heads, key=lambda head: head[0]):
            socket_level = key is None and self.multi
            if (seq == first or not socket_level) and self._writable(key, out):
                self._queues[key].popleft()
                self._inflight = (key, out)
                return out.message
        return None  # every context with something to say is waiting for its window

    def frame_written(self, now: float) -> None:
        """The message from :meth:`next_frame` is on the wire: count its text as sent."""
        if self._inflight is None:
            return
        key, out = self._inflight
        self._inflight = None
        self._last_sent = now
        message = out.message
        if message.get("close_socket"):
            self._close_socket_written = True
        if key is None and self.multi:
            self._update(now)
            return
        ctx = self.contexts.get(key) or self.context(key)
        ctx.last_sent = now
        first, ctx.opened = not ctx.opened, True
        text = message.get("text")
        if not out.resent and isinstance(text, str) and is_text_content(text, first):
            ctx.add_written(text)
        if message.get("flush"):
            ctx.flush_mark = ctx.written_chars
        if message.get("close_context") or (not self.multi and text == "" and not message.get("flush")):
            ctx.close_written = True
        self._update(now)

    # --- receiving ----------------------------------------------------------------------------

    def receive_text(self, data: str | bytes, now: float) -> list[ClientEvent]:
        """One text frame from the server: the events it makes (exactly one per frame)."""
        self._last_received = now
        try:
            message = parse_server_message(data)
        except (ValueError, TypeError) as exc:
            return [self._fail(ErrorReceived(ProtocolError(
                "invalid_server_message", f"the server sent a corrupt frame: {exc}", CLOSE_PROTOCOL_ERROR)))]
        event = self._route(message)
        self._update(now)
        return [event]

    def _route(self, message: ServerMessage) -> ClientEvent:
        key = message.context_id if self.multi else None
        if message.error is not None:
            ctx = self.contexts.get(key) if key is not None else None
            if ctx is None:  # no context named (or an unknown one): the whole connection failed
                return self._fail(ErrorReceived(message.error, None, message))
            if not ctx.done:
                ctx.fail(message.error)
            return ErrorReceived(message.error, key, message)
        if message.raw_type is not None and message.audio is None and not message.is_final:
            return OtherReceived(key, message)
        ctx = self.contexts.get(key)
        if ctx is None:
            ctx = self.context(key)  # a context the server opened (e.g. the default one)
        elif ctx.done:
            return OtherReceived(key, message)  # stray frame for a finished context
        ctx.received(message)
        if message.is_final:
            ctx.done = True
            return FinalReceived(key, message)
        return AudioReceived(key, message)

    def _fail(self, failure: _Failure) -> _Failure:
        """The first failure is the connection's; the event is returned for the caller to emit."""
        if self.failure is None:
            self.failure = failure
        return failure

    # --- time -----------------------------------------------------------------------------------

    def _awaited(self) -> str | None:
        """What the client is waiting for from the server, if anything."""
        if self.state is not ConnectionState.OPEN:
            return None
        if self._close_socket_written:
            return "the server to close the socket"
        for ctx in self.contexts.values():
            if ctx.done:
                continue
            if ctx.close_written:
                return f"the final message{ctx.of}"
            if ctx.paced is not False and ctx.aligned_chars < ctx.flush_mark:
                return f"audio for the flushed text{ctx.of}"
            if self._window_full(ctx):
                return f"audio for {ctx.unspoken_chars} characters sent{ctx.of}"
        return None

    def silence_reason(self, context_id: str | None) -> str | None:
        """Why no audio is coming for a context (``None`` on stream-input) until the application acts,
        as advice (:meth:`ContextState.silence_reason`); ``None`` while anything is owed or still to go out.
        A reader stalled on such a stream would wait forever: keep-alives hold it open."""
        key = context_id if self.multi else None
        ctx = self.contexts.get(key)
        if (ctx is None or self.state is not ConnectionState.OPEN or self.socket_closing or self._queues.get(key)
                or (self._inflight is not None and self._inflight[0] == key) or self._window_full(ctx)):
            return None
        return ctx.silence_reason()

    def _update(self, now: float) -> None:
        if self._awaited() is None:
            self._awaiting_since = None
        elif self._awaiting_since is None:
            self._awaiting_since = now

    def _receive_deadline(self) -> float | None:
        if (self.receive_timeout is None or self._awaiting_since is None or self.failure is not None
                or self.state is not ConnectionState.OPEN):
            return None
        return max(self._awaiting_since, self._last_received) + self.receive_timeout

    def _keep_alive_due(self) -> list[tuple[float, str | None]]:
        """(due time, context) of each keep-alive that may become due; socket-level: context None."""
        if self.keepalive_interval is None or self.state is not ConnectionState.OPEN or self.socket_closing:
            return []
        interval = self.keepalive_interval
        if not self.multi:
            ctx = self.contexts.get(None)
            # not before the first message (it carries the settings), nor after the end of stream
            if ctx is None or not ctx.opened or ctx.closing or ctx.done:
                return []
            return [(self._last_sent + interval, None)]
        open_ = [c for k, c in self.contexts.items() if k and c.opened and not c.done and not c.closing]
        if not open_:
            return [(self._last_sent + interval, None)]
        return [(c.last_sent + interval, c.context_id) for c in open_]

    def next_deadline(self) -> float | None:
        """When :meth:`tick` next has something to do (``None``: nothing is due)."""
        times = [due for due, _ in self._keep_alive_due()]
        receive = self._receive_deadline()
        if receive is not None:
            times.append(receive)
        return min(times, default=None)

    def tick(self, now: float) -> list[ClientEvent]:
        """Queue the keep-alives due; fail the connection if the receive deadline passed."""
        self._update(now)
        deadline = self._receive_deadline()
        if deadline is not None and now >= deadline:
            awaited = self._awaited() or "a reply"
            return [self._fail(TimedOut(self.receive_timeout or 0.0, awaited))]
        for due, key in self._keep_alive_due():
            if now < due:
                continue
            self._seq += 1
            message = (keep_alive(key) if key else keep_alive_socket()) if self.multi else keep_alive()
            # first in line: a keep-alive must not wait behind text held back by the window
            self._queues.setdefault(key, deque()).appendleft(_Out(self._seq, message, keepalive=True))
            if key is None:
                self._last_sent = now
            else:
                self.contexts[key].last_sent = now
        return []

    # --- the end, and reconnecting ----------------------------------------------------------

    def connection_lost(self) -> None:
        """The socket dropped. Nothing is written or timed until :meth:`resume` (or :meth:`closed`)."""
        if self.state is ConnectionState.OPEN:
            self.state = ConnectionState.DISCONNECTED

    def resume(self, now: float) -> int:
        """A new socket is open: queue, per unfinished context, its first message and its unspoken
        text (flushed if it was), then its close if that was written, before every message never
        written. Returns the number of contexts resumed."""
        pending: list[tuple[str | None, _Out]] = []
        if self._inflight is not None:
            pending.append(self._inflight)
            self._inflight = None
        pending += [(key, out) for key, queue in self._queues.items() for out in queue]
        pending.sort(key=lambda item: item[1].seq)
        replay: list[tuple[str | None, _Out]] = []
        resumed = 0
        for key, ctx in self.contexts.items():
            if ctx.done or not ctx.opened or ctx.init_message is None:
                continue
            resumed += 1
            cid = key if self.multi else None
            ctx.opened = False  # the replayed first message opens it again on the new socket
            messages = [ctx.init_message]
            rest = ctx.unspoken_text
            if rest:
                messages.append(send_text(rest, flush=ctx.flushed or ctx.closing, context_id=cid))
            if ctx.close_written:
                messages.append(close_context(key) if self.multi and key else close_connection())
            replay += [(key, _Out(0, m, resent=True)) for m in messages]
        if self._close_socket_written:
            replay.append((None, _Out(0, close_socket(), resent=True)))
        self._queues = {}
        for key, out in replay + pending:
            self._seq += 1
            out.seq = self._seq
            self._queues.setdefault(key, deque()).append(out)
        self.state = ConnectionState.OPEN
        self._last_received = self._last_sent = now
        self._update(now)
        return resumed

    def closed(self) -> None:
        """The connection is over for good: every context ends."""
        self.state = ConnectionState.CLOSED
        self._inflight = None
        self._queues = {}
        for ctx in self.contexts.values():
            ctx.done = True

    @property
    def awaited(self) -> str | None:
        """What the client waits for from the server now (for messages), if anything."""
        return self._awaited()
