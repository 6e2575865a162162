"""The Python client for the ElevenLabs text-to-speech WebSocket API (both endpoints).

One entry point, :class:`Client`, and three spellings of the same client:

- the async core: ``async with client.stream_input(voice_id, ...) as stream`` and
  ``client.multi_stream_input`` (:mod:`.streams`; sockets in :mod:`.socket`);
- its blocking twin for scripts: ``client.stream_input_sync`` / ``multi_stream_input_sync``
  (:mod:`.sync`, on one background event-loop thread per process, :mod:`.loop`);
- the Ruby gem's event-handler API: ``client.websocket_text_to_speech`` (blocking, :mod:`.gem`)
  and ``client.aio.websocket_text_to_speech`` (awaitable, :mod:`.gem_async`).

Every wire fact comes from :mod:`eleven_nb.protocol`; errors are in :mod:`.errors`.
"""
from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Mapping
from typing import Any

from .. import protocol
from ..protocol import ConnectionOptions, VoiceSettings
from .endpoint import Endpoint, EndpointChoice
from .errors import ConnectionClosedError, ElevenError, EndpointError, ServerError
from .gem import Connection, Event, WebsocketTextToSpeech
from .gem_async import AsyncConnection, AsyncWebsocketTextToSpeech
from .socket import Reconnect, Socket
from .streams import Context, MultiStreamInput, StreamInput, _Opened
from .sync import SyncMultiStreamInput, SyncOpened, SyncStreamInput
from .tracks import DEFAULT_MAX_BUFFERED_CHUNKS, MAX_QUEUED_CHUNKS, AudioChunk

__all__ = ["AsyncConnection", "AudioChunk", "Client", "Connection", "ConnectionClosedError", "Context", "ElevenError", "EndpointError", "Event",
           "MultiStreamInput", "Reconnect", "ServerError", "StreamInput"]

_OPTION_NAMES = tuple(ConnectionOptions.__dataclass_fields__)


def connection_options(options: Mapping[str, Any], *, reconnect: bool = False) -> ConnectionOptions:
    """Validate the connection options (the gem's ten) before connecting."""
    unknown = set(options) - set(_OPTION_NAMES)
    if unknown:
        raise ValueError(f"unknown connection option(s) {', '.join(sorted(unknown))}; "
                         f"the options are: {', '.join(_OPTION_NAMES)}")
    values = dict(options)
    if reconnect:
        values["sync_alignment"] = True  # what was spoken is judged by alignment on every chunk
    return ConnectionOptions(**values)


class Client:
    """Entry point. ``Client()`` picks the endpoint: the real service with ``ELEVENLABS_API_KEY``
    (or ``api_key=``), a server at ``ELEVEN_NB_BASE_URL`` (or ``base_url=``), else the embedded
    local server (started on first use).

    ``reconnect`` (``True`` or a :class:`Reconnect`) turns on automatic reconnection, which
    resends exactly the text not yet spoken. What was spoken is judged by the alignment, so
    reconnection turns ``sync_alignment`` on. ``keepalive`` sends keep-alives below the
    ``inactivity_timeout`` while a stream is idle. ``max_buffered_chunks`` bounds the audio kept
    in memory per stream, as in the gem's "Memory Management" (the oldest are dropped and
    counted); ``max_queued_chunks`` bounds the chunks waiting for an iterator.

    Three spellings of the same API: the async core (:meth:`stream_input`,
    :meth:`multi_stream_input`), its blocking twin for scripts (``*_sync``), and the gem's
    event-handler API, blocking in :attr:`websocket_text_to_speech` and awaitable in
    ``client.aio.websocket_text_to_speech``.
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 reconnect: bool | Reconnect = False, keepalive: bool = True,
                 max_buffered_chunks: int = DEFAULT_MAX_BUFFERED_CHUNKS,
                 max_queued_chunks: int = MAX_QUEUED_CHUNKS):
        self._api_key = api_key
        self._endpoints = EndpointChoice(api_key, base_url)
        self.reconnect = Reconnect() if reconnect is True else (reconnect or None)
        self.keepalive = keepalive
        if max_buffered_chunks < 1:
            raise ValueError("max_buffered_chunks must be at least 1")
        if max_queued_chunks < 1:
            raise ValueError("max_queued_chunks must be at least 1")
        self.max_buffered_chunks = max_buffered_chunks
        self.max_queued_chunks = max_queued_chunks
        self.websocket_text_to_speech = WebsocketTextToSpeech(self)
        self.aio = _Aio(AsyncWebsocketTextToSpeech(self))

    def __repr__(self) -> str:  # never the key
        resolved = self._endpoints.resolved
        where = resolved.describe() if resolved else "endpoint not resolved yet"
        return f"<eleven_nb.Client ({where}; key {'set' if self._api_key else 'from environment or none'})>"

    @property
    def endpoint_message(self) -> str:
        """One line saying which endpoint is in use (for a notebook to show); never the key."""
        return self.endpoint.describe()

    @property
    def endpoint(self) -> Endpoint:
        """The resolved endpoint (resolving starts the embedded server if that is the choice)."""
        return self._endpoints.current()

    # --- the async core ----------------------------------------------------------------------

    def _socket_factory(self, voice_id: str, endpoint_name: str, options: Mapping[str, Any], *,
                        reconnect: bool | Reconnect | None = None, decode: bool | None = None,
                        alignment: str = "chars", max_queued_chunks: int | None = None):
        """Validate everything now; return ``async make() -> Socket`` (unopened).

        The endpoint is resolved in a worker thread the first time, so starting the
        embedded server never blocks an event loop.
        """
        policy = self.reconnect if reconnect is None else (Reconnect() if reconnect is True else reconnect or None)
        conn = connection_options(options, reconnect=policy is not None)
        if alignment not in ("chars", "normalized"):
            raise ValueError(f"alignment must be 'chars' or 'normalized', not {alignment!r}")
        protocol.endpoint_path(voice_id, endpoint_name)  # validates the voice id

        async def make() -> Socket:
            choice = self._endpoints  # starting a server blocks: never on the event loop
            endpoint = await asyncio.to_thread(choice.current) if choice.may_block() else choice.current()
            return Socket(endpoint, voice_id, endpoint_name, conn, reconnect=policy, keepalive=self.keepalive,
                          decode=decode, use_normalized=alignment == "normalized",
                          max_buffered_chunks=self.max_buffered_chunks,
                          max_queued_chunks=max_queued_chunks or self.max_queued_chunks)

        return make

    def stream_input(self, voice_id: str = protocol.DEFAULT_VOICE_ID, *,
                     voice_settings: VoiceSettings | Mapping[str, Any] | None = None,
                     generation_config: Mapping[str, Any] | None = None, reconnect: bool | Reconnect | None = None,
                     decode: bool | None = None, alignment: str = "chars", **options: Any) -> _Opened:
        """``async with client.stream_input(voice_id, **options) as stream`` (see :class:`StreamInput`).

        ``options`` are the ten connection options (``model_id``, ``language_code``,
        ``enable_logging``, ``enable_ssml_parsing``, ``output_format``, ``inactivity_timeout``,
        ``sync_alignment``, ``auto_mode``, ``apply_text_normalization``, ``seed``), validated
        here: a bad value raises ``ValueError`` naming it. The first message (with
        ``voice_settings`` and ``generation_config``) is sent on entry. ``decode``: ``None``
        decodes ``chunk.pcm`` on first read, ``True`` as chunks arrive, ``False`` never (raw
        formats always). ``alignment="normalized"`` builds the timeline from ``normalizedAlignment``.
        """
        make = self._socket_factory(voice_id, protocol.STREAM_INPUT, options, reconnect=reconnect, decode=decode,
                                    alignment=alignment)
        first = protocol.initialize_connection(protocol.KEEP_ALIVE_TEXT, voice_settings, generation_config)
        return _Opened(make, StreamInput, first)

    def multi_stream_input(self, voice_id: str = protocol.DEFAULT_VOICE_ID, *,
                           reconnect: bool | Reconnect | None = None, decode: bool | None = None,
                           alignment: str = "chars", **options: Any) -> _Opened:
        """``async with client.multi_stream_input(voice_id, **options) as mux`` (see :class:`MultiStreamInput`)."""
        make = self._socket_factory(voice_id, protocol.MULTI_STREAM_INPUT, options, reconnect=reconnect,
                                    decode=decode, alignment=alignment)
        return _Opened(make, MultiStreamInput, None)

    # --- the same, for plain scripts (run on the background event loop) ----------------------

    def stream_input_sync(self, voice_id: str = protocol.DEFAULT_VOICE_ID, **kwargs: Any) -> SyncOpened:
        """``with client.stream_input_sync(voice_id, **options) as stream``: :meth:`stream_input` without async."""
        return SyncOpened(self.stream_input(voice_id, **kwargs), SyncStreamInput)

    def multi_stream_input_sync(self, voice_id: str = protocol.DEFAULT_VOICE_ID, **kwargs: Any) -> SyncOpened:
        """``with client.multi_stream_input_sync(voice_id) as mux``: :meth:`multi_stream_input` without async."""
        return SyncOpened(self.multi_stream_input(voice_id, **kwargs), SyncMultiStreamInput)

    # --- discovery -----------------------------------------------------------------------------

    def _get_json(self, path: str) -> Any:
        request = urllib.request.Request(self.endpoint.url(path), headers=self.endpoint.headers())
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except OSError as exc:
            raise EndpointError(f"GET {path} failed on {self.endpoint.http_url}: {exc}") from None

    def list_voices(self) -> list[dict[str, Any]]:
        """``GET /v1/voices``: the voices the endpoint offers."""
        return self._get_json("/v1/voices")["voices"]

    def list_models(self) -> list[dict[str, Any]]:
        """``GET /v1/models``."""
        return self._get_json("/v1/models")


class _Aio:
    """``client.aio``: the awaitable spelling of the gem API (``client.aio.websocket_text_to_speech``)."""

    def __init__(self, websocket_text_to_speech: AsyncWebsocketTextToSpeech):
        self.websocket_text_to_speech = websocket_text_to_speech
