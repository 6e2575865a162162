"""Per-stream (or per-context) bookkeeping on the client: chunks, timeline, audio, what was sent.

A :class:`Track` is what the receive loop feeds and what iterators read. It
knows the text sent and how much of it the server's alignment has covered,
which is what reconnection needs to resend exactly the unspoken rest.
"""
from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..alignment import Alignment, Timeline
from ..protocol import OutputFormat, ServerMessage
from .errors import ElevenError

log = logging.getLogger("eleven_nb.client")

DEFAULT_MAX_BUFFERED_CHUNKS = 1000  # the gem's MAX_BUFFER_SIZE
MAX_QUEUED_CHUNKS = 10_000  # chunks waiting for an iterator; the oldest are dropped past this


@dataclass
class AudioChunk:
    """One audio frame from the server (or the final message, with ``is_final``)."""

    audio: bytes | None
    alignment: Alignment | None
    normalized_alignment: Alignment | None
    is_final: bool
    context_id: str | None
    format: OutputFormat
    start_ms: float = 0.0  # where this chunk starts on its stream's (or context's) timeline
    pcm: np.ndarray | None = field(default=None, repr=False)  # decoded int16, when decoding is on
    message: dict[str, Any] | None = field(default=None, repr=False)  # the raw JSON message
    error: BaseException | None = None  # this context failed (multi-stream-input): no final will come

    @property
    def duration_ms(self) -> float | None:
        if self.pcm is not None:
            return len(self.pcm) * 1000.0 / self.format.sample_rate
        per_second = self.format.bytes_per_second
        return len(self.audio) * 1000.0 / per_second if self.audio and per_second else None


class ChunkQueue:
    """A bounded queue of chunks that ends with the stream (or raises its error)."""

    def __init__(self, maxlen: int = MAX_QUEUED_CHUNKS):
        self._items: collections.deque = collections.deque(maxlen=maxlen)
        self._changed = asyncio.Event()
        self._ended = False
        self._error: BaseException | None = None
        self.dropped = 0

    def put(self, chunk: AudioChunk) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(chunk)
        self._changed.set()

    def end(self, error: BaseException | None = None) -> None:
        if not self._ended:
            self._ended, self._error = True, error
            self._changed.set()

    async def get(self) -> AudioChunk:
        while not self._items:
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._changed.clear()
            await self._changed.wait()
        return self._items.popleft()


class Track:
    """One stream-input socket, or one context of a multi-stream-input socket."""

    def __init__(self, context_id: str | None, fmt: OutputFormat, *, decode: bool, use_normalized: bool,
                 max_buffered_chunks: int = DEFAULT_MAX_BUFFERED_CHUNKS):
        self.context_id = context_id
        self.format = fmt
        self.timeline = Timeline()
        self.queue = ChunkQueue()
        self.audio_chunks: collections.deque[bytes] = collections.deque(maxlen=max_buffered_chunks)
        self.dropped_audio_chunks = 0
        self.sent_text = ""  # content text written, in order (see protocol.is_text_content)
        self.opened = False  # its first message has been written
        self.init_message: dict[str, Any] | None = None
        self.flushed = False  # a flush was asked for (resent text is flushed too)
        self.closing = False  # end of stream / close_context sent
        self.final = asyncio.Event()
        self.error: BaseException | None = None
        self._use_normalized = use_normalized
        self._decoder = None
        if decode or fmt.codec == "pcm":
            from ..audio import StreamDecoder

            self._decoder = StreamDecoder(fmt)

    @property
    def aligned_chars(self) -> int:
        return len(self.timeline.chars)

    @property
    def unspoken_text(self) -> str:
        """Text sent that no alignment has covered yet: what a reconnect resends."""
        return self.sent_text[self.aligned_chars:]

    def feed(self, message: ServerMessage, raw: dict[str, Any] | None) -> AudioChunk:
        """Turn a server message into a chunk, record it, and queue it for iterators."""
        pcm = None
        if message.audio and self._decoder is not None:
            pcm = self._decoder.feed(message.audio)
        if message.is_final and self._decoder is not None:
            tail = self._decoder.close()
            pcm = tail if len(tail) else None
        alignment = message.normalized_alignment if self._use_normalized else message.alignment
        chunk = AudioChunk(message.audio, message.alignment, message.normalized_alignment, message.is_final,
                           message.context_id, self.format, pcm=pcm, message=raw)
        if message.audio or alignment is not None or pcm is not None:
            chunk.start_ms = self.timeline.add_chunk(alignment, chunk.duration_ms)
        if message.audio:
            if len(self.audio_chunks) == self.audio_chunks.maxlen:
                self.dropped_audio_chunks += 1
            self.audio_chunks.append(message.audio)
        self.queue.put(chunk)
        if message.is_final:
            self.finish()
        return chunk

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
