"""The kernel's speech queue: synthesis of one job after another, and interrupts.

This orders *synthesis* only. What is heard is ordered in the browser: the players
of one kernel share one playback queue on the page (their ``queue_id``), because
the kernel cannot hear back from the browser while a cell runs.

- A job starts when every earlier job has finished (or failed, or been stopped).
- An interrupting job first stops every unfinished earlier job: a running one has
  its open contexts closed at the server and its task cancelled; a queued one is
  cancelled before it sends anything, and never plays.
- A job that fails shows the failure once, never on stderr: in its player's status
  line, or, with ``--wait``, as the :class:`SpeechFailed` the waiting cell raises
  (the status line then points to it).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..client.errors import ElevenError
from ..client.loop import background_loop
from .speaker import SpeechJob

if TYPE_CHECKING:
    from .widget import Player

INTERRUPTED = "interrupted"
STOPPED = "stopped"  # by the player's ■
SEE_BELOW = "failed: see the error below"


class SpeechFailed(ElevenError):
    """A spoken cell failed (an unknown voice, a server error). Shown in one line, no traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"{type(self).__name__}: {self}"]


class SpeechStopped(KeyboardInterrupt):
    """A kernel interrupt stopped a cell's speech: still an interrupt (Run All stops there), shown in one
    line rather than a traceback that repeats the whole cell."""

    def _render_traceback_(self) -> list[str]:
        return [f"KeyboardInterrupt: {self}"]


class SpeechQueue:
    """Runs jobs one after another on the background loop; an interrupting job cuts in."""

    def __init__(self, loop: Callable[[], asyncio.AbstractEventLoop] = background_loop):
        self._loop = loop
        self._lock = threading.Lock()
        self._jobs: list[SpeechJob] = []  # submitted and not yet finished, in order

    @property
    def pending(self) -> list[SpeechJob]:
        """The jobs not finished yet (running or waiting), oldest first."""
        with self._lock:
            return [job for job in self._jobs if job.future is not None and not job.future.done()]

    def submit(self, job: SpeechJob, run: Callable[[SpeechJob], Awaitable[None]], *,
               interrupt: bool = False) -> concurrent.futures.Future:
        """Queue ``run(job)``; with ``interrupt`` stop every earlier job first. Returns the job's future."""
        with self._lock:
            earlier = [j for j in self._jobs if j.future is not None and not j.future.done()]
            self._jobs = [*earlier, job]
            job.future = asyncio.run_coroutine_threadsafe(self._runner(job, earlier, run, interrupt),
                                                          self._loop())
        job.future.add_done_callback(lambda _: job.first_chunk_sent.set())  # no audio will come now
        return job.future

    async def _runner(self, job: SpeechJob, earlier: list[SpeechJob],
                      run: Callable[[SpeechJob], Awaitable[None]], interrupt: bool) -> None:
        job.task = asyncio.current_task()
        try:
            if interrupt:
                await asyncio.gather(*(self._stop(j) for j in earlier))
            elif earlier:
                # asyncio.wait neither raises the earlier jobs' errors nor swallows our own cancellation
                await asyncio.wait([asyncio.wrap_future(j.future) for j in earlier])
            await run(job)
        except asyncio.CancelledError:
            _mark_interrupted(job)
            raise
        except Exception as exc:  # never silent: the player's status line says what went wrong
            message = describe(exc)
            # shown once: a waiting cell fails with the message (the player, above it, points there)
            job.player.fail(SEE_BELOW if job.options.wait else message)
            raise SpeechFailed(message) from exc
        finally:
            with self._lock:
                self._jobs = [j for j in self._jobs if j is not job]

    async def _stop(self, job: SpeechJob, reason: str = INTERRUPTED) -> None:
        """Stop one job: close its contexts at the server, then cancel it and wait until it has stopped."""
        if job.future is None or job.future.done():
            return
        job.interrupted = reason  # before the cancel: the job's own handler then marks it with this reason
        await job.close_contexts()
        if job.task is None:  # not started on the loop yet: it never will
            job.future.cancel()
            _mark_interrupted(job)
            return
        job.task.cancel()
        await asyncio.wait([job.task])
        # closing its contexts may have let the job end by itself, as if complete: it was stopped
        _mark_interrupted(job)

    def stop(self, job: SpeechJob, reason: str = INTERRUPTED) -> concurrent.futures.Future:
        """Stop ``job`` from any thread (a kernel interrupt during ``--wait``, the player's ■)."""
        return asyncio.run_coroutine_threadsafe(self._stop(job, reason), self._loop())

    def stop_player(self, player: Player) -> None:
        """The user pressed ■ on ``player``: its unfinished jobs stop making speech (a queued one never
        starts), so the cells after it do not wait for audio nobody will hear."""
        for job in self.pending:
            if job.player is player:
                self.stop(job, reason=STOPPED)

    def stop_all(self) -> None:
        """Stop every unfinished job, and wait (briefly) until they have stopped."""
        futures = [self.stop(job) for job in self.pending]
        concurrent.futures.wait(futures, timeout=5)

    def hold(self, job: SpeechJob, timeout: float) -> None:
        """Block until ``job``'s first chunk has gone to the browser (or it ended), at most ``timeout`` s.

        A cell that returns at once has the kernel send its ``execute_reply`` and ``idle`` while the
        first chunk is being made; the page handles them (the prompt, the toolbar, a redraw) first, and
        the chunk waits behind that work. Held this long, the cell's end reaches the page after the
        chunk. A kernel interrupt while holding stops the job, as in :meth:`wait`.
        """
        try:
            job.first_chunk_sent.wait(timeout)
        except KeyboardInterrupt:
            self.stop(job)
            raise SpeechStopped("the speech was stopped") from None

    def wait(self, job: SpeechJob, timeout: float | None = None) -> None:
        """Block until ``job``'s synthesis is complete; raise :class:`SpeechFailed` if it failed.

        A job stopped by a later ``--interrupt`` returns quietly. A kernel interrupt
        (``KeyboardInterrupt``) while waiting stops the job too.
        """
        try:
            job.future.result(timeout)
        except concurrent.futures.CancelledError:
            return
        except KeyboardInterrupt:
            self.stop(job)
            raise SpeechStopped("the speech was stopped") from None  # one line, not the wait's frames


def still_playing(jobs: list[SpeechJob], now: float) -> list[SpeechJob]:
    """The jobs (oldest first) whose players certainly have not finished playing at ``now`` (monotonic).

    Unfinished jobs, and finished ones whose audio cannot have ended yet: the browser plays each
    after the one before it, so a job's playback ends no earlier than the later of its first
    audio and the previous job's end, plus its length. Stopped jobs played to no end and add
    nothing. Where this cannot be sure, it leaves the job out (the browser decides then).
    """
    playing, earliest_end = [], 0.0
    for job in jobs:
        unfinished = job.future is None or not job.future.done()
        if not unfinished and job.future.cancelled():
            continue
        if job.first_audio_at is not None:
            earliest_end = max(job.first_audio_at, earliest_end) + job.audio_ms / 1000
        if unfinished or (job.first_audio_at is not None and now < earliest_end):
            playing.append(job)
    return playing


def _mark_interrupted(job: SpeechJob) -> None:
    """Once: the player says why the job ended early. An interrupt also silences it in the browser; a ■
    needs no such message, the browser having stopped it already."""
    if job.marked:
        return
    job.marked = True
    reason = job.interrupted or INTERRUPTED
    if reason == INTERRUPTED:
        job.player.stop()
    job.player.set_status("done", reason)


def describe(exc: BaseException) -> str:
    """One line for the status line: the server's message and close code, or the exception's text."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    code = getattr(exc, "code", None)
    return f"{message} (close code {code})" if code else message


