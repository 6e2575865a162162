"""One spoken cell: stream its text to the server and feed its player.

A :class:`SpeechJob` runs on the client's background event-loop thread, not the
kernel's loop: a cell that blocks (a long computation, ``time.sleep``) would
otherwise stall the audio mid-sentence. Widget ``send`` from that thread is safe
in ipykernel. The order of jobs (and interrupts) is :mod:`.queue`'s job.
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .. import protocol, trace
from ..audio import save_audio
from ..chunking import PhraseChunker, chunk_text
from ..client.errors import ElevenError
from ..protocol import OutputFormat, VoiceSettings, parse_output_format
from .dialog import assign_voices, context_id, parse_dialog
from .options import SpeakOptions
from . import tracing
from .sequencer import Placed, Sequencer
from .warm import SpareSockets, socket_key

log = logging.getLogger(__name__)
TextSource = str | Iterable[str] | AsyncIterable[str]
VoiceList = Callable[[], list[dict[str, Any]]]  # blocking: GET /v1/voices (cached by the extension)
MAX_OPEN_CONTEXTS = protocol.MAX_CONTEXTS - 1  # one slot spare, so a late final never blocks a new turn
CLOSE_TIMEOUT_S = 2.0  # closing an interrupted job's contexts: best effort, never a hang


@dataclass
class Turn:
    """One context: who speaks (lane), with which voice and settings, and what."""

    context_id: str
    lane: str
    voice: str
    settings: VoiceSettings
    source: TextSource


class SpeechJob:
    """One spoken cell: its turns, its player, its place in the queue (``future``)."""

    def __init__(self, source: TextSource, options: SpeakOptions, player: Any):
        self.source = source
        self.options = options
        self.player = player
        self.future: Any = None  # concurrent.futures.Future, set by the queue
        self.task: asyncio.Task | None = None  # its task on the background loop, once started
        self._open: list[Any] = []  # contexts opened at the server
        self.voices: dict[str, str] = {}  # lane -> voice id, once the job has started
        self.trace = trace.claim()  # stage times (ELEVEN_NB_TRACE=1; else a no-op)
        self.sockets: SpareSockets | None = None  # sockets opened ahead (the extension's), if any

    def turns(self, voice_list: VoiceList | None = None) -> list[Turn]:
        """The contexts to open. A dialog's speakers without a voice get distinct ones from ``voice_list``."""
        opts = self.options
        if not opts.dialog:
            return [Turn(opts.context or "cell", opts.context or "speech", opts.voice, opts.voice_settings,
                         self.source)]
        if not isinstance(self.source, str):
            raise TypeError("a dialog needs the whole script as text, not a token stream")
        lines = parse_dialog(self.source)
        explicit = {name: s["voice"] for name, s in opts.speakers.items() if s.get("voice")}
        names = [line.speaker for line in lines]
        needs_list = voice_list is not None and any(name not in explicit for name in names)
        voices = assign_voices(names, explicit, opts.voice, voice_list() if needs_list and voice_list else [])
        turns = []
        for i, line in enumerate(lines):
            speaker = {k: v for k, v in opts.speakers.get(line.speaker, {}).items() if k != "voice"}
            settings = VoiceSettings.from_dict({**opts.voice_settings.to_dict(), **speaker}) or VoiceSettings()
            turns.append(Turn(context_id(line.speaker, i), line.speaker, voices[line.speaker], settings, line.text))
        return turns

    async def run(self, client: Any, voice_list: VoiceList | None = None) -> None:
        """Speak every turn; raise the first turn's failure once the others have played."""
        started = time.perf_counter()
        self.trace.mark("kernel: job started")
        player, opts = self.player, self.options
        # only a dialog may list the voices (blocking); a thread hop costs the first audio ~5-20 ms
        turns = await asyncio.to_thread(self.turns, voice_list) if opts.dialog else self.turns()
        self.voices = {t.lane: t.voice for t in turns}
        fmt = parse_output_format(opts.output_format)
        lanes = list(dict.fromkeys(t.lane for t in turns))
        text = "\n".join(f"{t.lane}: {t.source}" if opts.dialog else t.source for t in turns
                         if isinstance(t.source, str))
        _begin(player, text, [{"id": lane, "label": lane} for lane in lanes], opts.interrupt)
        sequencer = Sequencer(fmt.sample_rate)
        for turn in turns:
            sequencer.add_turn(turn.context_id, turn.lane)
        first_audio: list[float] = []
        windows: dict[str, asyncio.Semaphore] = {}
        failures: list[BaseException] = []

        def play(placed: list[Placed]) -> None:
            for p in placed:
                first = not first_audio and len(p.pcm) > 0
                if first:
                    first_audio.append(time.perf_counter() - started)
                a = p.alignment
                player.add_chunk(p.lane, p.at_ms, p.pcm.astype("<i2").tobytes(), fmt.sample_rate,
                                 list(a.chars) if a else [], list(a.starts_ms) if a else [],
                                 list(a.durations_ms) if a else [])
                self.trace.mark("kernel: first chunk widget.send")
                if first:  # after the chunk: the audio goes out ahead of these two messages
                    player.set_status("streaming")
                    player.set_metrics(ttfa_ms=first_audio[0] * 1000)

        async def read(voice: str, mux: Any) -> None:
            async for chunk in mux:
                tracing.first_audio(self.trace, mux)
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
                self.trace.mark("kernel: connecting")
                kwargs = connection_kwargs(opts)
                spare = self.sockets.take(socket_key(voice, kwargs)) if self.sockets is not None else None
                if spare is not None:  # opened ahead: no handshake now
                    stack.push_async_exit(spare[0])
                    muxes[voice] = spare[1]
                else:
                    muxes[voice] = await stack.enter_async_context(
                        client.multi_stream_input(voice, decode=True, **kwargs))
                tracing.connected(self.trace, muxes[voice])
                windows[voice] = asyncio.Semaphore(MAX_OPEN_CONTEXTS)
            readers = [asyncio.create_task(read(v, m)) for v, m in muxes.items()]
            # the endpoint is resolved now (connected): label it beside the first text, not before it
            readers.append(asyncio.create_task(_label_endpoint(player, client)))
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
        if failures:
            raise failures[0]
        self._write_files(sequencer)
        player.finish()
        await tracing.finish(self.trace, client, player)

    async def _send_turn(self, mux: Any, turn: Turn) -> None:
        ctx = await mux.context(turn.context_id, voice_settings=turn.settings)
        self._open.append(ctx)
        first = True
        async for piece in _pieces(turn.source, self.options.chunk):
            if not isinstance(turn.source, str):
                self.player.append_text(turn.lane, piece)
            # awaited: the client paces long texts here (the server's buffer is bounded);
            # the first piece is flushed, so first audio never waits for more text
            await ctx.send(piece, flush=first)
            if first:
                self.trace.mark("kernel: first text queued on the socket")
            first = False
        await ctx.close()

    async def close_contexts(self) -> None:
        """Interrupted: ask the server to drop this job's unfinished contexts (best effort)."""
        for ctx in self._open:
            if not ctx.done:
                try:
                    await asyncio.wait_for(ctx.close(), CLOSE_TIMEOUT_S)
                except (ElevenError, OSError, TimeoutError) as exc:
                    # the socket may already be gone; the cancel that follows stops the job anyway
                    log.debug("closing an interrupted context failed: %s", exc)

    def _write_files(self, sequencer: Sequencer) -> None:
        opts = self.options
        if opts.save:
            rate = self.player.sample_rate
            save_audio(Path(opts.save).expanduser(), self.player.audio_pcm(),
                       OutputFormat(f"pcm_{rate}", "pcm", rate))
        if opts.captions:
            Path(opts.captions).expanduser().write_text(_captions(opts.captions, self.player, sequencer),
                                                        encoding="utf-8")


def _captions(path: str, player: Any, sequencer: Sequencer) -> str:
    """SRT from the timeline; VTT exactly as the player's own download gives it, when it has one."""
    if path.lower().endswith(".srt"):
        return sequencer.timeline.to_srt()
    captions_vtt = getattr(player, "captions_vtt", None)
    return captions_vtt() if captions_vtt is not None else sequencer.timeline.to_vtt()


def _begin(player: Any, text: str, lanes: list[dict[str, str]], interrupt: bool) -> None:
    # interrupt=True tells the browser to silence this kernel's earlier players
    if "interrupt" in inspect.signature(player.begin).parameters:
        player.begin(text, lanes, interrupt=interrupt)
    else:
        player.begin(text, lanes)


async def _label_endpoint(player: Any, client: Any) -> None:
    """Say in the player which endpoint speaks (resolving it may start the local server)."""
    if not player.has_trait("endpoint_label"):
        return
    endpoint = await asyncio.to_thread(lambda: client.endpoint)
    player.endpoint_label = getattr(endpoint, "label", None) or endpoint.http_url


def connection_kwargs(opts: SpeakOptions) -> dict[str, Any]:
    """The connection options of a cell's sockets, as ``multi_stream_input`` keywords."""
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
        async for token in source:  # type: ignore[union-attr]
            for piece in chunker.feed(token):
                yield piece
    else:
        # a plain generator may block (an LLM client, time.sleep): pull it from a worker thread
        tokens, done = iter(source), object()  # type: ignore[arg-type]
        while (token := await asyncio.to_thread(next, tokens, done)) is not done:
            for piece in chunker.feed(token):  # type: ignore[arg-type]
                yield piece
    for piece in chunker.close():
        yield piece
