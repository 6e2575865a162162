"""One spoken cell: stream its text to the server and feed its player.

A :class:`SpeechJob` runs on the client's background event-loop thread, not the
kernel's loop: a cell that blocks (a long computation, ``time.sleep``) would
otherwise stall the audio mid-sentence. Widget ``send`` from that thread is safe
in ipykernel. The order of jobs (and interrupts) is :mod:`.queue`'s job.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .. import protocol, trace
from ..audio import has_sound, save_audio
from ..chunking import PhraseChunker, chunk_text
from ..client.errors import ElevenError
from ..protocol import OutputFormat, VoiceSettings, parse_output_format
from ..protocol.client import WINDOW_CHARS
from .dialog import assign_voices, context_id, parse_dialog
from .options import SpeakOptions
from . import tracing
from .sequencer import Placed, Sequencer
from .warm import SpareSockets, socket_key
from .widget import Player

log = logging.getLogger(__name__)
TextSource = str | Iterable[str] | AsyncIterable[str]
VoiceList = Callable[[], list[dict[str, Any]]]  # blocking: GET /v1/voices (cached by the extension)
MAX_OPEN_CONTEXTS = protocol.MAX_CONTEXTS - 1  # one slot spare, so a late final never blocks a new turn
CLOSE_TIMEOUT_S = 2.0  # closing an interrupted job's contexts: best effort, never a hang
SILENT_NOTE = "silent: the voice could read none of this text (a language or symbols it does not speak)"
# unspoken text on the wire per context: the client's own window (the server holds at most 100,000); the
# speaker also flushes before it waits, so text the server's schedule holds back never stalls a long cell
SEND_AHEAD_CHARS = WINDOW_CHARS
PACE_POLL_S = 0.05
STALL_TIMEOUT_S = 60.0
LISTENER_POLL_S = 1.0  # while held for the listener: the next piece goes out within this of its time
MS_PER_CHAR_GUESS = 70.0  # speech per character sent, until a context has spoken enough to measure its own
MEASURED_AFTER_CHARS = 40


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

    def __init__(self, source: TextSource, options: SpeakOptions, player: Player):
        self.source = source
        self.options = options
        self.player = player
        self.future: Any = None  # concurrent.futures.Future, set by the queue
        self.task: asyncio.Task | None = None  # its task on the background loop, once started
        self._open: list[Any] = []  # contexts opened at the server
        self.voices: dict[str, str] = {}  # lane -> voice id, once the job has started
        self.first_audio_at: float | None = None  # time.monotonic() when its first audio went to the browser
        self.first_chunk_sent = threading.Event()  # set then (and when the job ends, by the queue)
        self.audio_ms = 0.0  # audio sent to the browser so far
        self.interrupted = ""  # why the queue stopped it early ("interrupted", "stopped"), if it did
        self.marked = False  # its player has been told so
        self.trace = trace.claim()  # stage times (ELEVEN_NB_TRACE=1; else a no-op)
        self.sockets: SpareSockets | None = None  # sockets opened ahead (the extension's), if any

    @property
    def paced(self) -> bool:
        """Made at the listener's pace (``--ahead``): a cell heard live. Not with ``--wait``, ``--save`` or
        ``--captions``: they wait for the end of the speech, which would then take as long as the speech."""
        opts = self.options
        return opts.ahead > 0 and not (opts.wait or opts.save or opts.captions)

    def lead_ms(self, now: float, unspoken_ms: float = 0.0) -> float:
        """How far the audio runs ahead of the listener at ``now`` (``time.monotonic()``): the audio sent to
        the page, and ``unspoken_ms`` more to come for text already sent, less what has been heard.

        The kernel does not hear from the page while a cell runs, so the listener is taken to have heard
        all the time since the first audio went out: never less than the truth (a paused player, or one
        queued behind another, has heard less), so the page holds at least this much unplayed audio.
        """
        heard_ms = 0.0 if self.first_audio_at is None else (now - self.first_audio_at) * 1000
        return self.audio_ms + unspoken_ms - heard_ms

    async def _wait_for_listener(self, ctx: Any, sent: int) -> None:
        """Hold the next piece while the audio, with what the ``sent`` characters will still make, runs
        more than ``--ahead`` seconds ahead of the listener."""
        if not self.paced:
            return
        ahead_ms = self.options.ahead * 1000
        if self.lead_ms(time.monotonic(), _unspoken_ms(ctx, sent)) <= ahead_ms:
            return
        await ctx.flush()  # what the server holds back is spoken now, not after the wait
        while not ctx.done and (excess := self.lead_ms(time.monotonic(), _unspoken_ms(ctx, sent)) - ahead_ms) > 0:
            await asyncio.sleep(min(LISTENER_POLL_S, excess / 1000))

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
        # interrupt=True: the browser silences this kernel's earlier players
        player.begin(text, [{"id": lane, "label": lane} for lane in lanes], interrupt=opts.interrupt)
        sequencer = Sequencer(fmt.sample_rate)
        for turn in turns:
            sequencer.add_turn(turn.context_id, turn.lane)
        first_audio: list[float] = []
        heard = False  # any sound yet: a voice that can read none of the text gives silence, said at the end
        # the first chunk has gone to the browser, or no audio will come: for the label, on this loop (the
        # job's first_chunk_sent, a threading.Event, tells the cell's thread the same)
        first_sent = asyncio.Event()
        windows: dict[str, asyncio.Semaphore] = {}
        failures: list[BaseException] = []
        # --save keeps every sample here: the player keeps only its replay bound (ten minutes)
        saved: list[np.ndarray] = []

        def play(placed: list[Placed]) -> None:
            nonlocal heard
            for p in placed:
                heard = heard or has_sound(p.pcm)
                if opts.save:
                    saved.append(p.pcm)
                first = not first_audio and len(p.pcm) > 0
                if first:
                    first_audio.append(time.perf_counter() - started)
                    self.first_audio_at = time.monotonic()
                self.audio_ms = max(self.audio_ms, p.at_ms + len(p.pcm) * 1000 / fmt.sample_rate)
                a = p.alignment
                player.add_chunk(p.lane, p.at_ms, p.pcm.astype("<i2").tobytes(), fmt.sample_rate,
                                 list(a.chars) if a else [], list(a.starts_ms) if a else [],
                                 list(a.durations_ms) if a else [])
                self.trace.mark("kernel: first chunk widget.send")
                if first:  # after the chunk: the audio goes out ahead of these two messages
                    player.set_status("streaming")
                    player.set_metrics(ttfa_ms=first_audio[0] * 1000)
                    first_sent.set()
                    self.first_chunk_sent.set()

        async def read(voice: str, mux: Any) -> None:
            mux.stall_hints = False  # a cell's text source may pause: that is not the user's mistake
            try:
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
            finally:
                first_sent.set()  # no audio from this socket: the label need not wait for it

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
            # the endpoint is resolved now (connected): label it once the first chunk has gone out
            readers.append(asyncio.create_task(_label_endpoint(player, client, first_sent)))
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
        _label_again(player, client)  # a reconnect may have reached a local server started anew
        audio_s = sequencer.timeline.audio_ms / 1000
        elapsed = time.perf_counter() - started
        player.set_metrics(ttfa_ms=first_audio[0] * 1000 if first_audio else None,
                           rtf=elapsed / audio_s if audio_s else None,
                           audio_ms=sequencer.timeline.audio_ms)  # all of it, past the player's replay bound
        if failures:
            raise failures[0]
        self._write_files(sequencer, saved)
        player.finish(note="" if heard or not audio_s else SILENT_NOTE)
        await tracing.finish(self.trace, client, player)

    async def _send_turn(self, mux: Any, turn: Turn) -> None:
        ctx = await mux.context(turn.context_id, voice_settings=turn.settings)
        self._open.append(ctx)
        first, sent = True, 0
        async for piece in _pieces(turn.source, self.options.chunk):
            if not isinstance(turn.source, str):
                self.player.append_text(turn.lane, piece)
            await _wait_for_room(ctx, sent)
            if not first:
                await self._wait_for_listener(ctx, sent)
            # awaited (the client may pace too); the first piece is flushed, so first audio never
            # waits for more text
            await ctx.send(piece, flush=first)
            if first:
                self.trace.mark("kernel: first text queued on the socket")
            first, sent = False, sent + len(piece)
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

    def _write_files(self, sequencer: Sequencer, saved: list[np.ndarray]) -> None:
        opts = self.options
        if opts.save:  # the chunks play back to back, in the order placed
            rate = sequencer.sample_rate
            audio = np.concatenate(saved) if saved else np.zeros(0, np.int16)
            save_audio(Path(opts.save).expanduser(), audio, OutputFormat(f"pcm_{rate}", "pcm", rate))
        if opts.captions:
            Path(opts.captions).expanduser().write_text(_captions(opts.captions, self.player, sequencer),
                                                        encoding="utf-8")


def _unspoken_ms(ctx: Any, sent: int) -> float:
    """The speech still to come for the ``sent`` characters of ``ctx`` not yet aligned, at the pace the
    context has spoken so far (a guess until it has spoken a little)."""
    spoken = ctx.timeline
    chars = len(spoken.chars)
    per_char = spoken.audio_ms / chars if chars >= MEASURED_AFTER_CHARS and spoken.audio_ms else MS_PER_CHAR_GUESS
    return max(0, sent - chars) * per_char


async def _wait_for_room(ctx: Any, sent: int) -> None:
    """Hold the next piece while too much sent text is still unspoken.

    The server buffers at most 100,000 characters per context (``text_buffer_exceeded``
    beyond), so a long cell goes out no further ahead of the alignment than
    ``SEND_AHEAD_CHARS``. Buffered text is flushed first, so the wait never waits for
    text the server is holding back; no progress for ``STALL_TIMEOUT_S`` is an error.
    """
    if sent - len(ctx.timeline.chars) <= SEND_AHEAD_CHARS:
        return
    await ctx.flush()
    aligned, since = len(ctx.timeline.chars), time.monotonic()
    while not ctx.done and sent - len(ctx.timeline.chars) > SEND_AHEAD_CHARS:
        await asyncio.sleep(PACE_POLL_S)
        if len(ctx.timeline.chars) > aligned:
            aligned, since = len(ctx.timeline.chars), time.monotonic()
        elif time.monotonic() - since > STALL_TIMEOUT_S:
            raise TimeoutError(f"the server spoke nothing for {STALL_TIMEOUT_S:.0f} s")


def _captions(path: str, player: Player, sequencer: Sequencer) -> str:
    """The player's one timeline of every lane (a dialog's speakers named): VTT exactly as its ⤓ VTT
    download gives it, SRT from the same timeline."""
    return player.timeline().to_srt() if path.lower().endswith(".srt") else player.captions_vtt()


async def _label_endpoint(player: Player, client: Any, first_sent: asyncio.Event) -> None:
    """Say in the player which endpoint speaks (resolving it may start the local server), after the
    first chunk: the browser handles the kernel's messages one task each, in order, so a label sent
    before the chunk is one more task (and redraw) the first audio waits behind."""
    endpoint = await asyncio.to_thread(lambda: client.endpoint)
    await first_sent.wait()
    player.endpoint_label = _label(endpoint)


def _label_again(player: Player, client: Any) -> None:
    """The label once more at the end, from the endpoint last reached (no server is started for it)."""
    endpoint = getattr(client, "resolved_endpoint", None)
    if endpoint is not None and player.endpoint_label != _label(endpoint):
        player.endpoint_label = _label(endpoint)


def _label(endpoint: Any) -> str:
    return getattr(endpoint, "label", None) or endpoint.http_url


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
        async for token in source if isinstance(source, OnItsLoop) else OnItsLoop(source):  # type: ignore[arg-type]
            for piece in chunker.feed(token):
                yield piece
    else:
        # a plain generator may block (an LLM client, time.sleep): pull it from a worker thread
        tokens, done = iter(source), object()  # type: ignore[arg-type]
        while (token := await asyncio.to_thread(next, tokens, done)) is not done:  # type: ignore[arg-type]
            for piece in chunker.feed(token):  # type: ignore[arg-type]
                yield piece
    for piece in chunker.close():
        yield piece


class OnItsLoop:
    """An async token stream pulled on the event loop that made it (the kernel's, for an LLM client
    opened in a notebook), while the speech runs on the client's background loop: awaiting a
    future of one loop from another fails ("attached to a different loop")."""

    def __init__(self, source: AsyncIterable[str], loop: asyncio.AbstractEventLoop | None = None):
        self._tokens = source.__aiter__()
        self._loop = loop

    @classmethod
    def here(cls, source: AsyncIterable[str]) -> OnItsLoop:
        """Bound to the loop running now, if any (call it where the stream was made)."""
        try:
            return cls(source, asyncio.get_running_loop())
        except RuntimeError:
            return cls(source)

    def __aiter__(self) -> OnItsLoop:
        return self

    async def __anext__(self) -> str:
        owner = self._loop
        if owner is None or owner is asyncio.get_running_loop() or owner.is_closed():
            return await self._tokens.__anext__()
        async def pull() -> str:
            return await self._tokens.__anext__()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(pull(), owner))
