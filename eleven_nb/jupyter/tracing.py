"""The kernel's side of a trace, and ``%speak_trace`` (see :mod:`eleven_nb.trace`).

With ``ELEVEN_NB_TRACE=1`` a spoken cell records when its magic was parsed, its job
queued and started, its socket connected, its first text queued, its first audio frame
received and decoded, and its first chunk handed to ``widget.send``. When the job ends,
the local server's stages for that socket (keyed by this end's port) are fetched and
merged, and the whole kernel-side trace is sent to the player, which adds the browser's
stages (message received, view created, first ``AudioBufferSourceNode.start``) and shows
them with its debug handles. The kernel cannot hear the browser while a cell runs, so
``%speak_trace`` shows the kernel's and the server's stages only.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import os
import urllib.parse
import urllib.request
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

from .. import trace
from ..trace import Trace

FETCH_TIMEOUT_S = 2.0
CONNECTED = "kernel: socket connected"
FRAME_RECEIVED = "kernel: first audio frame received"
FRAME_DECODED = "kernel: first audio frame decoded"


def socket_of(mux: Any) -> Any:
    """The client :class:`~eleven_nb.client.socket.Socket` under a multi-stream-input connection."""
    return getattr(mux, "_socket", None)


def connected(job_trace: Trace, mux: Any) -> None:
    """The job's socket is open: note it, and the port the server keys its trace by."""
    if job_trace.on:
        job_trace.mark(CONNECTED)
        sock = socket_of(mux)
        job_trace.notes["port"] = sock.local_port if sock is not None else None


def first_audio(job_trace: Trace, mux: Any) -> None:
    """Copy when the socket received and decoded its first audio frame."""
    if not job_trace.on or FRAME_DECODED in job_trace.stages:
        return
    sock = socket_of(mux)
    if sock is not None and sock.first_audio_ms is not None:
        job_trace.mark(FRAME_RECEIVED, sock.first_audio_ms[0])
        job_trace.mark(FRAME_DECODED, sock.first_audio_ms[1])


def server_stages(endpoint: Any, port: int) -> dict[str, float]:
    """The server's stages for the socket from ``port`` (blocking; empty if the server has none)."""
    if getattr(endpoint, "kind", "real") == "real":
        return {}  # the real service keeps no such log
    url = endpoint.url("/debug/trace?" + urllib.parse.urlencode({"port": port}))
    request = urllib.request.Request(url, headers=endpoint.headers())
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
            stages = json.loads(response.read()).get("stages", {})
    except (OSError, ValueError):  # a server without tracing (started before ELEVEN_NB_TRACE=1) says 404
        return {}
    return {str(k): float(v) for k, v in stages.items()}


async def finish(job_trace: Trace, client: Any, player: Any) -> None:
    """The job ended: add the server's stages and send the kernel-side trace to the player."""
    if not job_trace.on:
        return
    port = job_trace.notes.get("port")
    if isinstance(port, int):
        endpoint = await asyncio.to_thread(lambda: client.endpoint)
        job_trace.merge(await asyncio.to_thread(server_stages, endpoint, port))
    player.send({"type": "trace", "stages": dict(job_trace.stages)})


def _cell_started(*_: Any) -> None:
    trace.cell_started(request_sent_ms() if trace.enabled() else None)


def request_sent_ms() -> float | None:
    """When the front end made the running cell's ``execute_request``: its header's ``date`` (the page's
    clock, to the millisecond), which splits the wait before "cell started" into the page's share and the
    relay's. None outside a kernel or without a date."""
    from IPython import get_ipython

    kernel = getattr(get_ipython(), "kernel", None)
    try:
        date = kernel.get_parent("shell")["header"]["date"]  # type: ignore[union-attr]
        if isinstance(date, str):
            date = datetime.datetime.fromisoformat(date.replace("Z", "+00:00"))
        return float(date.timestamp() * 1000)
    except Exception:  # a hook on every traced cell: an odd header (or kernel) must never print a traceback
        return None


def watch_cells(ipython: Any) -> None:
    """Note when each cell starts (a clock read; a trace's first stage). Registered once per shell."""
    if _cell_started not in ipython.events.callbacks["pre_run_cell"]:
        ipython.events.register("pre_run_cell", _cell_started)


@magics_class
class TraceMagics(Magics):
    """``%speak_trace``: the last spoken cell's stages."""

    @line_magic
    def speak_trace(self, line: str = "") -> None:
        """Show the stages of the last ``%%speak`` (kernel and local server) as a table.

        ``%speak_trace on`` / ``off`` turns tracing on or off for the next cells (the local
        server traces only if it was started with it on); ``%speak_trace --json`` prints the
        stages as JSON (wall-clock milliseconds). Also on: ``ELEVEN_NB_TRACE=1``.
        """
        arg = line.strip()
        if arg in ("on", "off"):
            os.environ[trace.ENV] = "1" if arg == "on" else "0"
            print(f"eleven_nb: tracing {arg}")
            return
        last = trace.last()
        if last is None:
            state = "on" if trace.enabled() else f"off: %speak_trace on, or {trace.ENV}=1"
            print(f"no utterance traced yet (tracing is {state})")
        elif arg == "--json":
            print(json.dumps(last.stages))
        else:
            print(last.table())
