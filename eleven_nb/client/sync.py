"""The async core for plain scripts: the same streams, driven on the background event loop.

    with client.stream_input_sync(voice_id, sync_alignment=True) as stream:
        stream.send("Hello there! ")
        stream.close()
        for chunk in stream: ...

Each call runs the matching coroutine on the shared loop (:mod:`.loop`) and waits for it.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import loop
from .streams import Context, MultiStreamInput, StreamInput, _Opened
from .tracks import AudioChunk


def _blocking(source) -> Iterator[AudioChunk]:
    """Iterate an async iterator of chunks from plain code, one chunk at a time."""
    while True:
        try:
            yield loop.run(source.__anext__())
        except StopAsyncIteration:
            return


class _SyncTrack:
    """Blocking iteration and the read-only views of a stream or context."""

    _inner: StreamInput | Context

    def __iter__(self) -> Iterator[AudioChunk]:
        return _blocking(self._inner)

    def __getattr__(self, name: str) -> Any:  # timeline, audio(), save(), done, unspoken_text, ...
        return getattr(self._inner, name)

    def keep_alive(self) -> None:
        loop.run(self._inner.keep_alive())

    def flush(self) -> None:
        loop.run(self._inner.flush())

    def close(self) -> None:
        loop.run(self._inner.close())

    def wait(self, timeout: float | None = None) -> None:
        loop.run(self._inner.wait(timeout))


class SyncStreamInput(_SyncTrack):
    def __init__(self, inner: StreamInput):
        self._inner = inner

    def send(self, text: str, *, flush: bool = False, try_trigger_generation: bool = False) -> None:
        loop.run(self._inner.send(text, flush=flush, try_trigger_generation=try_trigger_generation))


class SyncContext(_SyncTrack):
    def __init__(self, inner: Context):
        self._inner = inner
        self.context_id = inner.context_id

    def send(self, text: str, *, flush: bool = False) -> None:
        loop.run(self._inner.send(text, flush=flush))


class SyncMultiStreamInput:
    def __init__(self, inner: MultiStreamInput):
        self._inner = inner

    def context(self, context_id: str, **kwargs: Any) -> SyncContext:
        return SyncContext(loop.run(self._inner.context(context_id, **kwargs)))

    def close_socket(self) -> None:
        loop.run(self._inner.close_socket())

    def wait_closed(self, timeout: float | None = None) -> bool:
        return loop.run(self._inner.wait_closed(timeout))

    def __iter__(self) -> Iterator[AudioChunk]:
        return _blocking(self._inner)

    @property
    def close_code(self) -> int | None:
        return self._inner.close_code


class SyncOpened:
    """``with`` support over an :class:`~.streams._Opened`, on the background loop."""

    def __init__(self, opened: _Opened, wrap):
        self._opened = opened
        self._wrap = wrap

    def __enter__(self):
        return self._wrap(loop.run(self._opened.__aenter__()))

    def __exit__(self, *exc) -> None:
        loop.run(self._opened.__aexit__(*exc))
