"""The two clients: :class:`Client` (blocking) and :class:`AsyncClient` (async), twins over :class:`~.base.BaseClient`.

    client = eleven_nb.Client()                       client = eleven_nb.AsyncClient()
    with client.stream_input(voice_id) as stream:     async with client.stream_input(voice_id) as stream:
        stream.send("Hello there! ")                      await stream.send("Hello there! ")
        stream.close()                                    await stream.close()
        for chunk in stream: ...                          async for chunk in stream: ...

Both have ``multi_stream_input``, ``websocket_text_to_speech`` (event handlers)
and ``list_voices``/``list_models``. They differ only in their I/O: the blocking
client runs every socket on one background event-loop thread per process (which
also keeps audio flowing while a notebook cell blocks); the async client runs on
your event loop.
"""
from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import aiohttp

from ..protocol import VoiceSettings
from .base import DISCOVERY_TIMEOUT, BaseClient
from .streams import AsyncMultiStreamInput, AsyncOpener, AsyncStreamInput
from .sync import MultiStreamInput, Opener, StreamInput
from .websocket_tts import AsyncWebsocketTextToSpeech, WebsocketTextToSpeech

Settings = VoiceSettings | Mapping[str, Any] | None


class AsyncClient(BaseClient[AsyncOpener[AsyncStreamInput], AsyncOpener[AsyncMultiStreamInput]]):
    """The client for async code (``async with``, ``async for``, ``await``). Options: see :class:`BaseClient`.

    - :meth:`stream_input` / :meth:`multi_stream_input`: streams you send text to and iterate for audio;
    - :attr:`websocket_text_to_speech`: the event-handler API (``await tts.connect_stream_input(...)``);
    - :meth:`list_voices` / :meth:`list_models`: what the endpoint offers.
    """

    @cached_property
    def websocket_text_to_speech(self) -> AsyncWebsocketTextToSpeech:
        """The event-handler API, awaited: ``ws = await client.websocket_text_to_speech.connect_stream_input(...)``."""
        return AsyncWebsocketTextToSpeech(self)

    def _stream(self, opener: AsyncOpener[AsyncStreamInput]) -> AsyncOpener[AsyncStreamInput]:
        return opener

    def _multi(self, opener: AsyncOpener[AsyncMultiStreamInput]) -> AsyncOpener[AsyncMultiStreamInput]:
        return opener

    async def list_voices(self) -> list[dict[str, Any]]:
        """``GET /v1/voices``: the voices the endpoint offers."""
        return self._listing("/v1/voices", await self._get("/v1/voices"), "voices")

    async def list_models(self) -> list[dict[str, Any]]:
        """``GET /v1/models``."""
        return self._listing("/v1/models", await self._get("/v1/models"))

    async def _get(self, path: str) -> bytes:
        await asyncio.to_thread(self._resolve)  # may start the embedded server: not on the loop
        url, headers = self._discovery(path)
        try:
            async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DISCOVERY_TIMEOUT)) as session,
                        session.get(url, headers=headers, raise_for_status=True) as response):
                return await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise self._discovery_failed(path, exc) from None


class Client(BaseClient[Opener[AsyncStreamInput, StreamInput], Opener[AsyncMultiStreamInput, MultiStreamInput]]):
    """The client for plain code (``with``, ``for``). Options: see :class:`BaseClient`.

    The same members as :class:`AsyncClient`, blocking: every socket runs on one
    background event-loop thread per process, and each call waits for its result.
    """

    @cached_property
    def websocket_text_to_speech(self) -> WebsocketTextToSpeech:
        """The event-handler API: ``ws = client.websocket_text_to_speech.connect_stream_input(...)``."""
        return WebsocketTextToSpeech(self)

    def _stream(self, opener: AsyncOpener[AsyncStreamInput]) -> Opener[AsyncStreamInput, StreamInput]:
        return Opener(opener, StreamInput)  # run on the background loop, wrapped in the blocking twin

    def _multi(self, opener: AsyncOpener[AsyncMultiStreamInput]) -> Opener[AsyncMultiStreamInput, MultiStreamInput]:
        return Opener(opener, MultiStreamInput)

    def list_voices(self) -> list[dict[str, Any]]:
        """``GET /v1/voices``: the voices the endpoint offers."""
        return self._listing("/v1/voices", self._get("/v1/voices"), "voices")

    def list_models(self) -> list[dict[str, Any]]:
        """``GET /v1/models``."""
        return self._listing("/v1/models", self._get("/v1/models"))

    def _get(self, path: str) -> bytes:
        url, headers = self._discovery(path)
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=DISCOVERY_TIMEOUT) as response:
                body: bytes = response.read()
                return body
        except OSError as exc:
            raise self._discovery_failed(path, exc) from None
