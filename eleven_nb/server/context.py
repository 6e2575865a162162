"""One generation context: its text buffer, its synthesis worker and its encoder.

``stream-input`` has exactly one; ``multi-stream-input`` up to five per socket.
Text is buffered by :class:`~eleven_nb.chunking.ScheduleBuffer`; each released
generation is cut into engine-sized pieces and synthesised one utterance at a
time in the server's thread pool, so contexts on all sockets take turns
(a long context cannot starve the others) and the first audio of a long text
is out after its first sentence.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Awaitable, Callable

from .. import protocol
from ..chunking import ScheduleBuffer, is_speakable, split_for_engine
from ..protocol import ProtocolError, VoiceSettings
from .engines.base import SynthesisSettings, silence_utterance
from .frames import Frame, FrameBuilder

if TYPE_CHECKING:
    from .state import ServerState, VoiceChoice

log = logging.getLogger(__name__)

_CLOSE = object()  # queue marker: flush the encoder, send the final, finish

SendFrame = Callable[["Context", Frame], Awaitable[None]]
SendFinal = Callable[["Context"], Awaitable[None]]
Failed = Callable[["Context", BaseException], Awaitable[None]]


class Context:
    """A context's state machine. Created by its first message; ends after its final."""

    def __init__(
        self,
        context_id: str | None,
        *,
        state: "ServerState",
        voice: "VoiceChoice",
        options: protocol.ConnectionOptions,
        voice_settings: VoiceSettings | None,
        schedule: tuple[int, ...] | None,
        send_frame: SendFrame,
        send_final: SendFinal,
        failed: Failed,
    ):
        self.id = context_id
        self.voice_settings = voice_settings
        self._state = state
        self._voice = voice
        self._loop = asyncio.get_running_loop()
        self._buffer = ScheduleBuffer(schedule or protocol.DEFAULT_CHUNK_LENGTH_SCHEDULE, bool(options.auto_mode))
        self._jobs: asyncio.Queue[object] = asyncio.Queue()
        self._queued_chars = 0
        self._send_frame, self._send_final, self._failed = send_frame, send_final, failed
        engine = voice.engine
        self._builder = FrameBuilder(
            state.encoder_factory(protocol.parse_output_format(options.output_format), engine.sample_rate),
            engine.sample_rate,
            bool(options.sync_alignment),
        )
        vs = voice_settings or VoiceSettings()
        self._settings = SynthesisSettings(speed=vs.get("speed"), stability=vs.get("stability"), seed=options.seed)
        self.closing = False
        self.busy = False
        self.last_activity = self._loop.time()
        self.task = asyncio.create_task(self._run(), name=f"eleven_nb-context-{context_id}")

    # --- input -----------------------------------------------------------------------

    def touch(self) -> None:
        self.last_activity = self._loop.time()

    @property
    def idle(self) -> bool:
        """Nothing buffered to generate and nothing generating."""
        return not self.busy and self._jobs.empty()

    def add_text(self, text: str, *, flush: bool = False, try_trigger: bool = False) -> None:
        """Buffer ``text``; queue whatever generations it (or ``flush``) releases."""
        self.touch()
        if self.closing:
            return
        limit = self._state.max_buffered_chars
        if len(self._buffer) + self._queued_chars + len(text) > limit:
            raise ProtocolError.of("text_buffer_exceeded", context_id=self.id,
                                   size=len(self._buffer) + self._queued_chars + len(text), limit=limit)
        released = self._buffer.append(text, try_trigger=try_trigger) if text else []
        if flush:
            released += self._buffer.drain()
        for generation in released:
            self._queue(generation)

    def close(self) -> None:
        """Generate what is buffered, then send the final (close_context, end of stream)."""
        if self.closing:
            return
        for generation in self._buffer.drain():
            self._queue(generation)
        self.closing = True
        self._jobs.put_nowait(_CLOSE)

    def _queue(self, generation: str) -> None:
        self._queued_chars += len(generation)
        self._jobs.put_nowait(generation)

    # --- the worker ---------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                job = await self._jobs.get()
                self.busy = True
                if job is _CLOSE:
                    for frame in self._builder.finish():
                        await self._send_frame(self, frame)
                    await self._send_final(self)
                    return
                assert isinstance(job, str)
                await self._generate(job)
                for frame in self._builder.drain():  # a flushed generation is heard (and timed) in full now
                    await self._send_frame(self, frame)
                self._queued_chars -= len(job)
                self.busy = False
                self.touch()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an engine or encoder failure ends this context only
            log.exception("generation failed in context %r", self.id)
            await self._failed(self, exc)

    async def _generate(self, text: str) -> None:
        engine = self._voice.engine
        for piece in split_for_engine(text):
            if not is_speakable(piece):
                for frame in self._builder.add(silence_utterance(piece, engine.sample_rate)):
                    await self._send_frame(self, frame)
                continue
            utterances = engine.synthesize(piece, self._voice.engine_voice_id, self._settings)
            step: asyncio.Future | None = None
            try:
                while True:
                    step = self._loop.run_in_executor(self._state.pool, next, utterances, None)
                    utterance = await step
                    if utterance is None:
                        break
                    for frame in self._builder.add(utterance):
                        await self._send_frame(self, frame)
                    self.touch()
            finally:
                # A cancelled context stops its synthesis after the sentence in flight:
                # no orphan work. A running generator cannot be closed from here.
                if step is not None and not step.done():
                    step.add_done_callback(lambda _: utterances.close())
                else:
                    utterances.close()
