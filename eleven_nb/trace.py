"""Stage times of one utterance, to find where the time to first audio goes (off by default).

A :class:`Trace` keeps the first time each named stage happened, in milliseconds of the
wall clock (``time.time()``), the one clock the kernel, the local server and the browser
(``performance.timeOrigin + performance.now()``) share on one machine. ``ELEVEN_NB_TRACE=1``
turns tracing on; when it is off every :meth:`Trace.mark` is a no-op on :data:`OFF`.

- The kernel starts a trace when a ``%%speak`` cell has been parsed (:func:`start`); the job
  made for that cell takes it over (:func:`claim`) and marks its own stages.
- A server keeps one trace per socket in a small ring (:class:`StageLog`), keyed by the client's
  port, and answers for it after the fact: nothing extra travels in the audio frames.

Pure: imports nothing from eleven_nb.
"""
from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

ENV = "ELEVEN_NB_TRACE"
LOG_SIZE = 64  # socket traces a server keeps
CELL_STARTED = "kernel: cell started"
REQUEST_SENT = "kernel: execute_request header date (when the page made it)"


def enabled() -> bool:
    """``ELEVEN_NB_TRACE`` is set to something true (read every time: ``%speak_trace on`` may set it)."""
    return os.environ.get(ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def now_ms() -> float:
    """The trace clock: wall-clock milliseconds."""
    return time.time() * 1000.0


@dataclass(frozen=True)
class Row:
    """One stage in time order: when (wall ms), since the first stage, and since the one before."""

    stage: str
    at_ms: float
    since_start_ms: float
    step_ms: float


class Trace:
    """The first time of each stage. Thread-safe; a trace that is off records nothing."""

    def __init__(self, on: bool = True) -> None:
        self.on = on
        self.stages: dict[str, float] = {}
        self.notes: dict[str, object] = {}  # what finds the other ends' stages (a socket's port)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Trace {'on' if self.on else 'off'}, {len(self.stages)} stage(s)>"

    def mark(self, stage: str, at_ms: float | None = None) -> None:
        """Note ``stage`` now (or at ``at_ms``); a stage already noted keeps its first time."""
        if not self.on:
            return
        at = now_ms() if at_ms is None else float(at_ms)
        with self._lock:
            self.stages.setdefault(stage, at)

    def merge(self, stages: Mapping[str, float], prefix: str = "") -> None:
        """Add stages measured elsewhere (a server's, the browser's), on the same clock."""
        for stage, at in stages.items():
            self.mark(prefix + stage, at)

    def rows(self) -> list[Row]:
        """The stages in time order."""
        with self._lock:
            return rows(self.stages)

    def table(self) -> str:
        """The stages as a fixed-width text table."""
        return table(self.rows())


OFF = Trace(on=False)  # what every hook gets while tracing is off


def rows(stages: Mapping[str, float], origin: float | None = None) -> list[Row]:
    """``stages`` (name -> wall ms) in time order, timed from ``origin`` (default: the earliest)."""
    ordered = sorted(stages.items(), key=lambda item: item[1])
    if not ordered:
        return []
    start = ordered[0][1] if origin is None else origin
    out, previous = [], start
    for stage, at in ordered:
        out.append(Row(stage, at, at - start, at - previous))
        previous = at
    return out


def table(trace_rows: Iterable[Row]) -> str:
    """``stage | ms since start | step`` as aligned text."""
    listed = list(trace_rows)
    if not listed:
        return "(no stages recorded)"
    width = max(len("stage"), *(len(r.stage) for r in listed))
    lines = [f"{'stage':<{width}}  {'since start':>11}  {'step':>8}", f"{'-' * width}  {'-' * 11}  {'-' * 8}"]
    lines += [f"{r.stage:<{width}}  {r.since_start_ms:>8.1f} ms  {r.step_ms:>5.1f} ms" for r in listed]
    return "\n".join(lines)


class StageLog:
    """The traces of the last ``size`` sockets, by key (a server: the client's port)."""

    def __init__(self, size: int = LOG_SIZE) -> None:
        self._traces: collections.OrderedDict[Hashable, Trace] = collections.OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def record(self, key: Hashable) -> Trace:
        """A new trace for ``key`` (replacing an older one of that key); the oldest goes past ``size``."""
        trace = Trace()
        with self._lock:
            self._traces.pop(key, None)
            self._traces[key] = trace
            while len(self._traces) > self._size:
                self._traces.popitem(last=False)
        return trace

    def find(self, key: Hashable) -> dict[str, float] | None:
        """The stages recorded for ``key``, or None."""
        with self._lock:
            trace = self._traces.get(key)
        return dict(trace.stages) if trace is not None else None


# --- the kernel's traces: one per utterance ----------------------------------------------------

_local = threading.local()  # the trace a magic started in this thread, not yet taken by its job
_last: list[Trace] = []  # the latest claimed trace


def cell_started(requested_at: float | None = None) -> None:
    """A cell starts running in this thread (IPython's ``pre_run_cell``): the trace's first stage, if any;
    ``requested_at``, when the front end sent the cell (:data:`REQUEST_SENT`), comes before it."""
    _local.cell_at = now_ms() if enabled() else None
    _local.requested_at = requested_at if enabled() else None


def start(stage: str) -> Trace:
    """Start the trace of the utterance about to be made in this thread (a parsed magic)."""
    trace = Trace() if enabled() else OFF
    cell_at, requested_at = getattr(_local, "cell_at", None), getattr(_local, "requested_at", None)
    if requested_at is not None:
        trace.mark(REQUEST_SENT, requested_at)
    if cell_at is not None:
        trace.mark(CELL_STARTED, cell_at)
    trace.mark(stage)
    _local.pending, _local.cell_at, _local.requested_at = trace, None, None
    return trace


def claim() -> Trace:
    """The trace for a new job: the one :func:`start` began in this thread, else a fresh one (or OFF)."""
    trace = getattr(_local, "pending", None)
    _local.pending = None
    if trace is None or not trace.on:
        trace = Trace() if enabled() else OFF
    if trace.on:
        _last[:] = [trace]
    return trace


def last() -> Trace | None:
    """The latest utterance's trace, if one was recorded."""
    return _last[0] if _last else None
