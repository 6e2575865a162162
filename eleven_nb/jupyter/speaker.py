"""The kernel side of speaking: stream text to the server and feed the player.

Jobs run on the client's background event-loop thread, not the kernel's loop:
a cell that blocks (a long computation, ``time.sleep``) would otherwise stall
the audio mid-sentence. Widget ``send`` from that thread is safe in ipykernel.
Jobs queue one after another; ``interrupt`` stops the current one (closing its
contexts at the server) and starts at once.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from dataclasses import dataclass, fields, replace
from typing import Any, AsyncIterable, Iterable

import numpy as np

from .. import protocol
from ..audio import save_audio
from ..chunking import PhraseChunker, chunk_text
from ..client.loop import background_loop
from ..protocol import OutputFormat, VoiceSettings, parse_output_format
from .dialog import context_id, parse_dialog
from .options import DEFAULTS, SpeakOptions
from .sequencer import Placed, Sequencer

log = logging.getLogger(__name__)

TextSource = str | Iterable[str] | AsyncIterable[str]
MAX_OPEN_CONTEXTS = protocol.MAX_CONTEXTS - 1  # one slot spare, so a late final never blocks a new turn


@dataclass
class Turn:
    """One context: who speaks (lane), with which voice and settings, and what."""

    context_id: str
    lane: str
    voice: str
    settings: VoiceSettings
    source: TextSource


class SpeechJob:
    """One spoken cell: its turns, its player, its place in the queue."""

    def __init__(self, source: TextSource, options: SpeakOptions, player):
        self.source = source
        self.options = options
        self.player = player
        self.future: concurrent.futures.Future | None = None
        self._open: list = []  # contexts opened and not yet final

    def turns(self) -> list[Turn]:
        opts = self.options
        if not opts.dialog:
            return [Turn(opts.context or "cell", opts.context or "speech", opts.voice, opts.voice_settings,
                         self.source)]
        if not isinstance(self.source, str):
            raise ValueError("a dialog needs the whole script as text")
        turns = []
        for i, line in enumerate(parse_dialog(self.source)):
            speaker = dict(opts.speakers.get(line.speaker, {}))
            voice = speaker.pop("voice", opts.voice)
            settings = VoiceSettings.from_dict({**opts.voice_settings.to_dict(), **speaker})
            turns.append(Turn(context_id(line.speaker, i), line.speaker, voice, settings, line.text))
        return turns

    async def run(self, client) -> None:
        started = time.perf_counter()
        player, opts = self.player, self.options
        turns = self.turns()
        fmt = parse_output_format(opts.output_format)
        lanes = list(dict.fromkeys(t.lane for t in turns))
        text = "\n".join(f"{t.lane}: {t.source}" if opts.dialog else t.source for t in turns
                         if isinstance(t.source, str))
        player.begin(text, [{"id": lane, "label": lane} for lane in lanes])
        sequencer = Sequencer(fmt.sample_rate)
        for turn in turns:
            sequencer.add_turn(turn.context_id, turn.lane)
        first_audio: list[float] = []
        windows: dict[str, asyncio.Semaphore] = {}

        def play(placed: list[Placed]) -> None:
            for p in placed:
                if not first_audio and len(p.pcm):
                    first_audio.append(time.perf_counter() - started)
                    player.set_status("streaming")
                    player.set_metrics(ttfa_ms=first_audio[0] * 1000)
                a = p.alignment
                player.add_chunk(p.lane, p.at_ms, p.pcm.astype("<i2").tobytes(), fmt.sample_rate,
                                 list(a.chars) if a else [], list(a.starts_ms) if a else [],
                                 list(a.durations_ms) if a else [])

        failures: list[BaseException] = []

        async def read(voice: str, mux) -> None:
            async for chunk in mux:
                if chunk.pcm is not None or chunk.alignment is not None:
                    pcm = chunk.pcm if chunk.pcm is not None else np.zeros(0, np.int16)
                    play(sequencer.add_chunk(chunk.context_id, pcm, chunk.alignment))
                if chunk.error is not None:
                    failures.append(chunk.error)  # that turn is skipped; the others still play
                if chunk.is_final or chunk.error is not None:
                    play(sequencer.finish_turn(chunk.context_id))
                    windows[voice].release()

        async with contextlib.AsyncExitStack() as stack:
            muxes = {}
            for voice in dict.fromkeys(t.voice for t in turns):  # one socket per voice
                muxes[voice] = await stack.enter_async_context(
                    client.multi_stream_input(voice, decode=True, **_connection_kwargs(opts)))
                windows[voice] = asyncio.Semaphore(MAX_OPEN_CONTEXTS)
            readers = [asyncio.create_task(read(v, m)) for v, m in muxes.items()]
            try:
                for turn in turns:
                    await windows[turn.voice].acquire()  # released by that context's final
                    await self._send_turn(muxes[turn.voice], turn)
                for mux in muxes.values():
                    await mux.close_socket()
                await asyncio.gather(*readers)
            finally:
                for task in readers:
                    task.cancel()
        audio_s = sequencer.timeline.audio_ms / 1000
        elapsed = time.perf_counter() - started
        player.set_metrics(ttfa_ms=first_audio[0] * 1000 if first_audio else None,
                           rtf=elapsed / audio_s if audio_s else None)
        self._write_files(sequencer)
        if failures:
            raise failures[0]
        player.finish()

    async def _send_turn(self, mux, turn: Turn) -> None:
        ctx = await mux.context(turn.context_id, voice_settings=turn.settings)
        self._open.append(ctx)
        first = True
        async for piece in _pieces(turn.source, self.options.chunk):
            if not isinstance(turn.source, str):
                self.player.append_text(turn.lane, piece)
            await ctx.send(piece, flush=first)  # the first piece is flushed: first audio never waits
            first = False
        await ctx.close()

    async def interrupt(self) -> None:
        """Stop playback and close this job's contexts at the server."""
        self.player.stop()
        for ctx in self._open:
            if not ctx.done:
                try:
                    await ctx.close()
                except Exception:  # the socket may already be gone; stopping is what matters
                    pass
        self.player.set_status("done", "interrupted")

    def _write_files(self, sequencer: Sequencer) -> None:
        opts = self.options
        if opts.save:
            rate = self.player.sample_rate
            save_audio(opts.save, self.player.audio_pcm(), OutputFormat(f"pcm_{rate}", "pcm", rate))
        if opts.captions:
            timeline = sequencer.timeline
            text = timeline.to_srt() if opts.captions.lower().endswith(".srt") else timeline.to_vtt()
            with open(opts.captions, "w", encoding="utf-8") as fh:
                fh.write(text)


def _connection_kwargs(opts: SpeakOptions) -> dict[str, Any]:
    c = opts.connection_options()
    return {f.name: getattr(c, f.name) for f in fields(c) if getattr(c, f.name) is not None}


async def _pieces(source: TextSource, chunk: str | int):
    """The chunks to send, from a whole text or a (sync or async) token stream."""
    if isinstance(source, str):
        for piece in chunk_text(source, chunk):
            yield piece
        return
    chunker = PhraseChunker()
    if hasattr(source, "__aiter__"):
        async for token in source:
            for piece in chunker.feed(token):
                yield piece
    else:
        # a plain generator may block (an LLM client, time.sleep): pull it from a worker thread
        tokens, done = iter(source), object()
        while (token := await asyncio.to_thread(next, tokens, done)) is not done:
            for piece in chunker.feed(token):
                yield piece
    for piece in chunker.close():
        yield piece


# --- the queue -------------------------------------------------------------------------


class SpeechQueue:
    """Runs jobs one after another on the background loop; ``interrupt`` cuts in."""

    def __init__(self) -> None:
        self._last: SpeechJob | None = None
        self._client = None

    def client(self):
        if self._client is None:
            from ..client import Client

            self._client = Client()
        return self._client

    def submit(self, job: SpeechJob, *, interrupt: bool = False) -> concurrent.futures.Future:
        previous, self._last = self._last, job
        client = self.client()

        async def runner() -> None:
            if previous is not None and previous.future is not None and not previous.future.done():
                if interrupt:
                    await previous.interrupt()
                    previous.future.cancel()
                else:
                    try:
                        await asyncio.wrap_future(previous.future)
                    except BaseException:  # its failure is shown in its own player
                        pass
            try:
                await job.run(client)
            except asyncio.CancelledError:
                job.player.set_status("done", "interrupted")
                raise
            except Exception as exc:  # never silent: the error shows in the player's status line
                log.warning("speaking failed: %s", exc)
                job.player.fail(_describe(exc))

        job.future = asyncio.run_coroutine_threadsafe(runner(), background_loop())
        return job.future


def _describe(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    code = getattr(exc, "code", None)
    return f"{message} (close code {code})" if code else message


QUEUE = SpeechQueue()


def speak_job(source: TextSource, options: SpeakOptions) -> SpeechJob:
    """Create the player and queue the job; the caller decides how to show the player."""
    from .widget import Player

    player = Player(show_timeline=options.timeline)
    job = SpeechJob(source, options, player)

    def again(*_: Any) -> None:  # "Speak again": the same text with the current session settings
        current = DEFAULTS.options
        again_options = replace(options, voice=current.voice, model=current.model,
                                output_format=current.output_format, voice_settings=current.voice_settings,
                                interrupt=False, wait=False)
        QUEUE.submit(SpeechJob(source, again_options, player))

    player.on_speak_again(again)
    QUEUE.submit(job, interrupt=options.interrupt)
    return job


def speak_text(text: str, options: SpeakOptions) -> None:
    """What ``%%speak`` does: show the player at once, stream in the background, optionally wait."""
    from IPython.display import display

    job = speak_job(text, options)
    display(job.player)
    if options.wait and job.future is not None:
        try:
            job.future.result()
        except concurrent.futures.CancelledError:
            pass


def speak(source: TextSource, **options: Any):
    """Speak text, an iterable of tokens, or an async iterable of tokens; return the player.

    Options are those of ``%%speak`` in Python spelling (``voice``, ``model``,
    ``output_format``, ``speed``, ``stability``, ``similarity_boost``, ``style``,
    ``use_speaker_boost``, ``auto_mode``, ``chunk``, ``context``, ``dialog``,
    ``speakers``, ``wait``, ``interrupt``, ``timeline``, ``save``, ``captions``),
    on top of the session defaults. A token stream (an LLM's) is spoken as it
    arrives, phrase by phrase.
    """
    opts = DEFAULTS.options.updated(**options)
    job = speak_job(source, opts)
    if opts.wait and job.future is not None:
        job.future.result()
    return job.player
