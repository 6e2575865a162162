"""Event-handler connections: a WebSocket whose events (open, message, error, close) go to handlers.

The connection object of ``client.websocket_text_to_speech`` (:mod:`.websocket_tts`).
Two twins share everything here but delivery: :class:`Connection` (blocking; the
socket lives on the background loop, handlers run in order on a thread of their
own) and :class:`AsyncConnection` (on the caller's loop, handlers run in order
in a task of their own). Handlers may be plain or ``async`` functions in both.

Rules both keep, in :class:`BaseConnection`:

- the program's order: a message sent before the ``open`` handlers have run is
  sent after what they send, so "initialize in ``open``, then send text" is safe
  however slowly the server answers;
- events that happen before a handler for them is registered are kept and
  delivered when it is;
- a slow or failing handler never stalls the socket or silences the others.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import protocol
from ..alignment import Timeline
from . import loop
from .errors import ElevenError
from .socket import Socket
from .streams import SocketFactory
from .tracks import Track

log = logging.getLogger("eleven_nb.client")

EVENTS = ("open", "message", "error", "close")
MAX_EARLY_EVENTS = 10_000  # kept per event type for a handler not registered yet


@dataclass(frozen=True)
class Event:
    """What a handler receives. ``data`` is the raw JSON text of a message, as in the Ruby client."""

    type: str
    data: str | None = None
    message: str | None = None  # error text
    error: str | None = None  # the server's error id, when there was one
    code: int | None = None  # close code (close, error)
    reason: str | None = None


Handler = Callable[[Event], Any]


def _call(handler: Handler, event: Event) -> Awaitable[Any] | None:
    """Run a handler; return what is left to await (an async handler), log a failure."""
    try:
        result = handler(event)
    except Exception:
        log.exception("%s handler failed", event.type)
        return None
    return result if inspect.isawaitable(result) else None


class BaseConnection(ABC):
    """What both twins share, with no I/O: handlers, early events, the open gate, what was received.

    The socket calls ``on_open``/``on_message``/``on_error``/``on_close`` on its loop; they
    become :class:`Event` objects here, in one place.
    """

    def __init__(self, multi: bool):
        self.multi = multi
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._socket: Socket | None = None
        self._lock = threading.Lock()  # handlers are registered and messages sent from any thread
        self._handlers: dict[str, list[Handler]] = {name: [] for name in EVENTS}
        self._early: dict[str, list[Event]] = {name: [] for name in EVENTS}
        self._held: list[dict[str, Any]] = []  # sent before the open handlers ran: they go after them
        self._gate_open = False  # the open handlers have run (or there were none)
        self._opening = False  # the dispatcher is running the open handlers
        self._ended = False  # the socket has closed: nothing more is sent
        self._events: queue.Queue[Event | None] | asyncio.Queue[Event | None]
        self._closed: threading.Event | asyncio.Event  # set at the close
        self._drained: threading.Event | asyncio.Event  # set once closed and every event delivered

    # --- the twins' delivery ----------------------------------------------------------------

    @abstractmethod
    def _enqueue(self, item: Event | None) -> None:
        """Hand an event to the dispatcher (``None`` wakes it to check for the end)."""

    @abstractmethod
    def _put(self, message: dict[str, Any]) -> None:
        """Hand a message to the socket, in order."""

    @abstractmethod
    def _in_dispatcher(self) -> bool:
        """Whether the caller is the dispatcher (a handler)."""

    @abstractmethod
    def _start_dispatcher(self) -> None:
        """Start delivering events (again, if a handler is registered after the end)."""

    # --- handlers -------------------------------------------------------------------------

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register a handler for "open", "message", "error" or "close" (also as a decorator).

        Events that came before a handler for them was registered are delivered to it now.
        """
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; use one of {', '.join(EVENTS)}")

        def register(fn: Handler) -> Handler:
            with self._lock:
                self._handlers[event].append(fn)
                early, self._early[event] = self._early[event], []
                if event == "open" and early:
                    self._gate_open = False  # what is sent from now on waits for this handler
                for item in early:
                    self._enqueue(item)
                if early and self._ended:  # registered after the end: deliver, then stop again
                    self._enqueue(None)
                    if self._drained.is_set():
                        self._start_dispatcher()
            return fn

        return register(handler) if handler is not None else register

    def _run_handlers(self, event: Event | None) -> Iterator[Awaitable[Any]]:
        """Run the handlers of one event in order, yielding what an async handler left to await."""
        if event is None:
            return
        with self._lock:
            self._opening = event.type == "open"
            handlers = list(self._handlers[event.type])
        for handler in handlers:
            pending = _call(handler, event)
            if pending is not None:
                yield pending
        if event.type == "open":
            with self._lock:
                self._opening = False
                self._release_held()

    def _handler_failed(self, event: Event | None) -> None:
        log.exception("%s handler failed", event.type if event else "event")

    def _finished(self) -> bool:
        """At a wake-up: stop once the socket has closed and every event is delivered."""
        with self._lock:
            if self._ended and self._events.empty():
                self._drained.set()
                return True
            return False

    # --- sending ---------------------------------------------------------------------------

    def _submit(self, message: Mapping[str, Any]) -> bool:
        """Send in the program's order; False (nothing sent) once the socket has closed."""
        message = dict(message)
        with self._lock:
            if self._ended:
                return False
            if self._gate_open or (self._opening and self._in_dispatcher()):
                self._put(message)
            else:
                self._held.append(message)
        return True

    def _release_held(self) -> None:
        """The open handlers have run: what was sent before them follows (lock held)."""
        self._gate_open = True
        held, self._held = self._held, []
        for message in held:
            self._put(message)

    async def _open(self, make_socket: SocketFactory) -> None:
        try:
            socket = await make_socket()
            socket.listeners.append(self)
            with self._lock:
                self._socket = socket  # set before "open" can fire: the gate hands messages to it
            await socket.open()
        except Exception as exc:  # noqa: BLE001 -- a failed connection is reported as events, not raised
            self.on_error(exc)
            self.on_close(None, str(exc))

    # --- the socket's listener callbacks ---------------------------------------------------------

    def _emit(self, event: Event) -> None:
        with self._lock:
            if self._handlers[event.type]:
                self._enqueue(event)
                return
            if len(self._early[event.type]) < MAX_EARLY_EVENTS:
                self._early[event.type].append(event)
            if event.type == "open":
                self._release_held()  # no open handler yet: nothing to wait for

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
        with self._lock:
            self._ended = True
            self._held.clear()
            self._enqueue(None)  # the dispatcher ends after delivering everything
        self._closed.set()

    # --- what was received --------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The socket has closed (or never opened)."""
        return self._ended

    def _track(self, context_id: str | None) -> Track:
        key = context_id if self.multi else None
        if self._socket is None or key not in self._socket.tracks:
            raise ElevenError(f"nothing received yet{' for context ' + repr(context_id) if context_id else ''}")
        return self._socket.tracks[key]

    @property
    def timeline(self) -> Timeline | None:
        """The absolute timeline received so far (stream-input; None on multi-stream-input)."""
        return self._socket.track(None).timeline if self._socket and not self.multi else None

    def timeline_of(self, context_id: str | None = None) -> Timeline:
        """The absolute timeline of one context (multi-stream-input), or of the stream."""
        return self._track(context_id).timeline

    def save(self, path: str | Path, context_id: str | None = None) -> Path:
        """Write the audio received (of one context, on multi-stream-input): ``.wav``, ``.mp3`` …"""
        written: Path = self._track(context_id).save(path)
        return written


class Connection(BaseConnection):
    """A WebSocket with event handlers, for plain code. Returned by ``connect_stream_input`` & co.

    Connecting returns at once; the socket opens on the background loop. Handlers run on a
    thread of their own, so sending from one is safe and a slow one never stalls the socket.
    """

    _events: queue.Queue[Event | None]
    _closed: threading.Event
    _drained: threading.Event

    def __init__(self, make_socket: SocketFactory, multi: bool):
        super().__init__(multi)
        self._events = queue.Queue()
        self._closed = threading.Event()
        self._drained = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self._awaiting_handler = False
        self._start_dispatcher()
        loop.submit(self._open(make_socket))

    def send(self, message: Mapping[str, Any]) -> bool:
        """Queue a JSON message; never blocks; safe from any thread. False once the socket has closed."""
        return self._submit(message)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the socket has closed and its handlers have run (or ``timeout`` s); True if so.

        The Ruby example's ``sleep(10)``, returning as soon as the connection is over.
        From inside a handler it waits only for the close.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._closed.wait(timeout):
            return False
        if self._in_dispatcher():
            return True
        return self._drained.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """:meth:`wait`, from async code (in a worker thread)."""
        return await asyncio.to_thread(self.wait, timeout)

    def close(self) -> None:
        """Close the socket now (pending audio is dropped)."""
        if self._socket is not None:
            loop.submit(self._socket.aclose())

    def _enqueue(self, item: Event | None) -> None:
        self._events.put_nowait(item)

    def _put(self, message: dict[str, Any]) -> None:
        assert self._socket is not None  # set before "open", and nothing is sent before "open"
        loop.background_loop().call_soon_threadsafe(self._socket.send_nowait, message)

    def _in_dispatcher(self) -> bool:
        if threading.current_thread() is self._dispatcher:
            return True
        return self._awaiting_handler and loop.in_background_thread()  # an async handler, on the loop

    def _start_dispatcher(self) -> None:
        self._drained.clear()
        self._dispatcher = threading.Thread(target=self._dispatch, name="eleven_nb-handlers", daemon=True)
        self._dispatcher.start()

    def _dispatch(self) -> None:
        while (event := self._events.get()) is not None or not self._finished():
            for pending in self._run_handlers(event):
                self._awaiting_handler = True  # an async handler: run it on the background loop
                try:
                    loop.run(_awaited(pending))
                except Exception:  # noqa: BLE001 -- one faulty handler must not silence the others
                    self._handler_failed(event)
                finally:
                    self._awaiting_handler = False


async def _awaited(pending: Awaitable[Any]) -> Any:
    return await pending


class AsyncConnection(BaseConnection):
    """A WebSocket with event handlers, on the running event loop (``await tts.connect_stream_input(...)``)."""

    _events: asyncio.Queue[Event | None]
    _closed: asyncio.Event
    _drained: asyncio.Event

    def __init__(self, multi: bool):
        super().__init__(multi)
        self._events = asyncio.Queue()
        self._closed = asyncio.Event()
        self._drained = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._start_dispatcher()

    async def send(self, message: Mapping[str, Any]) -> bool:
        """Queue a JSON message (order is kept). False, and nothing sent, once the socket has closed."""
        return self._submit(message)

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until the socket has closed and its handlers have run (or ``timeout`` s); True if so.

        From inside a handler it waits only for the close.
        """
        try:
            await asyncio.wait_for(self._closed.wait() if self._in_dispatcher() else self._until_drained(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    wait_closed = wait

    async def close(self) -> None:
        """Close the socket now (pending audio is dropped)."""
        if self._socket is not None:
            await self._socket.aclose()

    async def _until_drained(self) -> None:
        await self._closed.wait()
        await self._drained.wait()

    def _enqueue(self, item: Event | None) -> None:
        self._events.put_nowait(item)

    def _put(self, message: dict[str, Any]) -> None:
        assert self._socket is not None  # set before "open", and nothing is sent before "open"
        self._socket.send_nowait(message)

    def _in_dispatcher(self) -> bool:
        return asyncio.current_task() is self._dispatcher

    def _start_dispatcher(self) -> None:
        self._drained.clear()
        self._dispatcher = asyncio.create_task(self._dispatch(), name="eleven_nb-client-handlers")

    async def _dispatch(self) -> None:
        while (event := await self._events.get()) is not None or not self._finished():
            for pending in self._run_handlers(event):
                try:
                    await pending
                except Exception:  # noqa: BLE001 -- one faulty handler must not silence the others
                    self._handler_failed(event)
