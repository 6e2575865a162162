"""The Python client for the ElevenLabs text-to-speech WebSocket API (both endpoints).

Two twins, as in httpx and the official ElevenLabs SDK, with the same members:

- :class:`Client` for plain code: ``with client.stream_input(voice_id) as stream``,
  ``for chunk in stream`` (sockets on one background event-loop thread, :mod:`.loop`);
- :class:`AsyncClient` for async code: ``async with``, ``async for``, ``await``.

Each has ``stream_input`` and ``multi_stream_input`` (:mod:`.sync`, :mod:`.streams`),
``websocket_text_to_speech``, the event-handler API of the ElevenLabs Ruby client
(:mod:`.websocket_tts`, :mod:`.handlers`), and ``list_voices``/``list_models``.
What they share without I/O is in :mod:`.base`; sockets in :mod:`.socket`; errors in
:mod:`.errors`; every wire fact comes from :mod:`eleven_nb.protocol`.
"""
from __future__ import annotations

from .base import BaseClient
from .clients import AsyncClient, Client
from .errors import (
    ConnectionClosedError,
    ElevenError,
    EndpointError,
    InvalidServerMessageError,
    ServerError,
    TimeoutError,
)
from .handlers import AsyncConnection, Connection, Event
from .socket import Reconnect
from .streams import AsyncContext, AsyncMultiStreamInput, AsyncStreamInput
from .sync import Context, MultiStreamInput, StreamInput
from .tracks import AudioChunk
from .websocket_tts import AsyncWebsocketTextToSpeech, WebsocketTextToSpeech

__all__ = [
    "AsyncClient",
    "AsyncConnection",
    "AsyncContext",
    "AsyncMultiStreamInput",
    "AsyncStreamInput",
    "AsyncWebsocketTextToSpeech",
    "AudioChunk",
    "BaseClient",
    "Client",
    "Connection",
    "ConnectionClosedError",
    "Context",
    "ElevenError",
    "EndpointError",
    "InvalidServerMessageError",
    "Event",
    "MultiStreamInput",
    "Reconnect",
    "ServerError",
    "StreamInput",
    "TimeoutError",
    "WebsocketTextToSpeech",
]
