"""Per-stream (or per-context) data on the client: chunks, timeline, audio.

A :class:`Track` is what the receive loop feeds and what iterators read. What was
sent and what the alignment has covered (the protocol's bookkeeping) lives in its
:class:`~eleven_nb.protocol.client_context.ContextState`, ``track.state``.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..alignment import Alignment, Timeline
from ..protocol import OutputFormat, ServerMessage
from ..protocol.client_context import ContextState
from .errors import ElevenError

log = logging.getLogger("eleven_nb.client")

DEFAULT_MAX_BUFFERED_CHUNKS = 1000  # as the Ruby client's guide bounds its buffer (MAX_BUFFER_SIZE)
MAX_QUEUED_CHUNKS = 10_000  # chunks waiting for an iterator; the oldest are dropped past this
# a reader waiting this long for a chunk is told why, when no audio is owed (text held below the
# server's chunk schedule, or a stream never closed): keep-alives would otherwise let it wait forever
STALL_HINT_S = 5.0


class AudioChunk:
    """One audio frame from the server (or the final message, with ``is_final``).

    ``pcm`` is the chunk's audio as int16 mono samples. Raw formats (PCM,
    μ-law, A-law) are decoded as they arrive; MP3 and Opus are decoded when
    ``pcm`` is first read (in stream order, through the stream's
    :class:`~eleven_nb.audio.StreamDecoder`), or at once with ``decode=True``.
    ``pcm`` is ``None`` when there is no decoder for the format.
    """

    __slots__ = (
        "_pcm",
        "_seq",
        "_track",
        "alignment",
        "audio",
        "context_id",
        "error",
        "format",
        "is_final",
        "message",
        "normalized_alignment",
        "start_ms",
    )

    def __init__(self, audio: bytes | None, alignment: Alignment | None, normalized_alignment: Alignment | None,
                 is_final: bool, context_id: str | None, fmt: OutputFormat, *, start_ms: float = 0.0,
                 pcm: np.ndarray | None = None, message: dict[str, Any] | None = None,
                 error: BaseException | None = None):
        self.audio = audio
        self.alignment = alignment
        self.normalized_alignment = normalized_alignment
        self.is_final = is_final
        self.context_id = context_id
        self.format = fmt
        self.start_ms = start_ms  # where this chunk starts on its stream's (or context's) timeline
        self.message = message  # the raw JSON message (kept only with ``keep_raw``)
        self.error = error  # this context failed (multi-stream-input): no final will come
        self._pcm = pcm
        self._track: Track | None = None  # set while the chunk waits for lazy decoding
        self._seq = 0

    @property
    def pcm(self) -> np.ndarray | None:
        """The decoded samples (int16 mono at ``format.sample_rate``), decoded on first use."""
        if self._pcm is None and self._track is not None:
            self._track.decode_through(self)
        return self._pcm

    @property
    def duration_ms(self) -> float | None:
        """The chunk's audio length when known without decoding (raw formats, or already decoded)."""
        if self._pcm is not None:
            return len(self._pcm) * 1000.0 / self.format.sample_rate
        per_second = self.format.bytes_per_second
        return len(self.audio) * 1000.0 / per_second if self.audio and per_second else None

    def __repr__(self) -> str:
        size = len(self.audio) if self.audio else 0
        text = self.alignment.text if self.alignment is not None else None
        return (f"AudioChunk({size} bytes {self.format.name}, start_ms={self.start_ms:.0f}, text={text!r}, "
                f"is_final={self.is_final}, context_id={self.context_id!r}"
                f"{', error=' + repr(self.error) if self.error else ''})")


class ChunkQueue:
    """A bounded queue of chunks that ends with the stream (or raises its error).

    Until someone reads it, it keeps at most ``unread_limit`` chunks (the memory bound,
    ``max_buffered_chunks``); once read, up to ``maxlen`` may wait for a slow reader
    (``max_queued_chunks``). Past either, the oldest are dropped and counted.
    """

    def __init__(self, maxlen: int = MAX_QUEUED_CHUNKS, unread_limit: int | None = None,
                 on_first_read: Callable[[], None] | None = None):
        self._items: collections.deque[AudioChunk] = collections.deque()
        self.maxlen = maxlen
        self.unread_limit = maxlen if unread_limit is None else min(unread_limit, maxlen)
        self.reading = False  # someone has asked for a chunk
        self._on_first_read = on_first_read
        self._changed = asyncio.Event()
        self._ended = False
        self._error: BaseException | None = None
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, chunk: AudioChunk) -> None:
        limit = self.maxlen if self.reading else self.unread_limit
        while len(self._items) >= limit:
            self._items.popleft()
            self.dropped += 1
        self._items.append(chunk)
        self._changed.set()

    def clear(self) -> None:
        """Forget the chunks waiting (nobody will read them: the other view is being read)."""
        self._items.clear()

    def end(self, error: BaseException | None = None) -> None:
        if not self._ended:
            self._ended, self._error = True, error
            self._changed.set()

    async def get(self, on_stall: Callable[[float], None] | None = None) -> AudioChunk:
        """The next chunk; ``on_stall(seconds)`` is called once if none has come after
        :data:`STALL_HINT_S` (the reader then keeps waiting)."""
        if not self.reading:
            self.reading = True
            if self._on_first_read is not None:
                self._on_first_read()
        if self._items:
            return self._items.popleft()
        with _stall_timer(on_stall):
            while not self._items:
                if self._ended:
                    if self._error is not None:
                        raise self._error
                    raise StopAsyncIteration
                self._changed.clear()
                await self._changed.wait()
        return self._items.popleft()


@contextlib.contextmanager
def _stall_timer(on_stall: Callable[[float], None] | None) -> Iterator[None]:
    """Call ``on_stall(STALL_HINT_S)`` if the block is still running after that many seconds."""
    if on_stall is None:
        yield
        return
    timer = asyncio.get_running_loop().call_later(STALL_HINT_S, on_stall, STALL_HINT_S)
    try:
        yield
    finally:
        timer.cancel()


async def wait_hinting(event: asyncio.Event, on_stall: Callable[[float], None], timeout: float | None) -> None:
    """``event.wait()`` within ``timeout``; ``on_stall(seconds)`` once if it has not happened after
    :data:`STALL_HINT_S`."""
    with _stall_timer(on_stall):
        await asyncio.wait_for(event.wait(), timeout)


class Delivery:
    """Which queues keep a chunk: only those someone reads, or may still come to read.

    The socket-wide queue (``everything``) and the per-context queues are two views of
    the same chunks: once one is read, the other stops filling and forgets what it held.
    ``keep_unread()`` says whether queues nobody reads yet keep chunks at all (not when
    event handlers consume the messages as they arrive).
    """

    def __init__(self, everything: ChunkQueue, tracks: dict[str | None, Track], multi: bool,
                 keep_unread: Callable[[], bool]):
        self.everything = everything
        self.tracks = tracks  # the socket's, shared
        self.multi = multi
        self.keep_unread = keep_unread
        self.contexts_read = False  # some context's own queue is being read
        everything._on_first_read = self.everything_read_started

    def deliver(self, track: Track, chunk: AudioChunk, *, to_track: bool = True) -> None:
        everything_read = self.everything.reading
        if to_track and (track.queue.reading or (not everything_read and self.keep_unread())):
            track.queue.put(chunk)
        if everything_read or (self.multi and not self.contexts_read and self.keep_unread()):
            self.everything.put(chunk)

    def everything_read_started(self) -> None:
        for track in self.tracks.values():
            if not track.queue.reading:
                track.queue.clear()

    def context_read_started(self) -> None:
        self.contexts_read = True
        if not self.everything.reading:
            self.everything.clear()


class Track:
    """One stream-input socket, or one context of a multi-stream-input socket.

    ``decode``: ``True`` decodes every chunk as it arrives, ``None`` (the
    default) decodes MP3/Opus only when a chunk's ``pcm`` is read, ``False``
    never decodes compressed audio. Raw formats are always decoded (it is a
    copy, and gives exact chunk durations for the timeline).
    """

    def __init__(self, context_id: str | None, fmt: OutputFormat, *, decode: bool | None = None,
                 use_normalized: bool = False, max_buffered_chunks: int = DEFAULT_MAX_BUFFERED_CHUNKS,
                 max_queued_chunks: int = MAX_QUEUED_CHUNKS, keep_raw: bool = False,
                 state: ContextState | None = None, on_first_read: Callable[[], None] | None = None):
        self.context_id = context_id
        self.format = fmt
        self.state = state if state is not None else ContextState(context_id)
        self.timeline = Timeline()
        self.queue = ChunkQueue(max_queued_chunks, max_buffered_chunks, on_first_read)
        self.audio_chunks: collections.deque[bytes] = collections.deque(maxlen=max_buffered_chunks)
        self.dropped_audio_chunks = 0
        self.final = asyncio.Event()
        self.error: BaseException | None = None
        self._keep_raw = keep_raw
        self._use_normalized = use_normalized
        self._eager = decode is True or fmt.is_raw
        self._lazy = decode is None and not fmt.is_raw
        self._decoder: Any = None  # a StreamDecoder, made on first use
        self._decoder_failed = False
        # chunks waiting for lazy decoding, in order; bounded like the audio kept in memory
        self._pending: collections.deque[AudioChunk] = collections.deque()
        self._max_pending = max_buffered_chunks
        self._seq = 0
        self._lock = threading.Lock()  # ``pcm`` may be read from another thread (the sync facade)

    @property
    def closing(self) -> bool:
        """End of stream (or close_context) was sent."""
        return self.state.closing

    @property
    def aligned_chars(self) -> int:
        return self.state.aligned_chars

    @property
    def unspoken_text(self) -> str:
        """Text sent that no alignment has covered yet: what a reconnect resends."""
        return self.state.unspoken_text

    def feed(self, message: ServerMessage, raw: dict[str, Any] | None = None) -> AudioChunk:
        """Turn a server message into a chunk and record it (the socket queues it for readers)."""
        chunk = AudioChunk(message.audio, message.alignment, message.normalized_alignment, message.is_final,
                           message.context_id, self.format, message=raw if self._keep_raw else None)
        self._seq += 1
        chunk._seq = self._seq
        if message.audio or message.is_final:
            if self._eager:
                with self._lock:
                    chunk._pcm = self._decode_one(chunk)
            elif self._lazy and not self._decoder_failed:
                with self._lock:
                    chunk._track = self
                    self._pending.append(chunk)
                    if len(self._pending) > self._max_pending:  # nobody reads pcm: keep the decoder in step
                        oldest = self._pending.popleft()
                        oldest._pcm, oldest._track = self._decode_one(oldest), None
        alignment = message.normalized_alignment if self._use_normalized else message.alignment
        if message.audio or alignment is not None or chunk._pcm is not None:
            chunk.start_ms = self.timeline.add_chunk(alignment, chunk.duration_ms)
        else:  # nothing to place (a final): it stands where the stream has got to
            chunk.start_ms = self.timeline.end_ms
        if message.audio:
            if len(self.audio_chunks) == self.audio_chunks.maxlen:
                self.dropped_audio_chunks += 1
            self.audio_chunks.append(message.audio)
        if message.is_final:
            self.finish()
        return chunk

    def decode_through(self, chunk: AudioChunk) -> None:
        """Decode the waiting chunks, in order, up to and including ``chunk``."""
        with self._lock:
            while self._pending and self._pending[0]._seq <= chunk._seq:
                waiting = self._pending.popleft()
                waiting._pcm, waiting._track = self._decode_one(waiting), None
            chunk._track = None

    def _decode_one(self, chunk: AudioChunk) -> np.ndarray | None:
        """Feed one chunk (or, for the final, close) the stream's decoder. Call with the lock held."""
        if self._decoder_failed:
            return None
        try:
            if self._decoder is None:
                from ..audio import StreamDecoder

                self._decoder = StreamDecoder(self.format)
            pcm = self._decoder.close() if chunk.is_final else self._decoder.feed(chunk.audio)
        except Exception as exc:  # noqa: BLE001 - no codec library (PyAV) or undecodable audio: pcm stays None
            log.warning("cannot decode %s audio (%s); chunks carry no pcm", self.format.name, exc)
            self._decoder_failed = True
            for waiting in self._pending:
                waiting._track = None
            self._pending.clear()
            return None
        return pcm if (len(pcm) or not chunk.is_final) else None

    def finish(self, error: BaseException | None = None) -> None:
        if error is not None and self.error is None:
            self.error = error
        self.final.set()
        self.queue.end(self.error)

    @property
    def done(self) -> bool:
        return self.final.is_set()

    def audio_bytes(self) -> bytes:
        return b"".join(self.audio_chunks)

    def save(self, path) -> Any:
        """Write the audio received (as kept in memory) to ``path``; see :func:`eleven_nb.audio.save_audio`."""
        from ..audio import save_audio

        if self.dropped_audio_chunks:
            log.warning("%d early audio chunks were dropped (max_buffered_chunks); saving the rest",
                        self.dropped_audio_chunks)
        if not self.audio_chunks:
            raise ElevenError("no audio has been received yet, so there is nothing to save")
        return save_audio(path, self.audio_bytes(), self.format)
