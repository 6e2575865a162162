"""Run the local server until interrupted, announcing where it listens.

As the per-user shared server (``--publish FILE --idle-exit SECONDS``, started by
:mod:`eleven_nb.local_server`), it also writes its runtime file once listening,
exits after the idle time, and removes the file.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

from aiohttp import web

from .. import local_server
from .app import build_state, create_app
from .guard import make_runner
from .idle import IdleWatch

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def exposure_warning(host: str, api_keys: tuple[str, ...]) -> str | None:
    """The warning for a server reachable beyond this machine with no keys, if that is the case."""
    if host in (LOOPBACK, "localhost", "::1") or api_keys:
        return None
    return (f"warning: serving on {host} without API keys: anyone who can reach this machine can use it. "
            "Pass --api-key to require one.")


def check_port_free(host: str, port: int) -> None:
    """Raise ``OSError`` (address in use, or not this machine's) or ``ValueError`` (out of range) now.

    Only a check: the port is bound for real once the first voice is loaded, and another
    process could take it in between (then that bind fails as it always did).
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be 0-65535, not {port}")
    if port == 0:
        return
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds: TIME_WAIT is no clash
            try:
                probe.bind(address)
            except OSError as exc:
                taken = OSError(f"cannot listen on {host}:{port}: {exc.strerror}")
                taken.errno = exc.errno
                raise taken from None


def serve(host: str = LOOPBACK, port: int = 8765, *, engine: str = "default", voice_path: str | None = None,
          api_keys: tuple[str, ...] = (), max_connections: int | None = None, announce: bool = False,
          publish: str | None = None, idle_exit: float | None = None) -> None:
    """Serve until SIGINT/SIGTERM. With ``announce``, print one JSON line once listening:
    ``{"event": "listening", "url": "http://HOST:PORT"}`` (how a parent learns a port-0 pick).

    ``publish``: write the shared server's runtime file there (URL, PID, the first key),
    and remove it at exit. ``idle_exit``: exit after that many seconds with no request.
    """
    if publish and not api_keys:
        raise ValueError("a published server needs a key (ELEVEN_NB_SERVER_API_KEYS)")
    check_port_free(host, port)  # before loading a voice: a taken port fails in milliseconds, not seconds
    warning = exposure_warning(host, api_keys)
    if warning:
        print(warning, file=sys.stderr)
    kwargs = {"max_connections": max_connections} if max_connections else {}
    state = build_state(engine, voice_path, api_keys=api_keys, background=True, **kwargs)  # listen sooner
    app = create_app(state)
    watch = IdleWatch(idle_exit) if idle_exit else None
    if watch is not None:
        app.middlewares.append(watch.middleware)
    runtime = Published(Path(publish), engine, api_keys[0]) if publish else None
    asyncio.run(_serve(app, host, port, announce, watch, runtime))


class Published:
    """The shared server's runtime file: written once listening, removed at exit."""

    def __init__(self, path: Path, engine: str, key: str) -> None:
        self.path, self.engine, self._key = path, engine, key

    def write(self, url: str) -> None:
        local_server.publish(self.path, local_server.SharedServer(url, os.getpid(), self.engine, self._key,
                                                                  time.time()))

    def withdraw(self) -> None:
        local_server.unpublish(self.path, os.getpid())

    def withdraw_if_unlocked(self) -> bool:
        """Remove the file unless a client holds the lock (it is checking on us: stay)."""
        with local_server.locked(self.path, wait=False) as got:
            if got:
                self.withdraw()
            return got


async def _serve(app: web.Application, host: str, port: int, announce: bool,
                 watch: IdleWatch | None = None, runtime: Published | None = None) -> None:
    runner = make_runner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = int(runner.addresses[0][1]) if port == 0 else port  # the free port the system chose
    url = f"http://{host if ':' not in host else f'[{host}]'}:{bound}"
    if runtime is not None:
        runtime.write(url)  # before the announce line: whoever reads that line finds the file
    if announce:
        print(json.dumps({"event": "listening", "url": url}), flush=True)
    else:
        print(f"eleven_nb server listening on {url} (voices: {url}/v1/voices)", file=sys.stderr, flush=True)
    if runtime is not None:  # detached: the parent that read our stdout may be gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    idle = asyncio.create_task(_exit_when_idle(watch, runtime, stop)) if watch is not None else None
    try:
        await stop.wait()
    finally:
        if idle is not None:
            idle.cancel()
        if runtime is not None:
            runtime.withdraw()
        await runner.cleanup()


async def _exit_when_idle(watch: IdleWatch, runtime: Published | None, stop: asyncio.Event) -> None:
    while True:
        await watch.idle()
        if runtime is None or runtime.withdraw_if_unlocked():
            log.info("no request for %.0f s: exiting", watch.idle_s)
            stop.set()
            return
        await asyncio.sleep(0.5)
