"""One WebSocket connection: reads client frames and drives its contexts.

Follows the behaviour contract of ``shared/protocol/PROTOCOL.md`` §9 for both
endpoints. Every error is a JSON error frame followed by a close with its code;
a bad frame ends only its own connection.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from .. import protocol
from ..protocol import ClientMessage, ProtocolError
from .auth import key_matches
from .context import Context
from .frames import Frame

if TYPE_CHECKING:
    from .state import ServerState, VoiceChoice

log = logging.getLogger(__name__)

DEFAULT_CONTEXT = "default"  # multi-stream-input: the context of a message without context_id


class Session:
    """The state of one socket on ``stream-input`` (``multi=False``) or ``multi-stream-input``."""

    def __init__(self, ws: web.WebSocketResponse, state: "ServerState", voice: "VoiceChoice",
                 options: protocol.ConnectionOptions, *, multi: bool, authenticated: bool):
        self.ws = ws
        self.state = state
        self.voice = voice
        self.options = options.effective()
        self.multi = multi
        self.authenticated = authenticated
        self.contexts: dict[str, Context] = {}  # open contexts (multi) or the one context (single)
        self._closing_contexts: set[Context] = set()  # closed by the client, still sending
        self._send_lock = asyncio.Lock()
        self._loop = asyncio.get_running_loop()
        self._last_message = self._loop.time()
        self._ending = False  # end of stream / close_socket received
        self._done = asyncio.Event()  # the connection is ending
        self._close_with: tuple[int, str] | None = None  # (code, reason) to close with

    # --- sending -------------------------------------------------------------------------

    async def _send(self, message: dict) -> None:
        async with self._send_lock:
            if not self.ws.closed:
                await self.ws.send_str(protocol.dumps(message))

    async def _send_frame(self, context: Context, frame: Frame) -> None:
        cid = context.id if self.multi else None
        await self._send(protocol.audio_message(frame.audio, frame.alignment, frame.alignment, cid))

    async def _send_final(self, context: Context) -> None:
        await self._send(protocol.final_message(context.id if self.multi else None))
        self._closing_contexts.discard(context)
        if self.contexts.get(context.id) is context:
            del self.contexts[context.id]
        if not self.multi or (self._ending and not self.contexts and not self._closing_contexts):
            await self._close(protocol.CLOSE_NORMAL)

    async def _context_failed(self, context: Context, exc: BaseException) -> None:
        error = exc if isinstance(exc, ProtocolError) else ProtocolError.of("generation_failed")
        if not self.multi:
            await self.fail(error)
            return
        # multi: the failing context ends with an error frame; the others go on
        self._closing_contexts.discard(context)
        if self.contexts.get(context.id) is context:
            del self.contexts[context.id]
        await self._send(error.to_message(context.id))
        if self._ending and not self.contexts and not self._closing_contexts:
            await self._close(protocol.CLOSE_NORMAL)

    async def fail(self, error: ProtocolError) -> None:
        """Send the error frame, then close with its code."""
        log.info("closing connection: %s (%s)", error.error, error.code)
        try:
            await self._send(error.to_message())
        except (ConnectionError, RuntimeError):
            pass
        await self._close(error.code, error.message)

    async def _close(self, code: int, reason: str = "") -> None:
        """Ask for the socket to close; :meth:`run`, which owns the socket, does it.

        (aiohttp's ``close()`` called from another task while ``receive()`` is
        pending drops the transport without waiting for the client's close
        frame, so clients would see 1006 instead of the code sent.)
        """
        if self._close_with is None:
            self._close_with = (code, reason)
        self._done.set()

    # --- the connection's life ------------------------------------------------------------

    async def run(self) -> None:
        watchdog = asyncio.create_task(self._watch_inactivity())
        done = asyncio.create_task(self._done.wait())
        try:
            while not self._done.is_set():
                receive = asyncio.ensure_future(self.ws.receive())
                await asyncio.wait((receive, done), return_when=asyncio.FIRST_COMPLETED)
                if not receive.done():
                    receive.cancel()  # a close was asked for: stop reading, then close below
                    break
                msg = receive.result()
                if self._ending and msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue  # after end of stream / close_socket, input is ignored (not even parsed)
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await self.fail(protocol.invalid("binary frames are not accepted; send JSON text frames"))
                else:  # the client closed, or an ERROR (aiohttp drops frames over its hard limit with 1009)
                    break
            if self._close_with is not None and not self.ws.closed:
                code, reason = self._close_with
                await self.ws.close(code=code, message=reason.encode()[:123])  # a reason is at most 123 bytes
        finally:
            done.cancel()
            watchdog.cancel()
            for context in [*self.contexts.values(), *self._closing_contexts]:
                context.task.cancel()  # the client left: stop its synthesis
            self._done.set()

    async def _on_text(self, data: str) -> None:
        self._last_message = self._loop.time()
        if len(data) > protocol.MAX_INPUT_FRAME:
            await self.fail(ProtocolError.of("message_too_big", limit=protocol.MAX_INPUT_FRAME))
            return
        try:
            message = protocol.parse_client_message(data)
            if not self.authenticated:
                self._authenticate(message)
            if self.multi:
                self._on_multi(message)
            else:
                self._on_single(message)
        except ProtocolError as error:
            await self.fail(error)

    def _authenticate(self, message: ClientMessage) -> None:
        key = message.api_key
        if key is None and message.authorization:
            key = message.authorization.removeprefix("Bearer ").strip()
        if key is None:
            raise ProtocolError.of("authentication_required")
        if not key_matches(key, self.state.api_keys):
            raise ProtocolError.of("invalid_api_key")
        self.authenticated = True

    # --- stream-input -------------------------------------------------------------------------

    def _on_single(self, message: ClientMessage) -> None:
        context = self.contexts.get(DEFAULT_CONTEXT)
        first = context is None
        if first:
            context = self.contexts[DEFAULT_CONTEXT] = self._open(None, message)
        else:
            self._check_settings(context, message)
        text = message.text
        if not text and not message.flush:  # "" (or no text at all): end of stream
            self._ending = True
            context.close()
        elif protocol.is_text_content(text, first):
            context.add_text(text, flush=message.flush, try_trigger=message.try_trigger_generation)
        elif message.flush:
            context.add_text("", flush=True)
        else:
            context.touch()  # the initial " "

    # --- multi-stream-input -------------------------------------------------------------------

    def _on_multi(self, message: ClientMessage) -> None:
        if message.close_socket:
            self._ending = True
            for context in list(self.contexts.values()):
                self._closing_contexts.add(context)
                context.close()
            self.contexts.clear()
            if not self._closing_contexts:
                asyncio.ensure_future(self._close(protocol.CLOSE_NORMAL))
            return
        if message.context_id is None and message.text == "" and not message.flush:
            return  # a context-less keep-alive: the socket timer was reset above
        cid = message.context_id or DEFAULT_CONTEXT
        context = self.contexts.get(cid)
        first = context is None
        if first:
            if message.close_context:
                return  # closing an unknown context is a no-op
            if len(self.contexts) >= protocol.MAX_CONTEXTS:
                raise ProtocolError.of("max_active_conversations", context_id=cid)
            context = self.contexts[cid] = self._open(cid, message)
        else:
            self._check_settings(context, message)
        if protocol.is_text_content(message.text, first):
            context.add_text(message.text, flush=message.flush, try_trigger=message.try_trigger_generation)
        elif message.flush:
            context.add_text("", flush=True)
        else:
            context.touch()  # {"text": "", "context_id": …}: keep the context alive
        if message.close_context:
            del self.contexts[cid]
            self._closing_contexts.add(context)
            context.close()

    # --- shared --------------------------------------------------------------------------------

    def _open(self, cid: str | None, message: ClientMessage) -> Context:
        return Context(
            cid,
            state=self.state,
            voice=self.voice,
            options=self.options,
            voice_settings=message.voice_settings,
            schedule=message.chunk_length_schedule,
            send_frame=self._send_frame,
            send_final=self._send_final,
            failed=self._context_failed,
        )

    @staticmethod
    def _check_settings(context: Context, message: ClientMessage) -> None:
        """voice_settings belong to the first message: later ones must be absent or equal."""
        if message.has_voice_settings and message.voice_settings != context.voice_settings:
            raise ProtocolError.of("voice_settings_changed", context_id=context.id)

    async def _watch_inactivity(self) -> None:
        """Enforce ``inactivity_timeout``; idle time only counts while nothing is generating."""
        timeout = float(self.options.inactivity_timeout)
        while not self._done.is_set():
            now = self._loop.time()
            deadline = self._last_message + timeout
            if self.multi:
                for context in list(self.contexts.values()):
                    if context.idle and now >= context.last_activity + timeout:
                        # a context left idle is closed with its final; the socket stays
                        del self.contexts[context.id]
                        self._closing_contexts.add(context)
                        context.close()
                    elif context.idle:
                        deadline = min(deadline, context.last_activity + timeout)
                socket_idle = not self.contexts and not self._closing_contexts
            else:
                context = self.contexts.get(DEFAULT_CONTEXT)
                socket_idle = context is None or context.idle
                if context is not None:
                    deadline = max(deadline, context.last_activity + timeout)
            if socket_idle and not self._ending and now >= deadline:
                await self.fail(ProtocolError.of("input_timeout_exceeded", timeout=timeout))
                return
            await asyncio.sleep(max(0.05, min(deadline - now, 1.0)) if deadline > now else 0.25)

