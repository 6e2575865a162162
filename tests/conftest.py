"""Shared fixtures: a real local server on a loopback port, run in a background thread.

The server is the real application (routes, sessions, the espeak-ng engine,
encoders); only its event loop lives in a thread of the test process, so tests
can talk to it with any client, sync or async, over a real WebSocket.
"""
from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from hypothesis import settings
from aiohttp import web

from eleven_nb.server.app import build_state, create_app
from eleven_nb.server.guard import make_runner


# Property tests check what holds, not how fast: a shared 2-core machine (or CI) must not fail them
# on a slow example. Speed goals live in bench/.
settings.register_profile("eleven_nb", deadline=None)
settings.load_profile("eleven_nb")


@dataclass
class LocalServer:
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


class ThreadedServer:
    """Runs ``create_app(state)`` on 127.0.0.1:0 in a thread; ``stop()`` shuts it down."""

    def __init__(self, state, **runner_kwargs):
        self.state = state
        self.runner_kwargs = runner_kwargs  # e.g. keepalive_timeout, max_connections (the transport guards)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True, name="eleven_nb-test-server")
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("test server did not start within 30 s")

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.runner = make_runner(create_app(self.state), **self.runner_kwargs)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    @property
    def server(self) -> LocalServer:
        return LocalServer(f"http://127.0.0.1:{self.port}", self.state, self.loop)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)


@pytest.fixture(scope="session")
def espeak_server():
    """The local server with the espeak-ng engine (fast), no keys."""
    threaded = ThreadedServer(build_state("espeak"))
    yield threaded.server
    threaded.stop()


@pytest.fixture(scope="session")
def keyed_server():
    """The local server with espeak-ng, requiring one of two keys."""
    threaded = ThreadedServer(build_state("espeak", api_keys=("key-one", "key-two"), max_connections=8))
    yield threaded.server
    threaded.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server process exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a server we started, by its PID (its process group, for gunicorn's workers)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def start_process(args: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args] if args[0] == "-m" else args, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


@pytest.fixture(scope="session")
def piper_server():
    """The local server with the piper neural voice (the default engine)."""
    pytest.importorskip("piper")
    threaded = ThreadedServer(build_state("piper"))
    yield threaded.server
    threaded.stop()


@pytest.fixture(scope="session", autouse=True)
def private_runtime_dir(tmp_path_factory):
    """Shared voice servers started by tests publish in a temporary directory, never the user's,
    and are stopped by PID at the end of the session."""
    from eleven_nb import local_server

    patch = pytest.MonkeyPatch()
    patch.setenv(local_server.RUNTIME_DIR_ENV, str(tmp_path_factory.mktemp("runtime")))
    yield local_server.runtime_dir()
    for info in local_server.running():
        local_server.stop(info)
    patch.undo()
