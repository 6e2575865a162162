"""One client WebSocket: sending, the receive loop, keep-alive and reconnection.

Sending and receiving run at the same time: a writer task drains an ordered
outbox (so ``send`` can be called from any thread, even before the socket is
open) while a reader task routes each server message to its :class:`Track`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from .. import protocol
from ..protocol import ConnectionOptions, OutputFormat
from .endpoint import Endpoint
from .errors import ConnectionClosedError, ElevenError, ServerError
from .tracks import (
    DEFAULT_MAX_BUFFERED_CHUNKS,
    MAX_QUEUED_CHUNKS,
    AudioChunk,
    ChunkQueue,
    Track,
)

wire = logging.getLogger("eleven_nb.wire")
log = logging.getLogger("eleven_nb.client")

CONNECT_TIMEOUT = 30.0  # seconds for the WebSocket handshake (the stream itself has no time limit)
# close codes after which a reconnect can help (the connection broke or the server went away)
RECONNECTABLE = {1001, 1006, 1011, 1012, 1013, None}


def redact(message: dict[str, Any]) -> str:
    """A message for the debug log: keys hidden, audio shortened to its length."""
    shown = {k: ("***" if k in protocol.SECRET_FIELDS else v) for k, v in message.items()}
    if isinstance(shown.get("audio"), str):
        shown["audio"] = f"<{len(shown['audio'])} base64 chars>"
    return json.dumps(shown, ensure_ascii=False)


@dataclass(frozen=True)
class Reconnect:
    """Opt-in reconnection: up to ``max_attempts`` tries, backing off from ``base_delay``."""

    max_attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** attempt)


class Socket:
    """A stream-input or multi-stream-input connection and its tracks."""

    def __init__(self, endpoint: Endpoint, voice_id: str, endpoint_name: str, options: ConnectionOptions, *,
                 reconnect: Reconnect | None = None, keepalive: bool = True, decode: bool | None = None,
                 use_normalized: bool = False, max_buffered_chunks: int = DEFAULT_MAX_BUFFERED_CHUNKS,
                 max_queued_chunks: int = MAX_QUEUED_CHUNKS):
        self.endpoint = endpoint
        self.voice_id = voice_id
        self.multi = endpoint_name == protocol.MULTI_STREAM_INPUT
        self.options = options
        self.format: OutputFormat = protocol.parse_output_format(options.output_format)
        self.url = endpoint.ws_url(voice_id, endpoint_name, options.to_query())
        self.reconnect = reconnect
        self.keepalive = keepalive
        self.tracks: dict[str | None, Track] = {}
        self.all_chunks = None  # a ChunkQueue of every chunk (multi: iterating the socket)
        self.close_code: int | None = None
        self.close_reason = ""
        self.error: BaseException | None = None
        self.closed = asyncio.Event()
        self.listeners: list[Any] = []  # objects with on_open/on_message/on_error/on_close
        self._track_args = {"decode": decode, "use_normalized": use_normalized,
                            "max_buffered_chunks": max_buffered_chunks, "max_queued_chunks": max_queued_chunks}
        self._max_queued_chunks = max_queued_chunks
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._inflight: dict[str, Any] | None = None  # taken from the outbox, not yet written
        self._resent: set[int] = set()  # ids of messages a reconnect resends (not counted twice)
        self._loop = asyncio.get_running_loop()
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: list[asyncio.Task] = []
        self._last_send = self._loop.time()
        self._closing = False  # the user closed the socket: no reconnect, no keep-alive
        self._socket_closing = False  # close_socket was sent (multi)
        self._fatal: ServerError | None = None
        self.first_audio_ms: tuple[float, float] | None = None  # wall ms the first audio arrived, was decoded

    # --- life -----------------------------------------------------------------------------

    async def open(self) -> Socket:
        self.all_chunks = ChunkQueue(self._max_queued_chunks)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CONNECT_TIMEOUT))
        try:
            await self._connect()
        except BaseException:
            await self._session.close()
            raise
        self._tasks = [asyncio.create_task(self._run(), name="eleven_nb-client-socket")]
        if self.keepalive:
            self._tasks.append(asyncio.create_task(self._keep_alive(), name="eleven_nb-client-keepalive"))
        return self

    async def _connect(self, first: bool = True) -> None:
        try:
            self._ws = await self._session.ws_connect(self.url, headers=self.endpoint.headers(),
                                                      max_msg_size=protocol.CLIENT_MAX_FRAME)
        except aiohttp.WSServerHandshakeError as exc:
            raise ElevenError(f"the server refused the WebSocket ({exc.status}): {exc.message}") from None
        except aiohttp.ClientError as exc:
            raise ElevenError(f"cannot connect to {self.endpoint.http_url}: {exc}") from None
        if first:  # a reconnect is not a new "open": handlers would send their text again
            self._emit("on_open")

    @property
    def local_port(self) -> int | None:
        """This end's port: a local server's trace of the socket is keyed by it."""
        name = self._ws.get_extra_info("sockname") if self._ws is not None else None
        return int(name[1]) if name else None

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
        track = self.tracks.get(context_id)
        if track is None or (track.done and self.multi):  # a closed context id may be reused
            track = self.tracks[context_id] = Track(context_id, self.format, **self._track_args)
        return track

    def send_nowait(self, message: dict[str, Any]) -> None:
        """Queue a message (any thread may call this through the loop); order is kept."""
        self._mark(message)
        self._outbox.put_nowait(message)

    async def send(self, message: dict[str, Any]) -> None:
        if self.closed.is_set():
            raise self.error or ConnectionClosedError(self.close_code, self.close_reason)
        self.send_nowait(message)

    def _mark(self, message: dict[str, Any]) -> None:
        """Note, as a message is queued, what it asks for (end of stream, close, flush)."""
        if message.get("close_socket"):
            self._socket_closing = True
            return
        if self.multi and not protocol.context_id_of(message):
            return  # a socket-level keep-alive: no context
        track = self.track(protocol.context_id_of(message) if self.multi else None)
        if track.init_message is None:
            track.init_message = {k: v for k, v in message.items() if k != "text"} | {"text": " "}
        text = message.get("text")
        if message.get("flush"):
            track.flushed = True
        if message.get("close_context") or (not self.multi and text == "" and not message.get("flush")):
            track.closing = True

    def _account(self, message: dict[str, Any]) -> None:
        """Once a message is written: its content text counts as sent (reconnect resends from here)."""
        if id(message) in self._resent:
            self._resent.discard(id(message))  # already counted when first written
            return
        if self.multi and not protocol.context_id_of(message):
            return
        track = self.track(protocol.context_id_of(message) if self.multi else None)
        first, track.opened = not track.opened, True
        text = message.get("text")
        if isinstance(text, str) and protocol.is_text_content(text, first):
            track.sent_text += text

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            if self._inflight is None:
                self._inflight = await self._outbox.get()
            message = self._inflight
            wire.debug("send %s", redact(message))
            await ws.send_str(protocol.dumps(message))  # a failure leaves it in flight, for a resume
            self._account(message)
            self._inflight = None
            self._last_send = self._loop.time()
            track = self.tracks.get(protocol.context_id_of(message) if self.multi else None)
            if track is not None:
                track.last_sent = self._last_send

    # --- receiving ---------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            writer = asyncio.create_task(self._write(self._ws))
            try:
                reason = await self._read(self._ws)
            finally:
                writer.cancel()
            if not self._ws.closed:
                await self._ws.close()
            code = self._ws.close_code or 1006
            if self._should_reconnect(code) and attempt < self.reconnect.max_attempts:
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
            if self._session is not None:
                await self._session.close()  # connections without `async with` (the gem API) end here
            return

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> str:
        """Route messages until the socket closes; return the close reason."""
        while True:
            msg = await ws.receive()
            received = time.time()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return (msg.extra or "") if msg.type == aiohttp.WSMsgType.CLOSE else ""
            if msg.type == aiohttp.WSMsgType.ERROR:
                return str(msg.data)
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                raw = json.loads(msg.data)
                parsed = protocol.parse_server_message(raw)
            except (ValueError, TypeError) as exc:
                wire.debug("recv (unreadable) %r", msg.data[:200])
                self._emit("on_error", ElevenError(f"unreadable message from the server: {exc}"))
                continue
            wire.debug("recv %s", redact(raw))
            self._emit("on_message", msg.data, parsed)
            if parsed.error is not None:
                self._on_server_error(ServerError.from_protocol(parsed.error), parsed.context_id)
                continue
            if parsed.raw_type is not None and parsed.audio is None and not parsed.is_final:
                continue  # e.g. flush_done: nothing to play
            cid = parsed.context_id if self.multi else None
            chunk = self.track(cid).feed(parsed, raw)
            if self.first_audio_ms is None and parsed.audio:  # (a trace's stages; two clock reads)
                self.first_audio_ms = (received * 1000, time.time() * 1000)
            self.all_chunks.put(chunk)

    def _on_server_error(self, error: ServerError, context_id: str | None) -> None:
        self._emit("on_error", error)
        if self.multi and context_id is not None and context_id in self.tracks:
            track = self.tracks[context_id]
            track.finish(error)  # this context failed; the socket goes on
            self.all_chunks.put(AudioChunk(None, None, None, False, context_id, self.format, error=error))
        else:
            self._fatal = error

    def _should_reconnect(self, code: int | None) -> bool:
        if self.reconnect is None or self._closing or self._fatal is not None:
            return False
        return code in RECONNECTABLE and any(not t.done for t in self.tracks.values())

    async def _resume(self) -> None:
        """Open a new socket and resend, per unfinished track, exactly the unspoken text.

        Messages never written (in flight, or still queued) follow in their order;
        a close already written is repeated after the resent text.
        """
        await self._connect(first=False)
        pending = ([self._inflight] if self._inflight is not None else []) + [
            self._outbox.get_nowait() for _ in range(self._outbox.qsize())]
        fresh: asyncio.Queue = asyncio.Queue()
        for track in self.tracks.values():
            if track.done:
                continue
            cid = track.context_id if self.multi else None
            replay = [track.init_message] if track.init_message is not None else []
            rest = track.unspoken_text
            if rest:
                replay.append(protocol.send_text(rest, flush=track.flushed or track.closing, context_id=cid))
            for message in replay:
                self._resent.add(id(message))
                fresh.put_nowait(message)
            close = protocol.close_context(cid) if self.multi else protocol.close_connection()
            if track.closing and close not in pending:
                fresh.put_nowait(close)
        if self._socket_closing and protocol.close_socket() not in pending:
            pending.append(protocol.close_socket())
        for message in pending:
            fresh.put_nowait(message)
        self._inflight, self._outbox = None, fresh
        log.info("reconnected to %s; resent the unspoken text of %d stream(s)", self.endpoint.http_url,
                 sum(not t.done for t in self.tracks.values()))

    def _closed_with(self, code: int | None, reason: str) -> None:
        self.close_code = code
        self.close_reason = reason
        if self._fatal is not None:
            self.error = self._fatal
        elif code != 1000:
            self.error = ConnectionClosedError(code, reason)
        if self.error is not None and not isinstance(self.error, ServerError):
            self._emit("on_error", self.error)
        self._finish_all(self.error)
        self._emit("on_close", code, reason or (self._fatal.message if self._fatal else ""))
        self.closed.set()

    def _finish_all(self, error: BaseException | None) -> None:
        for track in self.tracks.values():
            if not track.done:
                # ended without its final: an error if the socket failed, else a plain end
                track.finish(error)
        if self.all_chunks is not None:
            self.all_chunks.end(error)
        self.closed.set()

    def _emit(self, name: str, *args: Any) -> None:
        for listener in list(self.listeners):
            handler: Callable | None = getattr(listener, name, None)
            if handler is not None:
                try:
                    handler(*args)
                except Exception:  # a faulty handler must not kill the receive loop
                    log.exception("event handler %s failed", name)

    # --- keep-alive -------------------------------------------------------------------------

    async def _keep_alive(self) -> None:
        """Below the inactivity timeout while idle: " " (stream-input), or per idle context ``""``
        with its id (multi-stream-input, where the server times each context out on its own)."""
        timeout = self.options.inactivity_timeout or protocol.DEFAULT_INACTIVITY_TIMEOUT
        interval = max(0.5, min(10.0, timeout / 2))
        while not self.closed.is_set():
            await asyncio.sleep(interval / 2)
            if self._closing or self._socket_closing:
                continue
            now = self._loop.time()
            if not self.multi:
                track = self.tracks.get(None)
                # not before the first message (it carries the settings), nor after the end of stream
                if track is not None and track.opened and not track.closing and now - self._last_send >= interval:
                    self._outbox.put_nowait(protocol.keep_alive())
                    self._last_send = now
                continue
            open_tracks = [t for cid, t in self.tracks.items() if cid and t.opened and not t.done and not t.closing]
            for track in open_tracks:
                if now - track.last_sent >= interval:
                    self._outbox.put_nowait(protocol.keep_alive(track.context_id))
                    track.last_sent = now
            if not open_tracks and now - self._last_send >= interval:
                self._outbox.put_nowait(protocol.keep_alive_socket())
                self._last_send = now
