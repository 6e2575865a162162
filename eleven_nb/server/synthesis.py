"""Text to engine utterances, off the event loop: the one synthesis path of every endpoint.

Both the WebSocket contexts and the HTTP endpoints speak through :func:`utterances`:
the text is cut into engine-sized pieces (:func:`~eleven_nb.chunking.split_for_engine`),
each piece is synthesised one utterance (about a sentence) at a time in the server's
thread pool, so the event loop never waits on the engine and a long text never holds
a worker for long.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor

from ..chunking import is_speakable, split_for_engine
from .engines.base import Engine, SynthesisSettings, Utterance, silence_utterance

LARGE_TEXT = 4096  # characters: a longer text is cut in the pool, off the event loop


async def utterances(engine: Engine, voice_id: str, text: str, settings: SynthesisSettings,
                     pool: Executor) -> AsyncIterator[Utterance]:
    """The utterances of ``text``, in order; their texts join back to exactly ``text``.

    Closing the iterator early (a cancelled context, a client gone) stops the engine after
    the utterance in flight: no orphan work is left in the pool.
    """
    loop = asyncio.get_running_loop()
    # cutting a long text is CPU work: off the event loop, so one message never stalls the others
    pieces = await loop.run_in_executor(pool, split_for_engine, text) if len(text) > LARGE_TEXT \
        else split_for_engine(text)
    for piece in pieces:
        if not is_speakable(piece):
            yield silence_utterance(piece, engine.sample_rate)
            continue
        steps: Iterator[Utterance] = engine.synthesize(piece, voice_id, settings)
        step: asyncio.Future[Utterance | None] | None = None
        try:
            while True:
                step = loop.run_in_executor(pool, next, steps, None)
                utterance = await step
                if utterance is None:
                    break
                yield utterance
        finally:
            # A generator running in the pool cannot be closed from here: close it when its step ends.
            if step is not None and not step.done():
                step.add_done_callback(lambda _, steps=steps: _close_quietly(steps))  # type: ignore[misc]
            else:
                _close_quietly(steps)


def _close_quietly(steps: Iterator[Utterance]) -> None:
    try:
        steps.close()  # type: ignore[attr-defined]
    except ValueError:
        pass  # "generator already executing": its step is still running in the pool
