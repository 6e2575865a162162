"""The local server in a background thread of this process: for embedding it, for tests and benchmarks.

``ServerThread(state)`` runs the real application (routes, sessions, engines,
encoders, the transport guards) on 127.0.0.1 on a free port, on an event loop of
its own, so any client, sync or async, can talk to it over real sockets.
``stop()`` shuts it down; the thread is a daemon, so it never outlives the process.
"""
from __future__ import annotations

import asyncio
import io
import threading
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from .app import create_app
from .guard import make_runner

START_TIMEOUT = 30.0  # seconds


@dataclass
class LocalServer:
    """Where a :class:`ServerThread` listens, and a look at its loop (tasks still alive, their stacks)."""

    url: str  # http://127.0.0.1:PORT
    state: object
    loop: asyncio.AbstractEventLoop  # the server's own loop (in its thread)

    def server_tasks(self) -> list[str]:
        """Names of the eleven_nb tasks alive on the server's loop."""
        async def names():
            return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("eleven_nb")]
        return asyncio.run_coroutine_threadsafe(names(), self.loop).result(10)

    def task_stacks(self) -> str:
        """The stacks of the eleven_nb tasks alive on the server's loop (for a failing assertion)."""
        async def stacks():
            out = io.StringIO()
            for task in asyncio.all_tasks():
                if task.get_name().startswith("eleven_nb"):
                    task.print_stack(file=out)
            return out.getvalue()
        return asyncio.run_coroutine_threadsafe(stacks(), self.loop).result(10)

    def ws_url(self, voice_id: str = "21m00Tcm4TlvDq8ikWAM", endpoint: str = "stream-input", **query) -> str:
        q = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in query.items() if v is not None}
        base = self.url.replace("http://", "ws://")
        return f"{base}/v1/text-to-speech/{voice_id}/{endpoint}" + (f"?{urlencode(q)}" if q else "")


class ServerThread:
    """Runs ``create_app(state)`` on 127.0.0.1 (a free port) in a thread; ``stop()`` shuts it down."""

    def __init__(self, state, **runner_kwargs):
        self.state = state
        self.runner_kwargs = runner_kwargs  # e.g. keepalive_timeout, max_connections (the transport guards)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True, name="eleven_nb-server-thread")
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError(f"the server did not start within {START_TIMEOUT:.0f} s")

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.runner = make_runner(create_app(self.state), **self.runner_kwargs)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = int(self.runner.addresses[0][1])  # the free port the system chose
        self._ready.set()
        self.loop.run_forever()

    @property
    def server(self) -> LocalServer:
        return LocalServer(f"http://127.0.0.1:{self.port}", self.state, self.loop)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
