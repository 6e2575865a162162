"""``client.websocket_text_to_speech``: the ElevenLabs Ruby client's WebSocket methods, in Python spelling.

Every example of that client's documentation translates line for line (see
:mod:`.handlers` for the connection and its events). The ``send_*`` methods are
written once: each builds its message and hands it to ``ws.send``, which sends
at once on a :class:`~.handlers.Connection` (blocking :class:`WebsocketTextToSpeech`,
returns a bool) and is awaited on an :class:`~.handlers.AsyncConnection`
(:class:`AsyncWebsocketTextToSpeech`, returns an awaitable bool). Only connecting
and the convenience method differ between the two.
"""
from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from .. import protocol
from ..protocol import VoiceSettings
from .handlers import AsyncConnection, Connection, Event

if TYPE_CHECKING:
    from .base import BaseClient

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

Settings = VoiceSettings | Mapping[str, Any] | None
OnChunk = Callable[[bytes, dict[str, Any]], Any]


class SupportsSend(Protocol[R_co]):
    """A connection: ``send(message)`` gives a bool (blocking) or an awaitable bool (async)."""

    def send(self, message: Mapping[str, Any]) -> R_co: ...


def chunk_handler(on_chunk: OnChunk) -> Callable[[Event], Any]:
    """A ``message`` handler calling ``on_chunk(audio_bytes, metadata)`` for each audio chunk."""

    def deliver(event: Event) -> Any:
        data = json.loads(event.data or "{}")
        if data.get("audio"):
            return on_chunk(base64.b64decode(data["audio"]), data)  # an awaitable is awaited by the dispatcher
        return None

    return deliver


class _Sends(Generic[R]):
    """The ``send_*`` methods, once for both twins."""

    def __init__(self, client: BaseClient[Any, Any]):
        self._client = client

    # single context
    def send_initialize_connection(self, ws: SupportsSend[R], text: str = " ", voice_settings: Settings = None,
                                   generation_config: Mapping[str, Any] | None = None, **extra: Any) -> R:
        """The first message: settings (and, as in the Ruby example, optionally ``xi_api_key``)."""
        return ws.send(protocol.initialize_connection(text, voice_settings, generation_config) | extra)

    def send_text(self, ws: SupportsSend[R], text: str, try_trigger_generation: bool = False,
                  flush: bool = False) -> R:
        """Text to speak (it should end with a space)."""
        return ws.send(protocol.send_text(text, try_trigger_generation=try_trigger_generation, flush=flush))

    def send_close_connection(self, ws: SupportsSend[R]) -> R:
        """End of stream: the rest is spoken, the final arrives, the server closes."""
        return ws.send(protocol.close_connection())

    # multi-context
    def send_initialize_connection_multi(self, ws: SupportsSend[R], context_id: str, text: str = " ",
                                         voice_settings: Settings = None,
                                         generation_config: Mapping[str, Any] | None = None) -> R:
        """Open a context: its first message carries its settings."""
        return ws.send(protocol.initialize_connection(text, voice_settings, generation_config, context_id=context_id))

    def send_text_multi(self, ws: SupportsSend[R], context_id: str, text: str, flush: bool = False) -> R:
        return ws.send(protocol.send_text(text, flush=flush, context_id=context_id))

    def send_flush_context(self, ws: SupportsSend[R], context_id: str) -> R:
        """Generate the context's buffered text now; no final, the context stays open."""
        return ws.send(protocol.flush_context(context_id))

    def send_close_context(self, ws: SupportsSend[R], context_id: str) -> R:
        """The rest of the context is spoken, then its final arrives."""
        return ws.send(protocol.close_context(context_id))

    def send_close_socket(self, ws: SupportsSend[R]) -> R:
        """Close every context (their rest is spoken, finals sent); the server then closes."""
        return ws.send(protocol.close_socket())


class WebsocketTextToSpeech(_Sends[bool]):
    """``Client().websocket_text_to_speech``: connections return at once; sends never block."""

    def connect_stream_input(self, voice_id: str, **options: Any) -> Connection:
        """Connect to ``stream-input``. Options: the ten query parameters (a bad one raises ValueError now)."""
        return Connection(self._client._socket_factory(voice_id, protocol.STREAM_INPUT, options), multi=False)

    def connect_multi_stream_input(self, voice_id: str, **options: Any) -> Connection:
        """Connect to ``multi-stream-input`` (up to five contexts on one socket)."""
        return Connection(self._client._socket_factory(voice_id, protocol.MULTI_STREAM_INPUT, options), multi=True)

    def stream_text_to_speech(self, voice_id: str, text_chunks: Iterable[str], voice_settings: Settings = None,
                              on_chunk: OnChunk | None = None, **options: Any) -> Connection:
        """Open, send the chunks, close; ``on_chunk(audio_bytes, metadata)`` for each audio chunk.

        Returns at once; ``ws.wait()`` for the end of the audio.
        """
        first = protocol.initialize_connection(protocol.KEEP_ALIVE_TEXT, voice_settings)  # validated before connecting
        ws = self.connect_stream_input(voice_id, **options)
        if on_chunk is not None:
            ws.on("message", chunk_handler(on_chunk))
        ws.send(first)
        for chunk in text_chunks:
            self.send_text(ws, chunk, try_trigger_generation=True)
        self.send_close_connection(ws)
        return ws


class AsyncWebsocketTextToSpeech(_Sends[Awaitable[bool]]):
    """``AsyncClient().websocket_text_to_speech``: the same methods, awaited; the socket is on your loop."""

    async def _connect(self, voice_id: str, endpoint: str, options: Mapping[str, Any]) -> AsyncConnection:
        make = self._client._socket_factory(voice_id, endpoint, options)  # validates before connecting
        ws = AsyncConnection(multi=endpoint == protocol.MULTI_STREAM_INPUT)
        await ws._open(make)  # a failure is reported as error and close events, not raised
        return ws

    async def connect_stream_input(self, voice_id: str, **options: Any) -> AsyncConnection:
        """Connect to ``stream-input``. Options: the ten query parameters (a bad one raises ValueError)."""
        return await self._connect(voice_id, protocol.STREAM_INPUT, options)

    async def connect_multi_stream_input(self, voice_id: str, **options: Any) -> AsyncConnection:
        """Connect to ``multi-stream-input`` (up to five contexts on one socket)."""
        return await self._connect(voice_id, protocol.MULTI_STREAM_INPUT, options)

    async def stream_text_to_speech(self, voice_id: str, text_chunks: Iterable[str] | AsyncIterable[str],
                                    voice_settings: Settings = None, on_chunk: OnChunk | None = None,
                                    **options: Any) -> AsyncConnection:
        """Open, send the chunks (an iterable, or an async iterable such as an LLM's tokens), close.

        ``on_chunk(audio_bytes, metadata)`` (a function or a coroutine function) is called for each
        audio chunk. Returns once everything is sent; ``await ws.wait()`` for the end of the audio.
        """
        first = protocol.initialize_connection(protocol.KEEP_ALIVE_TEXT, voice_settings)
        ws = await self.connect_stream_input(voice_id, **options)
        if on_chunk is not None:
            ws.on("message", chunk_handler(on_chunk))
        await ws.send(first)
        if isinstance(text_chunks, AsyncIterable):
            async for chunk in text_chunks:
                await self.send_text(ws, chunk, try_trigger_generation=True)
        else:
            for chunk in text_chunks:
                await self.send_text(ws, chunk, try_trigger_generation=True)
        await self.send_close_connection(ws)
        return ws
