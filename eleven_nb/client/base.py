"""What :class:`~eleven_nb.Client` and :class:`~eleven_nb.AsyncClient` share, with no I/O of its own.

Endpoint resolution, option validation, the socket factory and the discovery
requests live here once; the two clients add only their I/O paths (blocking on
the background loop, or awaited on the caller's loop), as httpx's
``BaseClient`` does for ``Client`` and ``AsyncClient``.
"""
from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from .. import protocol
from ..protocol import ConnectionOptions, VoiceSettings
from .endpoint import Endpoint, EndpointChoice
from .errors import EndpointError
from .socket import Reconnect, Socket
from .streams import AsyncMultiStreamInput, AsyncOpener, AsyncStreamInput, SocketFactory
from .tracks import DEFAULT_MAX_BUFFERED_CHUNKS, MAX_QUEUED_CHUNKS

S = TypeVar("S")  # what stream_input gives: an async opener, or its blocking twin
M = TypeVar("M")  # what multi_stream_input gives
Settings = VoiceSettings | Mapping[str, Any] | None

OPTION_NAMES = tuple(ConnectionOptions.__dataclass_fields__)
DISCOVERY_TIMEOUT = 30.0  # seconds for GET /v1/voices and /v1/models


def connection_options(options: Mapping[str, Any], *, reconnect: bool = False) -> ConnectionOptions:
    """Validate the ten connection options (``model_id`` … ``seed``) before connecting."""
    unknown = set(options) - set(OPTION_NAMES)
    if unknown:
        raise ValueError(f"unknown connection option(s) {', '.join(sorted(unknown))}; "
                         f"the options are: {', '.join(OPTION_NAMES)}")
    values = dict(options)
    if reconnect:
        values["sync_alignment"] = True  # what was spoken is judged by alignment on every chunk
    return ConnectionOptions(**values)


def reconnect_policy(reconnect: bool | Reconnect | None) -> Reconnect | None:
    """``True`` → the default :class:`Reconnect`; ``False``/``None`` → no reconnection."""
    return Reconnect() if reconnect is True else (reconnect or None)


class BaseClient(ABC, Generic[S, M]):
    """The options, endpoint and streams of a client. Use :class:`~eleven_nb.Client` or :class:`~eleven_nb.AsyncClient`.

    The endpoint: the real service with ``ELEVENLABS_API_KEY`` (or ``api_key=``), a server at
    ``ELEVEN_NB_BASE_URL`` (or ``base_url=``), else the embedded local server (started on first use).

    ``reconnect`` (``True`` or a :class:`Reconnect`) turns on automatic reconnection, which
    resends exactly the text not yet spoken; what was spoken is judged by the alignment, so it
    turns ``sync_alignment`` on. ``keepalive`` sends keep-alives below the ``inactivity_timeout``
    while a stream is idle. ``max_buffered_chunks`` bounds the audio kept in memory per stream
    (the oldest are dropped and counted); ``max_queued_chunks`` bounds the chunks waiting for an iterator.
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None, *,
                 reconnect: bool | Reconnect = False, keepalive: bool = True,
                 max_buffered_chunks: int = DEFAULT_MAX_BUFFERED_CHUNKS,
                 max_queued_chunks: int = MAX_QUEUED_CHUNKS):
        if max_buffered_chunks < 1:
            raise ValueError("max_buffered_chunks must be at least 1")
        if max_queued_chunks < 1:
            raise ValueError("max_queued_chunks must be at least 1")
        self._api_key = api_key
        self._endpoints = EndpointChoice(api_key, base_url)
        self.reconnect = reconnect_policy(reconnect)
        self.keepalive = keepalive
        self.max_buffered_chunks = max_buffered_chunks
        self.max_queued_chunks = max_queued_chunks

    def __repr__(self) -> str:  # never the key
        resolved = self._endpoints.resolved
        where = resolved.describe() if resolved else "endpoint not resolved yet"
        key = "set" if self._api_key else "from environment or none"
        return f"<eleven_nb.{type(self).__name__} ({where}; key {key})>"

    @property
    def endpoint(self) -> Endpoint:
        """The resolved endpoint (resolving starts, or finds, the local server if that is the choice)."""
        return self._endpoints.current()

    @property
    def resolved_endpoint(self) -> Endpoint | None:
        """The endpoint resolved last (after a reconnect, the one it reached), or None; never starts a server."""
        return self._endpoints.resolved

    def _resolve(self) -> Endpoint:
        return self.endpoint

    @property
    def endpoint_message(self) -> str:
        """One line saying which endpoint is in use (for a notebook to show); never the key."""
        return self.endpoint.describe()

    # --- sockets ---------------------------------------------------------------------------

    def _socket_factory(self, voice_id: str, endpoint_name: str, options: Mapping[str, Any], *,
                        reconnect: bool | Reconnect | None = None, decode: bool | None = None,
                        alignment: str = "chars") -> SocketFactory:
        """Validate everything now (a bad value raises ``ValueError`` naming it); return ``async make()``.

        ``make`` builds an unopened :class:`Socket` on the running loop. The endpoint is resolved
        in a worker thread the first time, so starting the embedded server never blocks a loop.
        On the embedded server the socket asks the choice again before a reconnect: the shared
        server may have died and been started anew elsewhere (the others never move).
        """
        policy = self.reconnect if reconnect is None else reconnect_policy(reconnect)
        conn = connection_options(options, reconnect=policy is not None)
        if alignment not in ("chars", "normalized"):
            raise ValueError(f"alignment must be 'chars' or 'normalized', not {alignment!r}")
        protocol.endpoint_path(voice_id, endpoint_name)  # validates the voice id

        async def make() -> Socket:
            choice = self._endpoints  # starting a server blocks: never on the event loop
            endpoint = await asyncio.to_thread(choice.current) if choice.may_block() else choice.current()
            source = choice.current if endpoint.kind == "embedded" else None
            return Socket(endpoint, voice_id, endpoint_name, conn, reconnect=policy, keepalive=self.keepalive,
                          decode=decode, use_normalized=alignment == "normalized", endpoint_source=source,
                          max_buffered_chunks=self.max_buffered_chunks, max_queued_chunks=self.max_queued_chunks)

        return make

    def stream_input(self, voice_id: str = protocol.DEFAULT_VOICE_ID, *, voice_settings: Settings = None,
                     generation_config: Mapping[str, Any] | None = None, reconnect: bool | Reconnect | None = None,
                     decode: bool | None = None, alignment: str = "chars", **options: Any) -> S:
        """A ``stream-input`` connection (one context).

        ``with`` on :class:`Client`, ``async with`` on :class:`AsyncClient`.

        ``options`` are the ten connection options (``model_id``, ``language_code``,
        ``enable_logging``, ``enable_ssml_parsing``, ``output_format``, ``inactivity_timeout``,
        ``sync_alignment``, ``auto_mode``, ``apply_text_normalization``, ``seed``), validated
        here: a bad value raises ``ValueError`` naming it. The first message (with
        ``voice_settings`` and ``generation_config``) is sent on entry. ``decode``: ``None``
        decodes ``chunk.pcm`` on first read, ``True`` as chunks arrive, ``False`` never (raw
        formats always). ``alignment="normalized"`` builds the timeline from ``normalizedAlignment``.
        ``reconnect`` overrides the client's setting for this stream.
        """
        make = self._socket_factory(voice_id, protocol.STREAM_INPUT, options, reconnect=reconnect, decode=decode,
                                    alignment=alignment)
        first = protocol.initialize_connection(protocol.KEEP_ALIVE_TEXT, voice_settings, generation_config)
        return self._stream(AsyncOpener(make, AsyncStreamInput, first))

    def multi_stream_input(self, voice_id: str = protocol.DEFAULT_VOICE_ID, *,
                           reconnect: bool | Reconnect | None = None, decode: bool | None = None,
                           alignment: str = "chars", **options: Any) -> M:
        """A ``multi-stream-input`` connection (up to five contexts): ``mux.context(id, voice_settings=...)``.

        Options as in :meth:`stream_input`; each context sends its own first message.
        """
        make = self._socket_factory(voice_id, protocol.MULTI_STREAM_INPUT, options, reconnect=reconnect,
                                    decode=decode, alignment=alignment)
        return self._multi(AsyncOpener(make, AsyncMultiStreamInput, None))

    @abstractmethod
    def _stream(self, opener: AsyncOpener[AsyncStreamInput]) -> S:
        """The twin's spelling of an opened stream-input (as is, or blocking)."""

    @abstractmethod
    def _multi(self, opener: AsyncOpener[AsyncMultiStreamInput]) -> M:
        """The twin's spelling of an opened multi-stream-input."""

    # --- discovery -------------------------------------------------------------------------

    def _discovery(self, path: str) -> tuple[str, dict[str, str]]:
        """The URL and headers of a discovery request (``/v1/voices``, ``/v1/models``)."""
        return self.endpoint.url(path), self.endpoint.headers()

    def _discovery_failed(self, path: str, exc: BaseException) -> EndpointError:
        return EndpointError(f"GET {path} failed on {self.endpoint.http_url}: {exc}")

    def _listing(self, path: str, body: bytes, key: str | None = None) -> list[dict[str, Any]]:
        """The list in a discovery answer (``{"voices": [...]}`` or ``[...]``), or a one-line error."""
        try:
            data = json.loads(body)
            items = data[key] if key is not None else data
        except (ValueError, KeyError, TypeError):
            items = None
        if not isinstance(items, list):
            raise EndpointError(f"GET {path} on {self.endpoint.http_url} did not answer with a list")
        return items
