"""The gem's ``websocket_text_to_speech`` API, in Python spelling.

Every example of the Ruby gem's documentation translates line for line::

    ws = client.websocket_text_to_speech.connect_stream_input(voice_id, sync_alignment=True)

    @ws.on("open")
    def opened(event):
        client.websocket_text_to_speech.send_initialize_connection(ws, text=" ")
        client.websocket_text_to_speech.send_text(ws, "Hello there! ")
        client.websocket_text_to_speech.send_close_connection(ws)

    @ws.on("message")
    def message(event):
        data = json.loads(event.data)

    ws.wait(10)    # the gem's `sleep(10)`

Connecting returns at once; the socket opens on the background loop. Handlers
run on a thread of their own, in order, so a slow handler never stalls the
socket, and sending from a handler is safe. Events that happen before a
handler for them is registered are kept and delivered when it is.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import protocol
from . import loop
from .errors import ElevenError
from .socket import Socket

if TYPE_CHECKING:
    from . import Client

log = logging.getLogger("eleven_nb.client")

EVENTS = ("open", "message", "error", "close")
MAX_EARLY_EVENTS = 10_000


@dataclass(frozen=True)
class Event:
    """What a handler receives. ``data`` is the raw JSON text of a message, as in the gem."""

    type: str
    data: str | None = None
    message: str | None = None  # error text
    error: str | None = None  # the server's error id, when there was one
    code: int | None = None  # close code (close, error)
    reason: str | None = None


class _Received:
    """What a gem-style connection has received: timelines and audio, per stream or context."""

    multi: bool
    _socket: Socket | None

    def _track(self, context_id: str | None):
        if self._socket is None or (context_id if self.multi else None) not in self._socket.tracks:
            raise ElevenError(f"nothing received yet{' for context ' + repr(context_id) if context_id else ''}")
        return self._socket.tracks[context_id if self.multi else None]

    @property
    def timeline(self):
        """The absolute timeline received so far (stream-input; None on multi-stream-input)."""
        return self._socket.track(None).timeline if self._socket and not self.multi else None

    def timeline_of(self, context_id: str | None = None):
        """The absolute timeline of one context (multi-stream-input), or of the stream."""
        return self._track(context_id).timeline

    def save(self, path, context_id: str | None = None):
        """Write the audio received (of one context, on multi-stream-input); see ``eleven_nb.audio.save_audio``."""
        return self._track(context_id).save(path)

    # The socket's listener callbacks: its events become the gem's Event objects here, in one place.
    def on(self, event: str, handler: Callable[[Event], Any] | None = None):
        """Register a handler for "open", "message", "error" or "close" (also as a decorator).

        Events that came before a handler for them was registered are delivered to it now.
        """
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; use one of {', '.join(EVENTS)}")

        def register(fn: Callable[[Event], Any]):
            with self._lock:
                self._handlers[event].append(fn)
                early, self._early[event] = self._early[event], []
                for item in early:
                    self._enqueue(item)
                if early and self._closed.is_set():  # registered after the end: deliver, then stop again
                    self._enqueue(None)
                    if self._drained.is_set():
                        self._start_dispatcher()
            return fn

        return register(handler) if handler is not None else register

    # Each connection defines how it queues (_enqueue) and delivers events (_emit) and how it ends
    # (_after_close).
    close_code: int | None
    close_reason: str | None
    _emit: Callable[[Event], None]
    _enqueue: Callable[[Event | None], None]
    _after_close: Callable[[], None]

    def on_open(self) -> None:
        self._emit(Event("open"))

    def on_message(self, data: str, parsed: protocol.ServerMessage) -> None:
        self._emit(Event("message", data=data))

    def on_error(self, exc: BaseException) -> None:
        self._emit(Event("error", message=getattr(exc, "message", None) or str(exc),
                         error=getattr(exc, "error", None), code=getattr(exc, "code", None)))

    def on_close(self, code: int | None, reason: str) -> None:
        self.close_code, self.close_reason = code, reason
        self._emit(Event("close", code=code, reason=reason))
        self._after_close()


class Connection(_Received):
    """A WebSocket with gem-style event handlers. Returned by ``connect_stream_input`` & co."""

    def __init__(self, make_socket: Callable[[], Socket], multi: bool):
        self.multi = multi
        self._handlers: dict[str, list[Callable[[Event], Any]]] = {name: [] for name in EVENTS}
        self._early: dict[str, list[Event]] = {name: [] for name in EVENTS}
        self._lock = threading.Lock()
        self._events: queue.Queue[Event | None] = queue.Queue()
        self._closed = threading.Event()
        self._socket: Socket | None = None
        self._pending: list[dict[str, Any]] = []  # sends made before the socket exists
        self._drained = threading.Event()  # closed, and every event delivered
        self._dispatcher: threading.Thread | None = None
        self._start_dispatcher()
        self.close_code: int | None = None
        self.close_reason: str | None = None
        loop.submit(self._open(make_socket))

    # --- the gem's surface ---------------------------------------------------------------

    def send(self, message: Mapping[str, Any]) -> bool:
        """Queue a JSON message. Never blocks; order is kept; safe from any thread.

        Returns False (and sends nothing) once the socket has closed, as the gem's ``send`` does.
        """
        message = dict(message)
        with self._lock:
            if self._closed.is_set():
                return False
            if self._socket is None:
                self._pending.append(message)
                return True
        loop.background_loop().call_soon_threadsafe(self._socket.send_nowait, message)
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the socket has closed and its handlers have run (or ``timeout`` s); True if so.

        The Python spelling of the gem's ``sleep(10)``: it returns as soon as the
        connection is over. From inside a handler it waits only for the close.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._closed.wait(timeout):
            return False
        if threading.current_thread() is self._dispatcher:
            return True
        return self._drained.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """``wait`` for async code."""
        import asyncio

        return await asyncio.to_thread(self.wait, timeout)

    def close(self) -> None:
        """Close the socket now (pending audio is dropped)."""
        if self._socket is not None:
            loop.submit(self._socket.aclose())

    @property
    def closed(self) -> bool:
        return self._closed.is_set()


    # --- plumbing -----------------------------------------------------------------------------

    async def _open(self, make_socket: Callable[[], Socket]) -> None:
        try:
            socket = await make_socket()
            socket.listeners.append(self)
            await socket.open()
        except Exception as exc:
            self.on_error(exc)
            self.on_close(None, str(exc))
            return
        with self._lock:
            self._socket = socket
            pending, self._pending = self._pending, []
        for message in pending:
            socket.send_nowait(message)

    def _start_dispatcher(self) -> None:
        self._drained.clear()
        self._dispatcher = threading.Thread(target=self._dispatch, name="eleven_nb-handlers", daemon=True)
        self._dispatcher.start()

    def _emit(self, event: Event) -> None:
        with self._lock:
            if not self._handlers[event.type]:
                early = self._early[event.type]
                if len(early) < MAX_EARLY_EVENTS:
                    early.append(event)
                return
            self._events.put(event)

    def _dispatch(self) -> None:
        while True:
            event = self._events.get()
            if event is None:  # a wake-up: stop once closed and everything is delivered
                with self._lock:
                    if self._closed.is_set() and self._events.empty():
                        self._drained.set()
                        return
                continue
            for handler in list(self._handlers[event.type]):
                try:
                    handler(event)
                except Exception:  # one faulty handler must not silence the others
                    log.exception("%s handler failed", event.type)

    def _enqueue(self, item: Event | None) -> None:
        self._events.put(item)

    def _after_close(self) -> None:
        with self._lock:
            self._closed.set()
            self._events.put(None)  # the dispatcher ends after delivering everything


class WebsocketTextToSpeech:
    """``client.websocket_text_to_speech``: the gem's methods."""

    def __init__(self, client: Client):
        self._client = client

    # connections
    def connect_stream_input(self, voice_id: str, **options: Any) -> Connection:
        """Connect to ``stream-input``. Options: the ten query parameters (validated now)."""
        make = self._client._socket_factory(voice_id, protocol.STREAM_INPUT, options)
        return Connection(make, multi=False)

    def connect_multi_stream_input(self, voice_id: str, **options: Any) -> Connection:
        make = self._client._socket_factory(voice_id, protocol.MULTI_STREAM_INPUT, options)
        return Connection(make, multi=True)

    # single context
    def send_initialize_connection(self, ws: Connection, text: str = " ", voice_settings=None,
                                   generation_config=None, **extra: Any) -> bool:
        return ws.send(protocol.initialize_connection(text, voice_settings, generation_config) | extra)

    def send_text(self, ws: Connection, text: str, try_trigger_generation: bool = False,
                  flush: bool = False) -> bool:
        return ws.send(protocol.send_text(text, try_trigger_generation=try_trigger_generation, flush=flush))

    def send_close_connection(self, ws: Connection) -> bool:
        return ws.send(protocol.close_connection())

    def stream_text_to_speech(self, voice_id: str, text_chunks: Iterable[str], voice_settings=None,
                              on_chunk: Callable[[bytes, dict], Any] | None = None, **options: Any) -> Connection:
        """Open, send the chunks, close; call ``on_chunk(audio_bytes, metadata)`` for each audio chunk."""
        import base64

        ws = self.connect_stream_input(voice_id, **options)
        if on_chunk is not None:
            @ws.on("message")
            def deliver(event: Event) -> None:
                data = json.loads(event.data)
                if data.get("audio"):
                    on_chunk(base64.b64decode(data["audio"]), data)

        self.send_initialize_connection(ws, voice_settings=voice_settings)
        for chunk in text_chunks:
            self.send_text(ws, chunk, try_trigger_generation=True)
        self.send_close_connection(ws)
        return ws

    # multi-context
    def send_initialize_connection_multi(self, ws: Connection, context_id: str, text: str = " ",
                                         voice_settings=None, generation_config=None) -> bool:
        return ws.send(protocol.initialize_connection(text, voice_settings, generation_config, context_id=context_id))

    def send_text_multi(self, ws: Connection, context_id: str, text: str, flush: bool = False) -> bool:
        return ws.send(protocol.send_text(text, flush=flush, context_id=context_id))

    def send_flush_context(self, ws: Connection, context_id: str) -> bool:
        return ws.send(protocol.flush_context(context_id))

    def send_close_context(self, ws: Connection, context_id: str) -> bool:
        return ws.send(protocol.close_context(context_id))

    def send_close_socket(self, ws: Connection) -> bool:
        return ws.send(protocol.close_socket())
