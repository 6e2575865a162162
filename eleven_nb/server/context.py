"""One context's worker: speaks its generations in order and reports what it made.

The protocol decides what to speak and when (:mod:`eleven_nb.protocol.server`);
a :class:`ContextWorker` only does it. Each generation is spoken through
:func:`~.synthesis.utterances` (engine-sized pieces, one utterance at a time in
the server's thread pool), so contexts on all sockets take turns (a long context cannot
starve the others) and the first audio of a long text is out after its first
sentence. Everything it makes goes to a :class:`Reports` sink.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from typing import Protocol

from ..protocol import ProtocolError
from ..trace import OFF, Trace
from .engines.base import Engine, SynthesisSettings, Utterance
from .frames import Frame, FrameBuilder
from .synthesis import LARGE_TEXT, utterances
from .tracing import ENGINE_END, ENGINE_START

log = logging.getLogger(__name__)

_CLOSE = object()  # queue marker: flush the encoder, report the context done
_STOP = object()  # queue marker: the socket is gone, end now


class Reports(Protocol):
    """Where a worker sends what it made (the session, which tells the protocol)."""

    async def frame(self, ref: int, frame: Frame) -> None: ...
    async def generation_done(self, ref: int) -> None: ...
    async def context_done(self, ref: int) -> None: ...
    async def context_failed(self, ref: int, error: ProtocolError | None = None) -> None: ...


# After a context's first audio is sent, its next utterance waits this long before the engine starts it.
# Where the client shares the machine's cores (a notebook: the kernel, Jupyter and the browser relay the
# first chunk), synthesizing at once takes the CPU that chunk needs: in JupyterLab on two cores, the
# chunk reached the browser's worker 14-20 ms after the kernel sent it without the pause and 3-6 ms with
# it (docs/latency.md), and every chunk of the first 3 s still arrived before it was due (piper's first
# utterance can be a single word, ~0.3-0.8 s of audio: the pause and the next synthesis fit in it). Once
# per context; a context whose first generation is one utterance gets its final 30 ms later.
DELIVERY_PAUSE_S = 0.03


class ContextWorker:
    """Speaks one context's generations in order; ends after its close, a failure or :meth:`cancel`."""

    def __init__(self, ref: int, *, engine: Engine, engine_voice_id: str, settings: SynthesisSettings,
                 builder: FrameBuilder, pool: Executor, reports: Reports, phonemes: bool = False,
                 trace: Trace = OFF):
        self.ref = ref
        self._engine, self._voice_id, self._settings = engine, engine_voice_id, settings
        self._builder, self._pool, self._reports = builder, pool, reports
        self._phonemes = phonemes  # enable_ssml_parsing: <phoneme> elements choose the pronunciation
        self._trace = trace  # the socket's stage times (a no-op unless ELEVEN_NB_TRACE=1)
        self._loop = asyncio.get_running_loop()
        self._jobs: asyncio.Queue[object] = asyncio.Queue()
        self._first_audio_sent = False
        self._texts_queued = 0  # generations waiting in _jobs
        self.task = asyncio.create_task(self._run(), name=f"eleven_nb-context-{ref}")

    def generate(self, text: str) -> None:
        self._texts_queued += 1
        self._jobs.put_nowait(text)

    def close(self) -> None:
        self._jobs.put_nowait(_CLOSE)

    def cancel(self) -> None:
        self._jobs.put_nowait(_STOP)  # ends the worker even if a cancellation is lost in a finishing send
        self.task.cancel()

    async def _run(self) -> None:
        try:
            while True:
                job = await self._jobs.get()
                if job is _STOP:
                    return
                if job is _CLOSE:
                    for frame in self._builder.finish():
                        await self._reports.frame(self.ref, frame)
                    await self._reports.context_done(self.ref)
                    return
                assert isinstance(job, str)
                self._texts_queued -= 1
                self._builder.start_generation()
                await self._generate(job)
                # no text queued after it (a flush, the text so far, or the close): heard and timed in full
                # now. A queued generation carries what the codec holds out itself, with no silence between.
                if not self._texts_queued:
                    for frame in self._builder.drain():
                        await self._reports.frame(self.ref, frame)
                await self._reports.generation_done(self.ref)
        except asyncio.CancelledError:
            raise
        except ProtocolError as error:  # the text cannot be spoken (unreadable markup): say why
            await self._reports.context_failed(self.ref, error)
        except (ConnectionError, RuntimeError) as exc:
            if self._loop.is_closed() or isinstance(exc, ConnectionError):
                return  # the client left mid-synthesis: nothing to report to
            log.warning("generation failed in context %d: %s", self.ref, exc)
            await self._reports.context_failed(self.ref)
        except Exception:  # an engine or encoder failure ends this context only
            log.exception("generation failed in context %d", self.ref)
            await self._reports.context_failed(self.ref)

    async def _generate(self, text: str) -> None:
        speech = utterances(self._engine, self._voice_id, text, self._settings, self._pool,
                            phonemes=self._phonemes)
        self._trace.mark(ENGINE_START)
        try:
            async for utterance in speech:
                self._trace.mark(ENGINE_END)
                frames = await self._frames(utterance)
                for frame in frames:
                    await self._reports.frame(self.ref, frame)
                if frames and not self._first_audio_sent:
                    self._first_audio_sent = True
                    await asyncio.sleep(DELIVERY_PAUSE_S)  # the engine is idle: the client relays the audio
        finally:
            await speech.aclose()  # a cancelled context stops after the utterance in flight

    async def _frames(self, utterance: Utterance) -> list[Frame]:
        """The utterance's frames; a long one's timing is built in the pool, off the event loop."""
        if len(utterance.text) > LARGE_TEXT:
            return await self._loop.run_in_executor(self._pool, self._builder.add, utterance)
        return self._builder.add(utterance)
