"""Run the local server until interrupted, announcing where it listens."""
from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys

from aiohttp import web

from .app import build_state, create_app
from .guard import make_runner

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def exposure_warning(host: str, api_keys: tuple[str, ...]) -> str | None:
    """The warning for a server reachable beyond this machine with no keys, if that is the case."""
    if host in (LOOPBACK, "localhost", "::1") or api_keys:
        return None
    return (f"warning: serving on {host} without API keys: anyone who can reach this machine can use it. "
            "Pass --api-key to require one.")


def serve(host: str = LOOPBACK, port: int = 8765, *, engine: str = "piper", voice_path: str | None = None,
          api_keys: tuple[str, ...] = (), max_connections: int | None = None, announce: bool = False) -> None:
    """Serve until SIGINT/SIGTERM. With ``announce``, print one JSON line once listening:
    ``{"event": "listening", "url": "http://HOST:PORT"}`` (how a parent learns a port-0 pick)."""
    warning = exposure_warning(host, api_keys)
    if warning:
        print(warning, file=sys.stderr)
    kwargs = {"max_connections": max_connections} if max_connections else {}
    state = build_state(engine, voice_path, api_keys=api_keys, **kwargs)
    asyncio.run(_serve(create_app(state), host, port, announce))


async def _serve(app: web.Application, host: str, port: int, announce: bool) -> None:
    runner = make_runner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1] if port == 0 else port  # type: ignore[union-attr]
    url = f"http://{host if ':' not in host else f'[{host}]'}:{bound}"
    if announce:
        print(json.dumps({"event": "listening", "url": url}), flush=True)
    else:
        print(f"eleven_nb server listening on {url} (voices: {url}/v1/voices)", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
