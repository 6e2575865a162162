"""The blocking twins of the async core, for plain scripts: ``eleven_nb.Client().stream_input(...)``.

    client = eleven_nb.Client()
    with client.stream_input(voice_id, sync_alignment=True) as stream:
        stream.send("Hello there! ")
        stream.close()
        for chunk in stream: ...

The sockets live on one background event-loop thread per process (:mod:`.loop`);
each I/O call runs the async twin's coroutine there and waits for it. What was
received (timeline, audio, counters) is read through the same I/O-free
:class:`~.streams.TrackView` as in async code. Every member is written out, so
IDEs and type checkers see them.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from ..protocol import VoiceSettings
from . import loop
from .streams import (
    AsyncContext,
    AsyncMultiStreamInput,
    AsyncOpener,
    AsyncStreamInput,
    TrackView,
)
from .tracks import AudioChunk

T = TypeVar("T")
A = TypeVar("A")


async def _next(source: AsyncIterator[AudioChunk]) -> AudioChunk:
    return await source.__anext__()


def _blocking(source: AsyncIterator[AudioChunk]) -> Iterator[AudioChunk]:
    """Iterate an async iterator of chunks from plain code, one chunk at a time."""
    while True:
        try:
            yield loop.run(_next(source))
        except StopAsyncIteration:
            return


class _StallHints:
    """``stall_hints``, kept on the async twin (which does the waiting)."""

    _inner: AsyncStreamInput | AsyncContext | AsyncMultiStreamInput

    @property
    def stall_hints(self) -> bool:
        """Warn when a reader waits for audio that nothing will bring (see the async twin)."""
        return self._inner.stall_hints

    @stall_hints.setter
    def stall_hints(self, on: bool) -> None:
        self._inner.stall_hints = on


class _BlockingTrack(TrackView, _StallHints):
    """Blocking iteration and control of a stream or a context."""

    _inner: AsyncStreamInput | AsyncContext

    def __iter__(self) -> Iterator[AudioChunk]:
        """The chunks as they arrive, until the final one (raises the stream's error if it failed)."""
        return _blocking(self._inner)

    def flush(self) -> None:
        """Generate the text buffered so far; no final is sent, the stream or context stays open."""
        loop.run(self._inner.flush())

    def keep_alive(self) -> None:
        """Reset the server's inactivity timer (the client does this by itself with ``keepalive=True``)."""
        loop.run(self._inner.keep_alive())

    def close(self) -> None:
        """End of stream (or close_context): the rest is spoken, then the final arrives."""
        loop.run(self._inner.close())

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the final message; raise the error if the stream or context failed."""
        loop.run(self._inner.wait(timeout))


class StreamInput(_BlockingTrack):
    """A ``stream-input`` connection (one context), blocking."""

    _inner: AsyncStreamInput

    def __init__(self, inner: AsyncStreamInput):
        self._inner = inner
        self._track = inner._track

    def send(self, text: str, *, flush: bool = False, try_trigger_generation: bool = False) -> None:
        """Send text (it should end with a space)."""
        loop.run(self._inner.send(text, flush=flush, try_trigger_generation=try_trigger_generation))

    @property
    def close_code(self) -> int | None:
        return self._inner.close_code


class Context(_BlockingTrack):
    """One context of a ``multi-stream-input`` connection, blocking."""

    _inner: AsyncContext

    def __init__(self, inner: AsyncContext):
        self._inner = inner
        self._track = inner._track
        self.context_id = inner.context_id

    def send(self, text: str, *, flush: bool = False) -> None:
        """Send text to this context (it should end with a space)."""
        loop.run(self._inner.send(text, flush=flush))


class MultiStreamInput(_StallHints):
    """A ``multi-stream-input`` connection: up to five contexts on one socket, blocking."""

    _inner: AsyncMultiStreamInput

    def __init__(self, inner: AsyncMultiStreamInput):
        self._inner = inner
        self.contexts: dict[str, Context] = {}

    def context(self, context_id: str, *, voice_settings: VoiceSettings | Mapping[str, Any] | None = None,
                generation_config: Mapping[str, Any] | None = None, text: str = " ") -> Context:
        """Open a context (its first message carries its settings) and return it."""
        context = Context(loop.run(self._inner.context(context_id, voice_settings=voice_settings,
                                                       generation_config=generation_config, text=text)))
        self.contexts[context_id] = context
        return context

    def close_socket(self) -> None:
        """Close every context (their rest is spoken, finals sent); the server then closes."""
        loop.run(self._inner.close_socket())

    def __iter__(self) -> Iterator[AudioChunk]:
        """Every chunk of every context, in arrival order, until the socket closes."""
        return _blocking(self._inner)

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the socket has closed (or ``timeout`` s); True if it has."""
        return loop.run(self._inner.wait_closed(timeout))

    @property
    def close_code(self) -> int | None:
        return self._inner.close_code


class Opener(Generic[A, T]):
    """``with``: the async opener run on the background loop, its result wrapped in the blocking twin."""

    def __init__(self, opener: AsyncOpener[A], wrap: Callable[[A], T]):
        self._opener = opener
        self._wrap = wrap

    def __enter__(self) -> T:
        return self._wrap(loop.run(self._opener.__aenter__()))

    def __exit__(self, *exc: object) -> None:
        loop.run(self._opener.__aexit__(*exc))

    async def __aenter__(self) -> None:
        raise TypeError("this is the blocking client: use `with`, or eleven_nb.AsyncClient for `async with`")

    async def __aexit__(self, *exc: object) -> None:
        return None
