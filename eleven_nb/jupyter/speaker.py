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
import logging
import time
from dataclasses import replace
from typing import Any, AsyncIterable, Iterable

import numpy as np

from ..audio import StreamDecoder, save_audio
from ..chunking import PhraseChunker, chunk_text
from ..protocol import OutputFormat, VoiceSettings, parse_output_format
from .dialog import context_id, parse_dialog
from .options import DEFAULTS, SpeakOptions
from ..client.loop import background_loop
from .sequencer import Placed, Sequencer

log = logging.getLogger(__name__)

TextSource = str | Iterable[str] | AsyncIterable[str]


class SpeechJob:
    """One spoken cell: its turns, its player, its place in the queue."""

    def __init__(self, source: TextSource, options: SpeakOptions, player):
        self.source = source
        self.options = options
        self.player = player
        self.future: concurrent.futures.Future | None = None
        self._contexts: list = []
        self._mux = None

    # --- planning ---------------------------------------------------------------------

    def _turns(self) -> list[tuple[str, str, dict[str, Any], TextSource]]:
        """(context id, lane label, per-speaker settings, text source) for each turn."""
        opts = self.options
        if opts.dialog:
            if not isinstance(self.source, str):
                raise ValueError("a dialog needs the whole script as text")
            return [(context_id(t.speaker, i), t.speaker, opts.speakers.get(t.speaker, {}), t.text)
                    for i, t in enumerate(parse_dialog(self.source))]
        return [(opts.context or "cell", opts.context or "speech", {}, self.source)]

    # --- running ----------------------------------------------------------------------

    async def run(self, client) -> None:
        started = time.perf_counter()
        player, opts = self.player, self.options
        turns = self._turns()
        fmt = parse_output_format(opts.output_format)
        lanes = list(dict.fromkeys(label for _, label, _, _ in turns))
        full_text = "\n".join(f"{label}: {src}" if opts.dialog else src for _, label, _, src in turns
                              if isinstance(src, str))
        player.begin(full_text, [{"id": lane, "label": lane} for lane in lanes])
        rate = fmt.sample_rate
        sequencer = Sequencer(rate)
        decoders = {cid: StreamDecoder(fmt) for cid, _, _, _ in turns}
        first_audio: float | None = None
        for cid, label, _, _ in turns:
            sequencer.add_turn(cid, label)
        async with client.multi_stream_input(opts.voice, **_connection_kwargs(opts)) as mux:
            self._mux = mux
            sender = asyncio.create_task(self._send_all(mux, turns))
            try:
                async for chunk in mux:
                    placed: list[Placed] = []
                    if chunk.audio:
                        pcm = decoders[chunk.context_id].feed(chunk.audio)
                        placed = sequencer.add_chunk(chunk.context_id, pcm, chunk.alignment)
                    if chunk.is_final:
                        tail = decoders[chunk.context_id].close()
                        if len(tail):
                            placed += sequencer.add_chunk(chunk.context_id, tail, None)
                        placed += sequencer.finish_turn(chunk.context_id)
                    for p in placed:
                        if first_audio is None and len(p.pcm):
                            first_audio = time.perf_counter() - started
                            player.set_status("streaming")
                            player.set_metrics(ttfa_ms=first_audio * 1000)
                        _play(player, p, rate)
                    if sequencer.done:
                        break
                await sender
            finally:
                sender.cancel()
        audio_s = sequencer.timeline.audio_ms / 1000
        elapsed = time.perf_counter() - started
        player.set_metrics(ttfa_ms=(first_audio or 0) * 1000, rtf=elapsed / audio_s if audio_s else None)
        self._write_files(sequencer, rate)
        player.finish()

    async def _send_all(self, mux, turns) -> None:
        """Open a context per turn (at most five at once), send its chunks, close it."""
        window = asyncio.Semaphore(4)
        closed = []

        async def one(cid, settings, source):
            async with window:
                speaker_settings = {k: v for k, v in settings.items() if k != "voice"}
                vs = VoiceSettings.from_dict({**self.options.voice_settings.to_dict(), **speaker_settings})
                ctx = await mux.context(cid, voice_settings=vs)
                self._contexts.append(ctx)
                first = True
                async for piece in _pieces(source, self.options.chunk):
                    # the first piece is flushed so the first audio never waits for a schedule
                    await ctx.send(piece, flush=first)
                    first = False
                await ctx.close()
                closed.append(cid)

        for cid, _, settings, source in turns:
            await one(cid, settings, source)
        await mux.close_socket()

    async def interrupt(self) -> None:
        """Close this job's contexts at the server and stop its playback."""
        for ctx in self._contexts:
            try:
                await ctx.close()
            except Exception:  # the socket may already be gone; stopping is what matters
                pass
        self.player.set_status("done", "interrupted")

    def _write_files(self, sequencer: Sequencer, rate: int) -> None:
        opts = self.options
        if opts.save:
            pcm = self.player.audio_pcm() if hasattr(self.player, "audio_pcm") else None
            if pcm is not None:
                save_audio(opts.save, pcm, OutputFormat(f"pcm_{rate}", "pcm", rate))
        if opts.captions:
            timeline = sequencer.timeline
            text = timeline.to_srt() if opts.captions.lower().endswith(".srt") else timeline.to_vtt()
            with open(opts.captions, "w", encoding="utf-8") as fh:
                fh.write(text)


def _connection_kwargs(opts: SpeakOptions) -> dict[str, Any]:
    c = opts.connection_options()
    return {k: v for k, v in vars(c).items() if v is not None} if hasattr(c, "__dict__") else {}


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


def _play(player, placed: Placed, rate: int) -> None:
    a = placed.alignment
    player.add_chunk(placed.lane, placed.at_ms, placed.pcm.astype("<i2").tobytes(), rate,
                     list(a.chars) if a else [], list(a.starts_ms) if a else [], list(a.durations_ms) if a else [])


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
