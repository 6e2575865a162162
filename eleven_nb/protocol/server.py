"""The server side of both endpoints as a state machine with no I/O.

:class:`ServerConnection` is fed what a socket received and the current time;
it answers with events for the engine side (:class:`ContextOpened`,
:class:`Generate`, :class:`ContextClosing`, :class:`Authenticated`,
:class:`Failed`), frames to send (:meth:`~ServerConnection.data_to_send`), the
close to perform (:attr:`~ServerConnection.close`) and when it next wants to be
woken (:meth:`~ServerConnection.next_deadline`). The I/O layer reports back
what the engine made: audio, a generation done, a context done, a failure.

It owns every rule of the protocol: buffering by ``chunk_length_schedule``,
``auto_mode``, ``flush`` and ``try_trigger_generation``; the limit of five
contexts (a closed context keeps its slot until its final is sent); the bound
on text held per socket; ``voice_settings`` fixed by a context's first message;
authentication by the first message; end of stream; ``close_socket``;
inactivity per socket and per context; and the reuse of a ``context_id`` whose
previous context has not sent its final yet (the new one waits for it, so two
generations never interleave under one id).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ..alignment import Alignment
from ..chunking import ScheduleBuffer
from .errors import CLOSE_NORMAL, ProtocolError, close_reason, invalid
from .limits import DEFAULT_CHUNK_LENGTH_SCHEDULE, MAX_CONTEXTS, MAX_INPUT_FRAME
from .messages import (
    ClientMessage,
    audio_message,
    dumps,
    final_message,
    is_text_content,
    parse_client_message,
)
from .server_events import (
    AUTH_TIMEOUT,
    DEFAULT_MAX_BUFFERED_CHARS,
    Authenticated,
    ContextClosing,
    ContextOpened,
    Failed,
    Generate,
    ServerConfig,
    ServerEvent,
)
from .settings import VoiceSettings

__all__ = [
    'AUTH_TIMEOUT',
    'DEFAULT_CONTEXT',
    'DEFAULT_MAX_BUFFERED_CHARS',
    'Authenticated',
    'ContextClosing',
    'ContextOpened',
    'Failed',
    'Generate',
    'ServerConfig',
    'ServerConnection',
    'ServerEvent',
]

DEFAULT_CONTEXT = "default"  # multi-stream-input: the context of a message without context_id


@dataclass
class _Context:
    ref: int
    id: str | None
    voice_settings: VoiceSettings | None
    buffer: ScheduleBuffer
    last_activity: float
    generations: deque[int] = field(default_factory=deque)  # lengths of the generations under way
    closing: bool = False
    after: int | None = None  # ref of the context with the same id whose final must go first
    held: list[ServerEvent] = field(default_factory=list)  # events held until then

    @property
    def held_chars(self) -> int:
        return len(self.buffer) + sum(self.generations)

    @property
    def idle(self) -> bool:
        """Nothing being generated (text under the schedule may wait in the buffer)."""
        return not self.generations


class ServerConnection:
    """One socket's protocol state. Not thread-safe: the driver serialises calls."""

    def __init__(self, config: ServerConfig, now: float):
        self.config = config
        self.authenticated = config.check_key is None
        self.close: tuple[int, str] | None = None  # (code, reason) once the socket must close
        self._opened_at = now
        self._last_message = now
        self._ending = False  # end of stream / close_socket received
        self._open: dict[str, _Context] = {}  # by wire id (stream-input: DEFAULT_CONTEXT)
        self._closing: dict[int, _Context] = {}  # by ref: closed, final not sent yet
        self._next_ref = 0
        self._events: deque[ServerEvent] = deque()
        self._out: list[str] = []

    # --- what the driver reads ------------------------------------------------------------

    def events(self) -> list[ServerEvent]:
        """Every event produced so far, oldest first (and forget them)."""
        out = list(self._events)
        self._events.clear()
        return out

    def next_event(self) -> ServerEvent | None:
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> list[str]:
        """Text frames to send, in order (and forget them)."""
        out, self._out = self._out, []
        return out

    @property
    def contexts_held(self) -> int:
        """Contexts holding a slot: open ones and closed ones whose final is not sent yet."""
        return len(self._open) + len(self._closing)

    @property
    def chars_held(self) -> int:
        """Text held by the socket: buffered, queued, or being spoken."""
        return sum(c.held_chars for c in self._contexts())

    def next_deadline(self) -> float | None:
        """When :meth:`tick` must next be called, if ever."""
        if self.close is not None:
            return None
        deadlines = [self._socket_deadline()]
        if not self.authenticated:
            deadlines.append(self._opened_at + self.config.auth_timeout)
        if self.config.multi:
            deadlines += [c.last_activity + self.config.inactivity_timeout for c in self._open.values() if c.idle]
        return min((d for d in deadlines if d is not None), default=None)

    def _socket_deadline(self) -> float | None:
        """When the socket times out for want of input; ``None`` while something is under way."""
        if self._ending:
            return None
        timeout = self.config.inactivity_timeout
        if self.config.multi:
            return None if self.contexts_held else self._last_message + timeout
        context = self._open.get(DEFAULT_CONTEXT)
        if context is None:
            return self._last_message + timeout
        return max(self._last_message, context.last_activity) + timeout if context.idle else None

    # --- what the socket received ----------------------------------------------------------

    def receive_text(self, data: str, now: float, size: int | None = None) -> None:
        """A text frame (``size``: its length in UTF-8 bytes, if the driver knows it)."""
        if self.close is not None or self._ending:
            return  # after end of stream / close_socket, input is ignored (not even parsed)
        self._last_message = now
        if size is None:
            size = len(data) if data.isascii() else len(data.encode("utf-8", "surrogatepass"))
        try:
            if size > MAX_INPUT_FRAME:
                raise ProtocolError.of("message_too_big", limit=MAX_INPUT_FRAME)
            message = parse_client_message(data)
            if not self.authenticated:
                self._authenticate(message)
            if self.config.multi:
                self._on_multi(message, now)
            else:
                self._on_single(message, now)
        except ProtocolError as error:
            self.fail(error)

    def receive_binary(self) -> None:
        if self.close is None and not self._ending:
            self.fail(invalid("binary frames are not accepted; send JSON text frames"))

    def receive_close(self) -> None:
        """The client closed (or the transport broke): nothing more will be sent."""
        if self.close is None:
            self.close = (CLOSE_NORMAL, "")
        self._out.clear()

    def tick(self, now: float) -> None:
        """Enforce the deadlines that have passed."""
        if self.close is not None:
            return
        if not self.authenticated and now >= self._opened_at + self.config.auth_timeout:
            self.fail(ProtocolError.of("authentication_timeout", timeout=self.config.auth_timeout))
            return
        timeout = self.config.inactivity_timeout
        if self.config.multi:
            for context in list(self._open.values()):
                if context.idle and now >= context.last_activity + timeout:
                    self._close_context(context)  # an idle context gets its final; the socket stays
        deadline = self._socket_deadline()
        if deadline is not None and now >= deadline:
            self.fail(ProtocolError.of("input_timeout_exceeded", timeout=timeout))

    # --- what the engine side reports -------------------------------------------------------

    def audio(self, ref: int, data: bytes, alignment: Alignment | None,
              normalized_alignment: Alignment | None = None) -> None:
        """Context ``ref`` made an audio frame."""
        context = self._find(ref)
        if context is not None and self.close is None:
            cid = context.id if self.config.multi else None
            self._out.append(dumps(audio_message(data, alignment, normalized_alignment, cid)))

    def generation_done(self, ref: int, now: float) -> None:
        """Context ``ref`` finished its oldest generation."""
        context = self._find(ref)
        if context is not None and context.generations:
            context.generations.popleft()
            context.last_activity = now

    def context_done(self, ref: int) -> None:
        """Context ``ref`` sent all its audio (after :class:`ContextClosing`): send its final."""
        context = self._closing.get(ref)
        if context is None or self.close is not None:
            return
        self._out.append(dumps(final_message(context.id if self.config.multi else None)))
        self._forget(context)
        if not self.config.multi:
            self._close_with(CLOSE_NORMAL)

    def context_failed(self, ref: int, error: ProtocolError | None = None) -> None:
        """Context ``ref`` could not be spoken: on multi-stream-input only it ends, with an error frame."""
        context = self._find(ref)
        if context is None or self.close is not None:
            return
        error = error or ProtocolError.of("generation_failed")
        if not self.config.multi:
            self.fail(error)
            return
        self._out.append(dumps(error.to_message(context.id)))
        self._forget(context)

    def fail(self, error: ProtocolError) -> None:
        """Queue ``error``'s frame and close with its code."""
        if self.close is not None:
            return
        self._out.append(dumps(error.to_message()))
        self._events.append(Failed(error))
        self._close_with(error.code, error.message)

    # --- rules ---------------------------------------------------------------------------------

    def _authenticate(self, message: ClientMessage) -> None:
        key = message.api_key
        if key is None and message.authorization:
            key = message.authorization.removeprefix("Bearer ").strip()
        if key is None:
            raise ProtocolError.of("authentication_required")
        assert self.config.check_key is not None
        if not self.config.check_key(key):
            raise ProtocolError.of("invalid_api_key")
        self.authenticated = True
        self._events.append(Authenticated())

    def _on_single(self, message: ClientMessage, now: float) -> None:
        context = self._open.get(DEFAULT_CONTEXT)
        first = context is None
        if context is None:
            context = self._new_context(DEFAULT_CONTEXT, None, message, now)
        else:
            self._check_settings(context, message)
        text = message.text
        if not text and not message.flush:  # "" (or no text at all): end of stream
            self._ending = True
            self._close_context(context)
        else:
            self._add_text(context, message, first, now)

    def _on_multi(self, message: ClientMessage, now: float) -> None:
        if message.close_socket:
            self._ending = True
            for open_context in list(self._open.values()):
                self._close_context(open_context)
            if not self._closing:
                self._close_with(CLOSE_NORMAL)
            return
        if message.context_id is None and message.text == "" and not message.flush:
            return  # a context-less keep-alive: the socket timer was reset
        cid = message.context_id or DEFAULT_CONTEXT
        context = self._open.get(cid)
        first = context is None
        if context is None:
            if message.close_context:
                return  # closing an unknown context is a no-op
            if self.contexts_held >= MAX_CONTEXTS:
                raise ProtocolError.of("max_active_conversations", context_id=cid)
            context = self._new_context(cid, cid, message, now)
        else:
            self._check_settings(context, message)
        self._add_text(context, message, first, now)
        if message.close_context:
            self._close_context(context)

    def _add_text(self, context: _Context, message: ClientMessage, first: bool, now: float) -> None:
        context.last_activity = now
        text = message.text or ""
        if not is_text_content(text, first):
            text = ""  # the initial " ", or a keep-alive "" on multi-stream-input
        if text:
            held, limit = self.chars_held + len(text), self.config.max_buffered_chars
            if held > limit:
                raise ProtocolError.of("text_buffer_exceeded", context_id=context.id, size=held, limit=limit)
            for generation in context.buffer.append(text, try_trigger=message.try_trigger_generation):
                self._generate(context, generation)
        if message.flush:
            for generation in context.buffer.drain():
                self._generate(context, generation)

    def _new_context(self, key: str, cid: str | None, message: ClientMessage, now: float) -> _Context:
        schedule = message.chunk_length_schedule or DEFAULT_CHUNK_LENGTH_SCHEDULE
        context = _Context(self._next_ref, cid, message.voice_settings,
                           ScheduleBuffer(schedule, self.config.auto_mode), now)
        self._next_ref += 1
        earlier = [c.ref for c in self._closing.values() if c.id == cid]
        context.after = max(earlier, default=None)  # a reused id speaks after its predecessor's final
        self._open[key] = context
        self._events.append(ContextOpened(context.ref, cid, context.voice_settings))
        return context

    @staticmethod
    def _check_settings(context: _Context, message: ClientMessage) -> None:
        """voice_settings belong to the first message: later ones must be absent or equal."""
        if message.has_voice_settings and message.voice_settings != context.voice_settings:
            raise ProtocolError.of("voice_settings_changed", context_id=context.id)

    def _generate(self, context: _Context, text: str) -> None:
        context.generations.append(len(text))
        self._emit(context, Generate(context.ref, text))

    def _close_context(self, context: _Context) -> None:
        """Generate what is buffered, then the final (close_context, end of stream, idle context)."""
        for generation in context.buffer.drain():
            self._generate(context, generation)
        context.closing = True
        self._open = {k: c for k, c in self._open.items() if c is not context}
        self._closing[context.ref] = context
        self._emit(context, ContextClosing(context.ref))

    def _emit(self, context: _Context, event: ServerEvent) -> None:
        if context.after is None:
            self._events.append(event)
        else:
            context.held.append(event)

    def _forget(self, context: _Context) -> None:
        """A context ended (final sent, or failed): free its slot and start what waited for it."""
        self._closing.pop(context.ref, None)
        self._open = {k: c for k, c in self._open.items() if c is not context}
        for waiting in self._contexts():
            if waiting.after == context.ref:
                waiting.after = None
                self._events.extend(waiting.held)
                waiting.held.clear()
        if self._ending and not self.contexts_held:
            self._close_with(CLOSE_NORMAL)

    def _find(self, ref: int) -> _Context | None:
        return self._closing.get(ref) or next((c for c in self._open.values() if c.ref == ref), None)

    def _contexts(self) -> list[_Context]:
        return [*self._open.values(), *self._closing.values()]

    def _close_with(self, code: int, reason: str = "") -> None:
        if self.close is None:
            self.close = (code, close_reason(reason))
