"""The object ``%load_ext eleven_nb`` builds: the client, the session defaults and the speech queue.

The magics, ``eleven_nb.speak()``, ``voice_controls()`` and ``speakers()`` all act
on one :class:`SpeechExtension`. The module-level functions use the one the
extension loaded (or build one on first use, for plain ``import eleven_nb``);
tests and embedders construct their own: ``SpeechExtension(AsyncClient(base_url=...))``.
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import threading
import time
from collections.abc import AsyncIterable
from dataclasses import replace
from typing import Any

from IPython.display import display

from ..client import AsyncClient
from ..protocol import check_text
from ..client.loop import background_loop
from .controls import build_panel, parse_speaker_specs
from .magic import SpeakMagics
from .options import SpeakOptions
from .queue import SpeechQueue, still_playing
from .spare import SparePlayers
from .speaker import OnItsLoop, SpeechJob, TextSource, connection_kwargs
from .tracing import TraceMagics, watch_cells
from .warm import SpareSockets
from .widget import PROCESS_QUEUE_ID, Player

HISTORY = 20  # jobs kept for a look afterwards (which voice spoke whom, how it ended)
VOICES_TIMEOUT_S = 150.0  # the first listing may wait for the local server to start
FIRST_CHUNK_HOLD_S = 0.3  # a %%speak cell ends when its first chunk is out, or after this (see SpeechQueue.hold)


class SpeechExtension:
    """Everything one kernel's speaking shares.

    ``client`` is an :class:`~eleven_nb.AsyncClient` (its sockets live on the
    background event loop the jobs run on); it defaults to ``AsyncClient()``, made
    when first needed (at :meth:`register` when spare sockets are on); ``defaults`` are the options the next
    ``%%speak`` starts from (the voice-controls panel edits them);
    ``player_class`` makes the players (a subclass can record what they send);
    with ``spare_players`` one player is made ahead of each ``%%speak`` (see :mod:`.spare`) and
    a socket is opened for the next one, at :meth:`register` and after each spoken cell (see
    :mod:`.warm`; at register this starts the local voice server in the background).
    """

    def __init__(self, client: Any = None, *, defaults: SpeakOptions | None = None,
                 queue_id: str = PROCESS_QUEUE_ID, player_class: type[Player] = Player,
                 spare_players: bool = False):
        self._client = client
        self._player_class = player_class
        self._lock = threading.Lock()
        self._voices: list[dict[str, Any]] | None = None
        self.defaults = defaults or SpeakOptions()
        self.queue = SpeechQueue()
        self.queue_id = queue_id  # the browser orders the playback of the players of one queue id
        self.history: collections.deque[SpeechJob] = collections.deque(maxlen=HISTORY)  # latest jobs, newest last
        self.spares = SparePlayers(lambda: self._new_player(SpeakOptions()), enabled=spare_players)
        self.sockets = SpareSockets(enabled=spare_players)

    def __repr__(self) -> str:
        return f"<eleven_nb SpeechExtension queue {self.queue_id}, {len(self.queue.pending)} job(s) pending>"

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = AsyncClient()
            return self._client

    def voices(self, refresh: bool = False) -> list[dict[str, Any]]:
        """The endpoint's ``/v1/voices`` (fetched once, then cached). Blocks: not for the background loop."""
        if self._voices is None or refresh:
            listing = asyncio.run_coroutine_threadsafe(self.client.list_voices(), background_loop())
            self._voices = listing.result(VOICES_TIMEOUT_S)
        return self._voices

    # --- speaking ------------------------------------------------------------------------------

    def speak(self, source: TextSource, **options: Any) -> Player:
        """Speak text, an iterable or an async iterable of tokens; return the player.

        Options are those of ``%%speak`` in Python spelling (``voice``, ``model``,
        ``output_format``, ``speed``, ``stability``, ``similarity_boost``, ``style``,
        ``use_speaker_boost``, ``auto_mode``, ``chunk``, ``context``, ``dialog``,
        ``speakers``, ``wait``, ``interrupt``, ``timeline``, ``save``, ``captions``),
        on top of the session defaults. A token stream (an LLM's) is spoken as it
        arrives, phrase by phrase. With ``wait=True`` this returns when synthesis is
        complete and raises :class:`~eleven_nb.jupyter.queue.SpeechFailed` if it failed.
        """
        opts = self.defaults.updated(**options)
        if isinstance(source, str):
            check_text(source)  # a lone surrogate: a one-line ValueError now, not a traceback from the comm
        elif isinstance(source, AsyncIterable):
            source = OnItsLoop.here(source)  # its tokens are awaited on the loop that made it
        if opts.interrupt:
            self._silence_earlier()
        job = self.submit(source, opts)
        if opts.wait:
            self.queue.wait(job)
        return job.player

    def speak_cell(self, text: str, options: SpeakOptions) -> None:
        """What ``%%speak`` does: show the player at once, stream in the background, optionally wait."""
        if options.interrupt:
            self._silence_earlier()
        player = self._player(options)
        display(player)  # shown before the job starts, so its first message finds the output in place
        job = self.submit(text, options, player)
        job.future.add_done_callback(self.spares.refill)  # the next cell's player, made while none speaks
        if not options.dialog:  # and a socket for it, if it speaks with the same voice and options
            job.future.add_done_callback(lambda _: self._open_spare_socket(options))
        if options.wait:
            self.queue.wait(job)
        elif options.interrupt or self.queue.pending == [job]:  # it starts now (an interrupting cell
            self.queue.hold(job, FIRST_CHUNK_HOLD_S)  # stops the others): end once its first audio is out

    def submit(self, source: TextSource, options: SpeakOptions, player: Player | None = None) -> SpeechJob:
        """Queue the job (with a new player unless given one); the caller decides how to show the player."""
        player = player if player is not None else self._player(options)
        job = SpeechJob(source, options, player)
        job.sockets = self.sockets
        self.history.append(job)

        def again(*_: Any) -> None:  # "Speak again": the same text with the current session settings
            current = self.defaults
            again_options = replace(options, voice=current.voice, model=current.model,
                                    output_format=current.output_format, voice_settings=current.voice_settings,
                                    interrupt=False, wait=False)
            text = source if isinstance(source, str) else player.text  # a token stream is spent
            again_job = SpeechJob(text, again_options, player)
            self.history.append(again_job)
            self.queue.submit(again_job, self._run)

        player.on_speak_again(again)
        player.on_stopped(lambda *_: self.queue.stop_player(player))
        job.trace.mark("kernel: job queued")
        self.queue.submit(job, self._run, interrupt=options.interrupt)
        return job

    def _silence_earlier(self) -> None:
        """An interrupting cell: stop the players still playing now, before its own player exists.

        The browser handles a kernel's messages in order, and a new widget's only once it has been
        built (which can take hundreds of milliseconds); a stop sent first to a player that already
        exists is handled at once. The new player's ``begin(interrupt=True)`` silences the rest.
        """
        for job in still_playing(list(self.history), time.monotonic()):
            job.player.stop()

    def _run(self, job: SpeechJob) -> Any:
        return job.run(self.client, self.voices)

    def _player(self, options: SpeakOptions) -> Any:
        spare = self.spares.take()
        if spare is None:
            return self._new_player(options)
        if spare.show_timeline != options.timeline:
            spare.show_timeline = options.timeline
        return spare

    def _new_player(self, options: SpeakOptions) -> Any:
        cls = self._player_class
        wanted = {"show_timeline": options.timeline, "queue_id": self.queue_id}
        return cls(**{k: v for k, v in wanted.items() if cls.class_traits().get(k) is not None})

    def _open_spare_socket(self, options: SpeakOptions) -> None:
        asyncio.run_coroutine_threadsafe(
            self.sockets.open(self.client, options.voice, connection_kwargs(options)), background_loop())

    def stop(self) -> None:
        """Stop every unfinished job (``%unload_ext``), and close a socket opened ahead."""
        self.queue.stop_all()
        closing = asyncio.run_coroutine_threadsafe(self.sockets.discard(), background_loop())
        concurrent.futures.wait([closing], timeout=5)  # best effort: never a hang on unload

    # --- settings --------------------------------------------------------------------------------

    def voice_controls(self, voices: list[dict[str, Any]] | None = None) -> Any:
        """The voice-controls panel bound to this extension's defaults (see :func:`.controls.voice_controls`)."""
        return build_panel(self, self.voices() if voices is None else voices)

    def speakers(self, **voices: dict[str, Any] | str) -> dict[str, dict[str, Any]]:
        """Set per-speaker voices and settings for ``%%speak --dialog``.

        ``speakers(Alice={"voice": "joe", "speed": 1.1}, Bob="espeak-en-gb")``.
        """
        parsed = parse_speaker_specs(voices)
        self.defaults = self.defaults.updated(speakers=parsed)
        return parsed

    def register(self, ipython: Any) -> None:
        """Register ``%%speak`` / ``%speak`` on ``ipython``, bound to this extension."""
        ipython.register_magics(SpeakMagics(ipython, self))
        ipython.register_magics(TraceMagics(ipython))
        watch_cells(ipython)
        self.spares.refill()  # the first %%speak's player, made now
        self._open_spare_socket(self.defaults)  # and its socket (starting the local server in the background)

    def unregister(self, ipython: Any) -> None:
        """Take ``%speak``, ``%%speak`` and ``%speak_trace`` away again (``%unload_ext``)."""
        for kind in ("line", "cell"):
            for name in ("speak", "speak_trace"):
                _magic_table(ipython).get(kind, {}).pop(name, None)


@functools.cache
def active() -> SpeechExtension:
    """The extension the module-level functions use: made once, by ``%load_ext`` or the first call."""
    return SpeechExtension(spare_players=True)


def _magic_table(ipython: Any) -> dict[str, dict[str, Any]]:
    return getattr(getattr(ipython, "magics_manager", None), "magics", {})


def load_ipython_extension(ipython: Any) -> SpeechExtension:
    """``%load_ext eleven_nb``: register the magics. Loading twice keeps the same queue and defaults."""
    extension = active()
    extension.register(ipython)
    return extension


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext eleven_nb``: stop what is still speaking, and take ``%speak``/``%%speak`` away."""
    extension = active()
    extension.stop()
    extension.unregister(ipython)


def speak(source: TextSource, **options: Any) -> Any:
    """``eleven_nb.speak(...)``: :meth:`SpeechExtension.speak` on the active extension."""
    return active().speak(source, **options)


def voice_controls(voices: list[dict[str, Any]] | None = None) -> Any:
    """``eleven_nb.voice_controls()``: sliders and menus bound to the session defaults.

    Every change updates the defaults at once, so the next ``%%speak`` (and a
    player's "Speak again") uses it. ``voices`` defaults to the endpoint's ``/v1/voices``.
    Settings the endpoint accepts but ignores for the chosen voice are greyed out.
    """
    return active().voice_controls(voices)


def speakers(**voices: dict[str, Any] | str) -> dict[str, dict[str, Any]]:
    """``eleven_nb.speakers(Alice="joe", Bob={"voice": "espeak-en-gb", "speed": 1.1})``: dialog voices."""
    return active().speakers(**voices)
