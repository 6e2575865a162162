"""One client WebSocket: the aiohttp driver of :class:`~eleven_nb.protocol.client.ClientConnection`.

The connection object holds every protocol rule; this module moves frames and wakes
up on time, with three tasks: a reader routing frames to :class:`Track` objects, a
writer draining the connection's frames (``send`` works from any thread, even before
the socket is open), and a timer for its deadlines. Every wait is bounded; every
failure ends the socket with a typed error that iterators and ``wait()`` raise.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from .. import protocol
from ..protocol import ConnectionOptions, OutputFormat
from ..protocol import client as pc
from .dial import CONNECT_TIMEOUT, HEARTBEAT, dial
from .endpoint import Endpoint
from .errors import ConnectionClosedError, ElevenError, InvalidServerMessageError, ServerError
from .errors import TimeoutError as ClientTimeoutError
from .reconnect import RECONNECTABLE, Reconnect
from .tracks import DEFAULT_MAX_BUFFERED_CHUNKS as MAX_BUFFERED
from .tracks import MAX_QUEUED_CHUNKS as MAX_QUEUED
from .tracks import AudioChunk, ChunkQueue, Delivery, Track
from .wirelog import redact, wire

log = logging.getLogger("eleven_nb.client")

CLOSE_GRACE = 5.0  # after an error frame, how long the server has to close before the client does


class Socket:
    """A stream-input or multi-stream-input connection and its tracks (docs/client-internals.md).

    Memory: a queue keeps at most ``max_buffered_chunks`` for a reader who has not started; the
    socket-wide and per-context queues are alternatives; with ``listeners`` neither fills unless
    ``queue_chunks=True``; raw JSON only with ``keep_raw``. Pacing: :meth:`send` waits while a
    context has ``window`` characters sent but not yet spoken; :meth:`send_nowait` never waits.
    ``endpoint_source`` (the client's endpoint choice) is asked again before each reconnect: the
    local voice server may have been restarted on another port, with another key.
    """

    def __init__(self, endpoint: Endpoint, voice_id: str, endpoint_name: str, options: ConnectionOptions, *,
                 reconnect: Reconnect | None = None, keepalive: bool = True, decode: bool | None = None,
                 use_normalized: bool = False, max_buffered_chunks: int = MAX_BUFFERED,
                 max_queued_chunks: int = MAX_QUEUED, keep_raw: bool = False,
                 queue_chunks: bool | None = None, window: int | None = pc.WINDOW_CHARS,
                 receive_timeout: float | None = pc.RECEIVE_TIMEOUT, connect_timeout: float = CONNECT_TIMEOUT,
                 heartbeat: float | None = HEARTBEAT, endpoint_source: Callable[[], Endpoint] | None = None):
        self.endpoint = endpoint
        self.endpoint_source = endpoint_source
        self.voice_id = voice_id
        self.endpoint_name = endpoint_name
        self.multi = endpoint_name == protocol.MULTI_STREAM_INPUT
        self.options = options
        self.format: OutputFormat = protocol.parse_output_format(options.output_format)
        self.url = endpoint.ws_url(voice_id, endpoint_name, options.to_query())
        self.reconnect = reconnect
        self.keepalive = keepalive
        self.queue_chunks = queue_chunks
        self.connect_timeout = connect_timeout
        self.heartbeat = heartbeat
        self.tracks: dict[str | None, Track] = {}
        # every chunk, in arrival order (iterating a multi-stream-input socket)
        self.all_chunks = ChunkQueue(max_queued_chunks, max_buffered_chunks)
        self._delivery = Delivery(self.all_chunks, self.tracks, self.multi,
                                  lambda: self.queue_chunks if self.queue_chunks is not None else not self.listeners)
        self.close_code: int | None = None
        self.close_reason = ""
        self.error: BaseException | None = None
        self.closed = asyncio.Event()
        self.listeners: list[Any] = []  # objects with on_open/on_message/on_error/on_close
        self._track_args: dict[str, Any] = {"decode": decode, "use_normalized": use_normalized, "keep_raw": keep_raw,
                            "max_buffered_chunks": max_buffered_chunks, "max_queued_chunks": max_queued_chunks}
        self._loop = asyncio.get_running_loop()
        inactivity = options.inactivity_timeout or protocol.DEFAULT_INACTIVITY_TIMEOUT
        self.connection = pc.ClientConnection(
            self.multi, keepalive_interval=pc.keep_alive_interval(inactivity) if keepalive else None,
            window=window, receive_timeout=receive_timeout, now=self._loop.time())
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: list[asyncio.Task] = []
        self._writer_wake = asyncio.Event()
        self._timer_wake = asyncio.Event()
        self._progress = asyncio.Event()  # pulsed on every frame received and at the end (pacing)
        self._abort = asyncio.Event()  # the connection failed on the client's side: stop reading
        self._closing = False  # the user closed the socket: no reconnect
        self._fatal: ElevenError | None = None  # the error the socket ends with, whatever the close code
        self.first_audio_ms: tuple[float, float] | None = None  # wall ms: first audio received, decoded (a trace)
        self._lost: ElevenError | None = None  # why the last connection dropped, if the client knows
        self._local_close: int | None = None  # close code the client must send (a corrupt frame)

    # --- life -----------------------------------------------------------------------------

    async def open(self) -> Socket:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.connect_timeout))
        try:
            await self._connect()
        except BaseException:
            await self._session.close()
            raise
        self._tasks = [asyncio.create_task(self._run(), name="eleven_nb-client-socket"),
                       asyncio.create_task(self._tick(), name="eleven_nb-client-timer")]
        return self

    async def _connect(self, first: bool = True) -> None:
        assert self._session is not None
        if not first and self.endpoint_source is not None:  # starting a new local server blocks: off the loop
            self.endpoint = await asyncio.to_thread(self.endpoint_source)
            self.url = self.endpoint.ws_url(self.voice_id, self.endpoint_name, self.options.to_query())
        self._ws = await dial(self._session, self.endpoint, self.url, heartbeat=self.heartbeat,
                              connect_timeout=self.connect_timeout)
        if first:  # a reconnect is not a new "open": handlers would send their text again
            self._emit("on_open")

    @property
    def local_port(self) -> int | None:  # a local server's trace of this socket is keyed by it
        return int(self._ws.get_extra_info("sockname")[1]) if self._ws is not None else None

    async def aclose(self) -> None:
        """Close the socket now (without waiting for pending audio) and release everything."""
        self._closing = True
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        self._finish_all(None)

    async def wait_closed(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    # --- sending -------------------------------------------------------------------------------

    def track(self, context_id: str | None) -> Track:
        """The track of a context (``None`` on stream-input); a finished multi context id starts anew."""
        key = context_id if self.multi else None
        self.connection.context(key)
        return self._track_of(key)

    def _track_of(self, key: str | None) -> Track:
        state = self.connection.contexts[key]
        track = self.tracks.get(key)
        if track is None or track.state is not state:
            track = self.tracks[key] = Track(key, self.format, state=state,
                                             on_first_read=self._delivery.context_read_started, **self._track_args)
        return track

    def send_nowait(self, message: dict[str, Any]) -> None:
        """Queue a message (any thread may call this through the loop); order is kept.

        Never waits: text beyond the pacing window is held by the connection and goes
        out as the alignment shows the earlier text spoken. After the end, it is dropped.
        """
        if self.connection.send(message):
            key = protocol.context_id_of(message) if self.multi else None
            if key is not None or not self.multi:
                self._track_of(key)
            self._writer_wake.set()
            self._timer_wake.set()

    async def send(self, message: dict[str, Any]) -> None:
        """Queue a message, first waiting while its context's unspoken text fills the window."""
        self._raise_if_closed()
        while not self.connection.may_send(message):
            await self._progress.wait()  # bounded: the receive deadline ends a silent connection
            self._raise_if_closed()
        self.send_nowait(message)

    def _raise_if_closed(self) -> None:
        if self.closed.is_set():
            raise self.error or ConnectionClosedError(self.close_code, self.close_reason)

    def _pulse_progress(self) -> None:
        self._progress.set()
        self._progress.clear()

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            self._writer_wake.clear()
            message = self.connection.next_frame()
            if message is None:
                await self._writer_wake.wait()
                continue
            wire.debug("send %s", redact(message))
            try:
                await ws.send_str(protocol.dumps(message))
            except (ConnectionError, aiohttp.ClientError):
                return  # the connection broke: the reader sees the close; the message stays in flight
            self.connection.frame_written(self._loop.time())
            self._timer_wake.set()

    # --- receiving ---------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._serve()
        except Exception as exc:  # any bug or surprise: end the socket with it, never hang a reader
            log.exception("the client's receive loop failed")
            if self._fatal is None:
                self._fatal = ElevenError(f"the client's receive loop failed: {type(exc).__name__}: {exc}")
                self._fatal.__cause__ = exc
            if self._ws is not None and not self._ws.closed:
                await self._ws.close(code=protocol.CLOSE_INTERNAL)
            self._closed_with(self._ws.close_code if self._ws is not None else None, str(self._fatal))
            if self._session is not None:
                await self._session.close()

    async def _serve(self) -> None:
        assert self._ws is not None and self._session is not None
        attempt = 0
        while True:
            reason = await self._lifetime(self._ws)
            if not self._ws.closed:
                await self._ws.close(code=self._local_close or 1000)
            code = self._ws.close_code or 1006
            if self._should_reconnect(code) and self.reconnect is not None and attempt < self.reconnect.max_attempts:
                self.connection.connection_lost()
                await asyncio.sleep(self.reconnect.delay(attempt))
                attempt += 1
                try:
                    await self._resume()
                    continue
                except ElevenError as exc:
                    log.warning("reconnect attempt %d failed: %s", attempt, exc)
                    if attempt < self.reconnect.max_attempts:
                        continue
            self._closed_with(code, reason)
            await self._session.close()  # connections without `async with` (the event-handler API) end here
            return

    async def _lifetime(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        """Read and write on one connection until it ends; return the close reason."""
        reader = asyncio.create_task(self._read(ws))
        writer = asyncio.create_task(self._write(ws))
        abort = asyncio.create_task(self._abort.wait())
        pending: set[asyncio.Task] = {reader, writer, abort}
        try:
            while reader in pending and abort in pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if writer in done:
                    writer.result()  # a broken connection just ends it; anything else is raised
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        return reader.result() if reader.done() and not reader.cancelled() else str(self._fatal or "")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        """Route frames until the socket closes; return the close reason."""
        while True:
            try:  # after an error frame the server closes; if it does not, the client does
                msg = await ws.receive(CLOSE_GRACE if self._fatal is not None else None)
            except asyncio.TimeoutError:
                return "the server did not close after its error"
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return (msg.extra or "") if msg.type == aiohttp.WSMsgType.CLOSE else ""
            if msg.type == aiohttp.WSMsgType.ERROR:
                if isinstance(msg.data, asyncio.TimeoutError):  # the heartbeat's pong never came
                    self._lost = ClientTimeoutError(f"the server stopped answering pings ({msg.data})", self.heartbeat)
                return str(msg.data)
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            self._on_frame(msg.data)
            if self._local_close is not None:
                await ws.close(code=self._local_close, message=str(self._fatal).encode()[:120])
                return str(self._fatal)

    def _on_frame(self, data: str) -> None:
        self._received_ms = time.time() * 1000
        events = self.connection.receive_text(data, self._loop.time())
        for event in events:
            message = getattr(event, "message", None)
            if message is not None:
                if wire.isEnabledFor(logging.DEBUG):
                    wire.debug("recv %s", redact(json.loads(data)))
                self._emit("on_message", data, message)
            else:
                wire.debug("recv (corrupt) %r", data[:200])
            self._handle(event, data)
        self._pulse_progress()
        self._writer_wake.set()
        self._timer_wake.set()

    def _handle(self, event: pc.ClientEvent, data: str | None = None) -> None:
        if isinstance(event, (pc.AudioReceived, pc.FinalReceived)):
            track = self._track_of(event.context_id)
            raw = json.loads(data) if self._track_args["keep_raw"] and data is not None else None
            self._delivery.deliver(track, track.feed(event.message, raw))
            if self.first_audio_ms is None and isinstance(event, pc.AudioReceived):
                self.first_audio_ms = (self._received_ms, time.time() * 1000)
        elif isinstance(event, pc.ErrorReceived):
            self._on_error_event(event)
        elif isinstance(event, pc.TimedOut):
            self._fatal = ClientTimeoutError(f"the server sent nothing for {event.seconds:g} s while the client "
                                             f"waited for {event.awaited}", event.seconds)
            self._local_close = pc.CLOSE_TIMEOUT
            self._end_readers(self._fatal)  # readers need not wait for the closing handshake
            self._abort.set()

    def _on_error_event(self, event: pc.ErrorReceived) -> None:
        if event.message is None:  # a corrupt frame: the client ends the connection
            self._fatal = InvalidServerMessageError(event.error.message, event.error.code)
            self._local_close = pc.CLOSE_PROTOCOL_ERROR
            self._end_readers(self._fatal)
            return
        error = ServerError.from_protocol(event.error)
        self._emit("on_error", error)
        track = self.tracks.get(event.context_id) if event.context_id is not None else None
        if track is None:
            self._fatal = error  # the server closes next
        elif not track.done:
            track.finish(error)  # this context failed; the socket goes on
            self._delivery.deliver(track, AudioChunk(None, None, None, False, event.context_id, self.format,
                                                     error=error), to_track=False)

    # --- time -----------------------------------------------------------------------------------

    async def _tick(self) -> None:
        """Sleep until the connection's next deadline (or a change), then let it act."""
        while not self.closed.is_set():
            self._timer_wake.clear()
            deadline = self.connection.next_deadline()
            delay = None if deadline is None else deadline - self._loop.time()
            if delay is None or delay > 0:  # asyncio.wait, not wait_for: wait_for may swallow a cancel
                waiter = asyncio.ensure_future(self._timer_wake.wait())
                try:
                    await asyncio.wait({waiter}, timeout=delay)
                finally:
                    waiter.cancel()
            for event in self.connection.tick(self._loop.time()):
                self._handle(event)
            self._writer_wake.set()

    # --- the end, and reconnecting ----------------------------------------------------------

    def _should_reconnect(self, code: int | None) -> bool:
        if self.reconnect is None or self._closing or self._fatal is not None:
            return False
        return code in RECONNECTABLE and any(not c.done for c in self.connection.contexts.values())

    async def _resume(self) -> None:
        """Open a new socket; the connection resends, per unfinished context, exactly the unspoken text."""
        await self._connect(first=False)
        self._lost = None
        resumed = self.connection.resume(self._loop.time())
        self._writer_wake.set()
        self._timer_wake.set()
        log.info("reconnected to %s; resent the unspoken text of %d stream(s)", self.endpoint.http_url, resumed)

    def _closed_with(self, code: int | None, reason: str) -> None:
        self.close_code = code
        self.close_reason = reason
        if self._fatal is not None:
            self.error = self._fatal
        elif code != 1000:
            self.error = self._lost or ConnectionClosedError(code, reason)
        if self.error is not None and not isinstance(self.error, ServerError):
            self._emit("on_error", self.error)
        self._finish_all(self.error)
        self._emit("on_close", code, reason or getattr(self._fatal, "message", ""))

    def _end_readers(self, error: BaseException | None) -> None:
        for track in self.tracks.values():
            if not track.done:
                # ended without its final: an error if the socket failed, else a plain end
                track.finish(error)
        self.all_chunks.end(error)

    def _finish_all(self, error: BaseException | None) -> None:
        self.connection.closed()
        self._end_readers(error)
        self.closed.set()
        self._pulse_progress()
        self._timer_wake.set()

    def _emit(self, name: str, *args: Any) -> None:
        for listener in list(self.listeners):
            handler: Callable | None = getattr(listener, name, None)
            if handler is not None:
                try:
                    handler(*args)
                except Exception:  # a faulty handler must not kill the receive loop
                    log.exception("event handler %s failed", name)
