"""Per-stream (or per-context) bookkeeping on the client: chunks, timeline, audio, what was sent.

A :class:`Track` is what the receive loop feeds and what iterators read. It
knows the text sent and how much of it the server's alignment has covered,
which is what reconnection needs to resend exactly the unspoken rest.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import threading
from typing import Any

import numpy as np

from ..alignment import Alignment, Timeline
from ..protocol import OutputFormat, ServerMessage
from .errors import ElevenError

log = logging.getLogger("eleven_nb.client")

DEFAULT_MAX_BUFFERED_CHUNKS = 1000  # the gem's MAX_BUFFER_SIZE
MAX_QUEUED_CHUNKS = 10_000  # chunks waiting for an iterator; the oldest are dropped past this


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
        self.message = message  # the raw JSON message
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
    """One stream-input socket, or one context of a multi-stream-input socket.

    ``decode``: ``True`` decodes every chunk as it arrives, ``None`` (the
    default) decodes MP3/Opus only when a chunk's ``pcm`` is read, ``False``
    never decodes compressed audio. Raw formats are always decoded (it is a
    copy, and gives exact chunk durations for the timeline).
    """

    def __init__(self, context_id: str | None, fmt: OutputFormat, *, decode: bool | None = None,
                 use_normalized: bool = False, max_buffered_chunks: int = DEFAULT_MAX_BUFFERED_CHUNKS,
                 max_queued_chunks: int = MAX_QUEUED_CHUNKS):
        self.context_id = context_id
        self.format = fmt
        self.timeline = Timeline()
        self.queue = ChunkQueue(max_queued_chunks)
        self.audio_chunks: collections.deque[bytes] = collections.deque(maxlen=max_buffered_chunks)
        self.dropped_audio_chunks = 0
        self.sent_text = ""  # content text written, in order (see protocol.is_text_content)
        self.opened = False  # its first message has been written
        self.last_sent = 0.0  # loop time of the last message written for it (keep-alive timing)
        self.init_message: dict[str, Any] | None = None
        self.flushed = False  # a flush was asked for (resent text is flushed too)
        self.closing = False  # end of stream / close_context sent
        self.final = asyncio.Event()
        self.error: BaseException | None = None
        self._use_normalized = use_normalized
        self._eager = decode is True or fmt.is_raw
        self._lazy = decode is None and not fmt.is_raw
        self._decoder = None
        self._decoder_failed = False
        # chunks waiting for lazy decoding, in order; bounded like the audio kept in memory
        self._pending: collections.deque[AudioChunk] = collections.deque()
        self._max_pending = max_buffered_chunks
        self._seq = 0
        self._lock = threading.Lock()  # ``pcm`` may be read from another thread (the sync facade)

    @property
    def aligned_chars(self) -> int:
        return len(self.timeline.chars)

    @property
    def unspoken_text(self) -> str:
        """Text sent that no alignment has covered yet: what a reconnect resends."""
        return self.sent_text[self.aligned_chars:]

    def feed(self, message: ServerMessage, raw: dict[str, Any] | None) -> AudioChunk:
        """Turn a server message into a chunk, record it, and queue it for iterators."""
        chunk = AudioChunk(message.audio, message.alignment, message.normalized_alignment, message.is_final,
                           message.context_id, self.format, message=raw)
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
        if message.audio:
            if len(self.audio_chunks) == self.audio_chunks.maxlen:
                self.dropped_audio_chunks += 1
            self.audio_chunks.append(message.audio)
        self.queue.put(chunk)
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
        except Exception as exc:  # no codec library (PyAV) or undecodable audio: pcm stays None
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
