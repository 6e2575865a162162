"""One WebSocket connection: the aiohttp driver of a :class:`~eleven_nb.protocol.server.ServerConnection`.

It feeds the protocol what the socket receives and the time, runs the
protocol's events (a :class:`~.context.ContextWorker` per context), tells the
protocol what the workers made, sends what the protocol wants sent and closes
when it says so. Every rule lives in the protocol; this module only does I/O.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from .. import protocol
from ..protocol import ProtocolError
from ..protocol.server import (
    ContextClosing,
    ContextOpened,
    Failed,
    Generate,
    ServerConfig,
    ServerConnection,
    ServerEvent,
)
from .context import ContextWorker
from .engines.base import SynthesisSettings
from .frames import Frame, FrameBuilder, Spoken
from .synthesis import spoken_function
from .memory import trim_memory
from .tracing import FRAME_SENT, note_text, socket_trace
from .state import ServerState, VoiceChoice

log = logging.getLogger(__name__)

SEND_TIMEOUT = 10.0  # seconds a frame may wait for a client that stopped reading; then the socket is dropped
LARGE_FRAME = 64 << 10  # characters: a frame this big is parsed and buffered in the pool, off the event loop
LARGE_BUFFER = 8192  # characters held: past this, each frame's buffering runs in the pool
LARGE_ALIGNMENT = 4096  # characters of timing: a frame carrying more is serialised in the pool


@dataclass(frozen=True)
class SessionSetup:
    """What a session needs from the server: its voice, pool, encoders and limits (not the whole state)."""

    voice: VoiceChoice
    options: protocol.ConnectionOptions
    pool: Executor
    encoder_factory: Callable[..., Any]  # (OutputFormat, engine rate) -> an Encoder
    spoken: Spoken | None = None

    @classmethod
    def of(cls, state: ServerState, voice: VoiceChoice, options: protocol.ConnectionOptions) -> SessionSetup:
        effective = options.effective()
        spoken = spoken_function(effective.apply_text_normalization or "auto", bool(effective.enable_ssml_parsing))
        return cls(voice, effective, state.pool, state.encoder_factory, spoken)


class Session:
    """The state of one socket on ``stream-input`` or ``multi-stream-input``."""

    def __init__(self, ws: web.WebSocketResponse, setup: SessionSetup, config: ServerConfig,
                 transport: asyncio.Transport | None = None):
        self.ws = ws
        self.setup = setup
        self._loop = asyncio.get_running_loop()
        self.conn = ServerConnection(config, self._loop.time())
        self._transport = transport
        self._workers: dict[int, ContextWorker] = {}
        self._lock = asyncio.Lock()  # one caller of the protocol at a time (a big frame is fed from the pool)
        self._send_lock = asyncio.Lock()
        self._wake = asyncio.Event()  # the protocol wants to close
        self.trace = socket_trace(transport)  # stage times, with ELEVEN_NB_TRACE=1 (else a no-op)

    # --- reading ------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._read()
            code, reason = self.conn.close or (protocol.CLOSE_NORMAL, "")
            if not self.ws.closed:
                async with asyncio.timeout(SEND_TIMEOUT):  # (3.11's wait_for can swallow a cancellation)
                    await self.ws.close(code=code, message=reason.encode())
        except (asyncio.TimeoutError, ConnectionError):
            self._drop()
        finally:
            for worker in self._workers.values():
                worker.cancel()  # the socket is gone: stop its synthesis
            self._workers.clear()
            self._loop.run_in_executor(None, trim_memory)  # the contexts' buffers go back to the system

    async def _read(self) -> None:
        receive: asyncio.Future[object] | None = None  # kept across deadlines: no frame is ever lost
        try:
            while self.conn.close is None:
                deadline = self.conn.next_deadline()
                timeout = None if deadline is None else max(0.0, deadline - self._loop.time())
                receive = receive or asyncio.ensure_future(self.ws.receive())
                wake = asyncio.ensure_future(self._wake.wait())
                done, _ = await asyncio.wait((receive, wake), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                wake.cancel()
                if receive not in done:  # a close was asked for, or a deadline passed
                    async with self._lock:
                        self.conn.tick(self._loop.time())
                    await self._flush()
                    continue
                msg, receive = receive.result(), None
                if msg.type == WSMsgType.TEXT:  # type: ignore[attr-defined]
                    note_text(self.trace, msg.data)  # type: ignore[attr-defined]
                    await self._feed(msg.data)  # type: ignore[attr-defined]
                elif msg.type == WSMsgType.BINARY:  # type: ignore[attr-defined]
                    self.conn.receive_binary()
                else:  # the client closed, or an ERROR (aiohttp drops frames over its hard limit with 1009)
                    self.conn.receive_close()
                await self._flush()
        finally:
            if receive is not None:
                # close() while a receive() is pending drops the transport without waiting for the
                # client's close frame (clients would see 1006): stop reading first
                receive.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await receive

    async def _feed(self, data: str) -> None:
        async with self._lock:
            if len(data) > LARGE_FRAME or self.conn.chars_held > LARGE_BUFFER:  # chunking work grows with both
                await self._loop.run_in_executor(self.setup.pool, self.conn.receive_text,  # type: ignore[arg-type]
                                                 data, self._loop.time())
            else:
                self.conn.receive_text(data, self._loop.time())

    # --- events and sending ------------------------------------------------------------------

    async def _flush(self) -> None:
        """Run the protocol's events, then send its frames (and wake the reader to close)."""
        async with self._lock:
            events, data = self.conn.events(), self.conn.data_to_send()
        for event in events:
            self._run_event(event)
        if data:
            try:
                async with self._send_lock:
                    for text in data:
                        if self.ws.closed:
                            break
                        async with asyncio.timeout(SEND_TIMEOUT):
                            await self.ws.send_str(text)
            except asyncio.TimeoutError:
                log.info("dropping a client that stopped reading for %.0f s", SEND_TIMEOUT)
                self._drop()
            except ConnectionError:
                self._drop()
        if self.conn.close is not None:
            self._wake.set()

    def _run_event(self, event: ServerEvent) -> None:
        if isinstance(event, ContextOpened):
            self._workers[event.ref] = self._worker(event)
        elif isinstance(event, Generate):
            self._workers[event.ref].generate(event.text)
        elif isinstance(event, ContextClosing):
            self._workers[event.ref].close()
        elif isinstance(event, Failed):
            log.info("closing connection: %s (%s)", event.error.error, event.error.code)

    def _worker(self, event: ContextOpened) -> ContextWorker:
        setup, engine = self.setup, self.setup.voice.engine
        builder = FrameBuilder(
            setup.encoder_factory(protocol.parse_output_format(setup.options.output_format), engine.sample_rate),
            engine.sample_rate, bool(setup.options.sync_alignment), spoken=setup.spoken)
        vs = event.voice_settings or protocol.VoiceSettings()
        settings = SynthesisSettings(speed=vs.get("speed"), stability=vs.get("stability"), seed=setup.options.seed)
        return ContextWorker(event.ref, engine=engine, engine_voice_id=setup.voice.engine_voice_id,
                             settings=settings, builder=builder, pool=setup.pool,  # type: ignore[arg-type]
                             reports=self, phonemes=bool(setup.options.enable_ssml_parsing), trace=self.trace)

    def _drop(self) -> None:
        """Abort the transport: the client cannot be waited for."""
        if self.conn.close is None:
            self.conn.receive_close()
        if self._transport is not None:
            self._transport.abort()
        self._wake.set()

    # --- reports from the workers (the Reports protocol) ---------------------------------------

    async def frame(self, ref: int, frame: Frame) -> None:
        async with self._lock:
            if frame.alignment is not None and len(frame.alignment) > LARGE_ALIGNMENT:  # JSON of a long timing
                await self._loop.run_in_executor(self.setup.pool, self.conn.audio,  # type: ignore[arg-type]
                                                 ref, frame.audio, frame.alignment, frame.normalized)
            else:
                self.conn.audio(ref, frame.audio, frame.alignment, frame.normalized)
        if frame.audio:
            self.trace.mark(FRAME_SENT)  # as it is handed to the socket (the client may read it before we resume)
        await self._flush()

    async def generation_done(self, ref: int) -> None:
        async with self._lock:
            self.conn.generation_done(ref, self._loop.time())
        await self._flush()

    async def context_done(self, ref: int) -> None:
        async with self._lock:
            self.conn.context_done(ref)
            self._workers.pop(ref, None)
        await self._flush()
        # a socket may live for a whole conversation: give a finished context's memory back now
        self._loop.run_in_executor(None, trim_memory, False)

    async def context_failed(self, ref: int, error: ProtocolError | None = None) -> None:
        async with self._lock:
            self.conn.context_failed(ref, error)
            self._workers.pop(ref, None)
        await self._flush()
