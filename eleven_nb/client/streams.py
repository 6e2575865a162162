"""The async core: ``stream_input`` (one context) and ``multi_stream_input`` (several).

    client = eleven_nb.AsyncClient()
    async with client.stream_input(voice_id, sync_alignment=True) as stream:
        await stream.send("Hello there! ")
        await stream.close()
        async for chunk in stream: ...

    async with client.multi_stream_input(voice_id) as mux:
        one = await mux.context("speaker_1", voice_settings={"stability": 0.5})
        await one.send("Hello, I'm speaker one. "); await one.close()
        async for chunk in one: ...
        await mux.close_socket()

:class:`TrackView` (what is received: timeline, audio, counters) has no I/O; the
blocking twins in :mod:`.sync` share it and wrap only the I/O paths.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from .. import protocol
from ..alignment import Timeline
from ..protocol import VoiceSettings
from .socket import Socket
from .tracks import AudioChunk, Track, wait_hinting

log = logging.getLogger("eleven_nb.client")
T = TypeVar("T")
SocketFactory = Callable[[], Awaitable[Socket]]  # builds an unopened socket on the running loop


class TrackView:
    """What a stream or a context has received: timeline, audio, counters (no I/O, shared by both twins)."""

    _track: Track

    @property
    def timeline(self) -> Timeline:
        """The absolute timeline of everything received so far."""
        return self._track.timeline

    @property
    def done(self) -> bool:
        """The final message arrived (or the stream ended with an error)."""
        return self._track.done

    @property
    def unspoken_text(self) -> str:
        """Text sent but not yet spoken (not covered by the alignment received)."""
        return self._track.unspoken_text

    @property
    def dropped_chunks(self) -> int:
        """Audio chunks no longer kept in memory (``max_buffered_chunks``)."""
        return self._track.dropped_audio_chunks

    @property
    def dropped_queued_chunks(self) -> int:
        """Chunks dropped because nobody iterated fast enough (``max_queued_chunks``)."""
        return self._track.queue.dropped

    def audio(self) -> bytes:
        """The audio received (the chunks kept in memory), in the output format."""
        return self._track.audio_bytes()

    def save(self, path: str | Path) -> Path:
        """Write the audio received: ``.wav``, ``.mp3``, ``.ogg``, ``.pcm``, ``.ulaw`` …"""
        written: Path = self._track.save(path)
        return written


class _AsyncTrack(TrackView):
    """Async iteration and waiting, for a stream or a context.

    ``stall_hints``: a reader that has waited :data:`~.tracks.STALL_HINT_S` for audio that
    nothing will bring (text held below the server's chunk schedule, a stream not closed) is
    told why in a warning on the ``eleven_nb.client`` logger.
    """

    _socket: Socket
    stall_hints = True

    def __aiter__(self) -> _AsyncTrack:
        return self

    async def __anext__(self) -> AudioChunk:
        return await self._track.queue.get(self._note_stall if self.stall_hints else None)  # no timer when off

    async def wait(self, timeout: float | None = None) -> None:
        """Wait for the final message; raise the stream's error if it failed."""
        await wait_hinting(self._track.final, self._note_stall, timeout)
        if self._track.error is not None:
            raise self._track.error

    def _note_stall(self, waited: float) -> None:
        if self.stall_hints:
            warn_if_stalled(self._socket, waited, [self._track.context_id])


class AsyncStreamInput(_AsyncTrack):
    """A ``stream-input`` connection (one context), in async code."""

    def __init__(self, socket: Socket):
        self._socket = socket
        self._track = socket.track(None)

    async def send(self, text: str, *, flush: bool = False, try_trigger_generation: bool = False) -> None:
        """Send text (it should end with a space)."""
        await self._socket.send(protocol.send_text(text, try_trigger_generation=try_trigger_generation,
                                                   flush=flush))

    async def flush(self) -> None:
        """Generate everything buffered now; the stream stays open (no final).

        Sends ``{"text": " ", "flush": true}`` as ElevenLabs' guide does (the space is text too).
        """
        await self._socket.send(protocol.send_text(protocol.KEEP_ALIVE_TEXT, flush=True))

    async def keep_alive(self) -> None:
        await self._socket.send(protocol.keep_alive())

    async def close(self) -> None:
        """End of stream: the server speaks the rest, sends the final and closes."""
        if not self._track.closing:
            await self._socket.send(protocol.close_connection())

    @property
    def close_code(self) -> int | None:
        return self._socket.close_code


class AsyncContext(_AsyncTrack):
    """One context of a ``multi-stream-input`` connection, in async code."""

    def __init__(self, socket: Socket, context_id: str):
        self._socket = socket
        self.context_id = context_id
        self._track = socket.track(context_id)

    async def send(self, text: str, *, flush: bool = False) -> None:
        await self._socket.send(protocol.send_text(text, flush=flush, context_id=self.context_id))

    async def flush(self) -> None:
        """Generate this context's buffered text; no final is sent, the context stays open."""
        await self._socket.send(protocol.flush_context(self.context_id))

    async def keep_alive(self) -> None:
        await self._socket.send(protocol.keep_alive(self.context_id))

    async def close(self) -> None:
        """close_context: the rest is spoken, then this context's final arrives."""
        if not self._track.closing:
            await self._socket.send(protocol.close_context(self.context_id))


class AsyncMultiStreamInput:
    """A ``multi-stream-input`` connection: up to five contexts on one socket, in async code.

    ``stall_hints`` as on a stream: iterating every context's chunks warns when none is owed.
    """

    stall_hints = True

    def __init__(self, socket: Socket):
        self._socket = socket
        self.contexts: dict[str, AsyncContext] = {}

    async def context(self, context_id: str, *, voice_settings: VoiceSettings | Mapping[str, Any] | None = None,
                      generation_config: Mapping[str, Any] | None = None, text: str = " ") -> AsyncContext:
        """Open a context (its first message carries its settings) and return it."""
        context = AsyncContext(self._socket, context_id)
        self.contexts[context_id] = context
        await self._socket.send(protocol.initialize_connection(text, voice_settings, generation_config,
                                                               context_id=context_id))
        return context

    async def close_socket(self) -> None:
        """Close every context (their rest is spoken, finals sent); the server then closes."""
        await self._socket.send(protocol.close_socket())

    def __aiter__(self) -> AsyncMultiStreamInput:
        return self

    async def __anext__(self) -> AudioChunk:
        """Every chunk of every context, in arrival order, until the socket closes."""
        assert self._socket.all_chunks is not None  # made when the socket opens
        return await self._socket.all_chunks.get(self._note_stall if self.stall_hints else None)

    def _note_stall(self, waited: float) -> None:
        if not self.stall_hints:
            return
        open_ = [k for k, c in self._socket.connection.contexts.items() if k is not None and not c.done]
        if open_ or self._socket.connection.socket_closing or self._socket.closed.is_set():
            warn_if_stalled(self._socket, waited, open_)  # stalled only if every open context is
        elif self._socket.connection.contexts:
            log.warning("no audio for %.0f s: every context has ended; close_socket() ends the socket "
                        "and this iteration", waited)
        else:
            log.warning("no audio for %.0f s: no context is open; open one with context(...)", waited)

    async def wait_closed(self, timeout: float | None = None) -> bool:
        return await self._socket.wait_closed(timeout)

    @property
    def close_code(self) -> int | None:
        return self._socket.close_code


def warn_if_stalled(socket: Socket, waited: float, context_ids: Sequence[str | None]) -> None:
    """A reader has waited ``waited`` s: if none of these contexts is owed audio, say what would bring it."""
    reasons = [socket.connection.silence_reason(k) for k in context_ids]
    if reasons and all(reasons):
        log.warning("no audio for %.0f s: %s", waited, "; ".join(r for r in reasons if r))


class AsyncOpener(Generic[T]):
    """``async with``: open the socket (and send the first message) on enter, close it on exit."""

    def __init__(self, make_socket: SocketFactory, wrap: Callable[[Socket], T], first_message: dict[str, Any] | None):
        self._make_socket = make_socket
        self._wrap = wrap
        self._first = first_message
        self._socket: Socket | None = None

    async def __aenter__(self) -> T:
        self._socket = await (await self._make_socket()).open()
        if self._first is not None:
            await self._socket.send(self._first)
        return self._wrap(self._socket)

    async def __aexit__(self, *exc: object) -> None:
        if self._socket is not None:
            await self._socket.aclose()

    def __enter__(self) -> None:
        raise TypeError("this is the async client: use `async with`, or eleven_nb.Client for a plain `with`")

    def __exit__(self, *exc: object) -> None:
        return None
