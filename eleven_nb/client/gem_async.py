"""The gem's ``websocket_text_to_speech`` API for async code: ``client.aio.websocket_text_to_speech``.

The same calls as :mod:`.gem`, each awaited. The socket lives on the caller's
event loop (no background thread). Handlers may be plain functions or
coroutine functions; they run one at a time, in order, in a task of their own,
so a handler may await sends and a slow handler never stalls the socket::

    tts = client.aio.websocket_text_to_speech
    ws = await tts.connect_stream_input(voice_id, sync_alignment=True)

    @ws.on("open")
    async def opened(event):
        await tts.send_initialize_connection(ws, text=" ")
        await tts.send_text(ws, "Hello there! ")
        await tts.send_close_connection(ws)

    @ws.on("message")
    def message(event):
        data = json.loads(event.data)

    await ws.wait(10)    # the gem's `sleep(10)`

As in the blocking API, events that happen before a handler for them is
registered (``open`` always does: connecting is awaited) are kept and
delivered when it is; a failed connection is reported as ``error`` and
``close`` events, not raised.
"""
from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import threading
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import (
    TYPE_CHECKING,
    Any,
)

from .. import protocol
from .gem import EVENTS, MAX_EARLY_EVENTS, Event, _Received
from .socket import Socket

if TYPE_CHECKING:
    from . import Client

log = logging.getLogger("eleven_nb.client")

Handler = Callable[[Event], Any]


class AsyncConnection(_Received):
    """A WebSocket with gem-style handlers, on the running event loop."""

    def __init__(self, multi: bool):
        self.multi = multi
        self._handlers: dict[str, list[Handler]] = {name: [] for name in EVENTS}
        self._early: dict[str, list[Event]] = {name: [] for name in EVENTS}
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._lock = threading.Lock()  # registration is shared with the threaded connection
        self._closed = asyncio.Event()
        self._socket: Socket | None = None
        self._drained = asyncio.Event()  # closed, and every event delivered
        self._dispatcher: asyncio.Task | None = None
        self._start_dispatcher()
        self.close_code: int | None = None
        self.close_reason: str | None = None

    # --- the gem's surface ---------------------------------------------------------------

    def _enqueue(self, item: Event | None) -> None:
        self._events.put_nowait(item)

    async def send(self, message: Mapping[str, Any]) -> bool:
        """Queue a JSON message (order is kept). False, and nothing sent, once the socket has closed."""
        if self._closed.is_set() or self._socket is None:
            return False
        self._socket.send_nowait(dict(message))
        return True

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until the socket has closed and its handlers have run (or ``timeout`` s); True if so.

        From inside a handler it waits only for the close.
        """
        inside = asyncio.current_task() is self._dispatcher
        try:
            await asyncio.wait_for(self._closed.wait() if inside else self._until_drained(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def _until_drained(self) -> None:
        await self._closed.wait()
        await self._drained.wait()

    wait_closed = wait

    async def close(self) -> None:
        """Close the socket now (pending audio is dropped)."""
        if self._socket is not None:
            await self._socket.aclose()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()


    # --- plumbing -----------------------------------------------------------------------------

    async def _open(self, make_socket: Callable[[], Awaitable[Socket]]) -> None:
        try:
            socket = await make_socket()
            socket.listeners.append(self)
            self._socket = socket  # sends queue up until the socket is open
            await socket.open()
        except Exception as exc:
            self.on_error(exc)
            self.on_close(None, str(exc))

    def _emit(self, event: Event) -> None:
        if not self._handlers[event.type]:
            early = self._early[event.type]
            if len(early) < MAX_EARLY_EVENTS:
                early.append(event)
            return
        self._events.put_nowait(event)

    def _start_dispatcher(self) -> None:
        self._drained.clear()
        self._dispatcher = asyncio.create_task(self._dispatch(), name="eleven_nb-client-handlers")

    async def _dispatch(self) -> None:
        while True:
            event = await self._events.get()
            if event is None:  # a wake-up: stop once closed and everything is delivered
                if self._closed.is_set() and self._events.empty():
                    self._drained.set()
                    return
                continue
            for handler in list(self._handlers[event.type]):
                try:
                    result = handler(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception:  # one faulty handler must not silence the others
                    log.exception("%s handler failed", event.type)

    def _after_close(self) -> None:
        self._closed.set()
        self._events.put_nowait(None)  # the dispatcher ends after delivering everything


class AsyncWebsocketTextToSpeech:
    """``client.aio.websocket_text_to_speech``: the gem's methods, awaitable."""

    def __init__(self, client: Client):
        self._client = client

    async def _connect(self, voice_id: str, endpoint: str, options: Mapping[str, Any]) -> AsyncConnection:
        make = self._client._socket_factory(voice_id, endpoint, options)  # validates before connecting
        ws = AsyncConnection(multi=endpoint == protocol.MULTI_STREAM_INPUT)
        await ws._open(make)
        return ws

    # connections
    async def connect_stream_input(self, voice_id: str, **options: Any) -> AsyncConnection:
        """Connect to ``stream-input``. Options: the ten query parameters (a bad one raises ValueError)."""
        return await self._connect(voice_id, protocol.STREAM_INPUT, options)

    async def connect_multi_stream_input(self, voice_id: str, **options: Any) -> AsyncConnection:
        """Connect to ``multi-stream-input``."""
        return await self._connect(voice_id, protocol.MULTI_STREAM_INPUT, options)

    # single context
    async def send_initialize_connection(self, ws: AsyncConnection, text: str = " ", voice_settings=None,
                                         generation_config=None, **extra: Any) -> bool:
        return await ws.send(protocol.initialize_connection(text, voice_settings, generation_config) | extra)

    async def send_text(self, ws: AsyncConnection, text: str, try_trigger_generation: bool = False,
                        flush: bool = False) -> bool:
        return await ws.send(protocol.send_text(text, try_trigger_generation=try_trigger_generation, flush=flush))

    async def send_close_connection(self, ws: AsyncConnection) -> bool:
        return await ws.send(protocol.close_connection())

    async def stream_text_to_speech(self, voice_id: str, text_chunks: Iterable[str] | AsyncIterable[str],
                                    voice_settings=None, on_chunk: Callable[[bytes, dict], Any] | None = None,
                                    **options: Any) -> AsyncConnection:
        """Open, send the chunks (an iterable or an async iterable, e.g. LLM tokens), close.

        ``on_chunk(audio_bytes, metadata)`` (a function or a coroutine function)
        is called for each audio chunk. Returns once everything is sent; ``await ws.wait()``
        for the end of the audio.
        """
        ws = await self.connect_stream_input(voice_id, **options)
        if on_chunk is not None:
            @ws.on("message")
            async def deliver(event: Event) -> None:
                data = json.loads(event.data)
                if data.get("audio"):
                    result = on_chunk(base64.b64decode(data["audio"]), data)
                    if inspect.isawaitable(result):
                        await result

        await self.send_initialize_connection(ws, voice_settings=voice_settings)
        if isinstance(text_chunks, AsyncIterable):
            async for chunk in text_chunks:
                await self.send_text(ws, chunk, try_trigger_generation=True)
        else:
            for chunk in text_chunks:
                await self.send_text(ws, chunk, try_trigger_generation=True)
        await self.send_close_connection(ws)
        return ws

    # multi-context
    async def send_initialize_connection_multi(self, ws: AsyncConnection, context_id: str, text: str = " ",
                                               voice_settings=None, generation_config=None) -> bool:
        return await ws.send(protocol.initialize_connection(text, voice_settings, generation_config,
                                                            context_id=context_id))

    async def send_text_multi(self, ws: AsyncConnection, context_id: str, text: str, flush: bool = False) -> bool:
        return await ws.send(protocol.send_text(text, flush=flush, context_id=context_id))

    async def send_flush_context(self, ws: AsyncConnection, context_id: str) -> bool:
        return await ws.send(protocol.flush_context(context_id))

    async def send_close_context(self, ws: AsyncConnection, context_id: str) -> bool:
        return await ws.send(protocol.close_context(context_id))

    async def send_close_socket(self, ws: AsyncConnection) -> bool:
        return await ws.send(protocol.close_socket())
