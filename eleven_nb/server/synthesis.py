"""Text to engine utterances, off the event loop: the one synthesis path of every endpoint.

Both the WebSocket contexts and the HTTP endpoints speak through :func:`utterances`:
SSML is read first (:mod:`eleven_nb.ssml`: a ``<break>`` becomes silence, a
``<phoneme>`` is spoken from its phonemes where the engine can, other tags are
silent), plain text is cut into engine-sized pieces
(:func:`~eleven_nb.chunking.split_for_engine`), and each piece is synthesised one
utterance (about a sentence) at a time in the server's thread pool, so the event
loop never waits on the engine and a long text never holds a worker for long.
Every source character, tags included, lands in exactly one utterance, so
``alignment`` covers exactly the text sent. :func:`spoken_function` gives what
``normalizedAlignment`` shows.
"""
from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import Executor, Future

from .. import normalize, ssml
from ..chunking import is_speakable, split_for_engine
from ..protocol import ProtocolError
from .engines.base import Engine, SynthesisSettings, Utterance, silence_utterance
from .frames import Spoken

LARGE_TEXT = 4096  # characters: a longer text is cut in the pool, off the event loop
_TAG_SHAPED = re.compile(r"</?[A-Za-z][^<>]*>")  # what normalizedAlignment never shows


async def utterances(engine: Engine, voice_id: str, text: str, settings: SynthesisSettings,
                     pool: Executor, *, phonemes: bool = False) -> AsyncGenerator[Utterance, None]:
    """The utterances of ``text``, in order; their texts join back to exactly ``text``.

    ``phonemes`` (``enable_ssml_parsing``) lets ``<phoneme>`` elements choose the
    pronunciation. Markup that cannot be read raises :class:`ProtocolError`
    ``invalid_ssml`` before any audio. Closing the iterator early (a cancelled
    context, a client gone) stops the engine after the utterance in flight.
    """
    loop = asyncio.get_running_loop()
    if not ssml.has_markup(text):
        async for utterance in _plain(engine, voice_id, text, settings, pool, loop):
            yield utterance
        return
    try:
        pieces = ssml.parse(text, phonemes=phonemes)
    except ssml.SsmlError as exc:
        raise ProtocolError.of("invalid_ssml", detail=str(exc)) from None
    position = 0
    for piece in pieces:
        if piece.start > position:  # a dropped tag: silent, but its characters still get a time
            yield silence_utterance(text[position:piece.start], engine.sample_rate, seconds=0.0)
        source = text[piece.start:piece.end]
        if isinstance(piece, ssml.Break):
            yield silence_utterance(source, engine.sample_rate, seconds=piece.seconds)
            await asyncio.sleep(0)  # a run of breaks makes frames without the engine: let other sockets in
        elif isinstance(piece, ssml.Phoneme):
            steps = engine.synthesize_phonemes(piece.ipa, source, voice_id, settings)
            async for utterance in _stepped(steps, pool):
                yield utterance
        else:
            async for utterance in _plain(engine, voice_id, source, settings, pool, loop):
                yield utterance
        position = piece.end
    if position < len(text):
        yield silence_utterance(text[position:], engine.sample_rate, seconds=0.0)


async def _plain(engine: Engine, voice_id: str, text: str, settings: SynthesisSettings, pool: Executor,
                 loop: asyncio.AbstractEventLoop) -> AsyncGenerator[Utterance, None]:
    # cutting a long text is CPU work: off the event loop, so one message never stalls the others
    pieces = await loop.run_in_executor(pool, split_for_engine, text) if len(text) > LARGE_TEXT \
        else split_for_engine(text)
    for piece in pieces:
        if not is_speakable(piece):
            yield silence_utterance(piece, engine.sample_rate)
            continue
        async for utterance in _stepped(engine.synthesize(piece, voice_id, settings), pool):
            yield utterance


async def _stepped(steps: Iterator[Utterance], pool: Executor) -> AsyncGenerator[Utterance, None]:
    """Run a blocking generator one step at a time in the pool."""
    step: Future[Utterance | None] | None = None
    try:
        while True:
            # a concurrent future (not run_in_executor's): a cancelled await leaves it running, so
            # the callback below closes the generator when its step really ends
            step = pool.submit(next, steps, None)
            utterance = await asyncio.wrap_future(step)
            if utterance is None:
                break
            yield utterance
    finally:
        # A generator running in the pool cannot be closed from here: close it when its step ends.
        if step is not None and not step.done():
            step.add_done_callback(lambda _, steps=steps: _close_quietly(steps))  # type: ignore[misc]
        else:
            _close_quietly(steps)


def spoken_function(normalization: str = "auto", phonemes: bool = False) -> Spoken:
    """What ``normalizedAlignment`` shows for a text: its spoken form (numbers written out unless
    ``normalization`` is ``"off"``; tags silent, a break a space, a phoneme element its word)."""
    def spoken(text: str) -> list[tuple[int, int, str]]:
        fixed: list[tuple[int, int, str]] = []
        if ssml.has_markup(text):
            try:
                fixed = ssml.spoken_overrides(ssml.parse(text, phonemes=phonemes), len(text))
            except ssml.SsmlError:  # e.g. a lone "<phoneme ...>" (its element spans utterances): silent
                fixed = [(m.start(), m.end(), "") for m in _TAG_SHAPED.finditer(text)]
        spans = normalize.spoken_form(text, normalization, fixed=fixed)
        if spans and text[:1].isspace() and not spans[0][2]:
            # spoken_form reads a text from its start; here the text may follow a word (a piece after
            # a tag): keep its leading space, which the frames collapse with any before it
            spans[0] = (spans[0][0], spans[0][1], " ")
        return spans

    return spoken


def _close_quietly(steps: Iterator[Utterance]) -> None:
    try:
        steps.close()  # type: ignore[attr-defined]
    except ValueError:
        pass  # "generator already executing": its step is still running in the pool
