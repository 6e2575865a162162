"""Shared fixtures: a real local server on a loopback port, run in a background thread.

The server is the real application (routes, sessions, the espeak-ng engine,
encoders); only its event loop lives in a thread of the test process, so tests
can talk to it with any client, sync or async, over a real WebSocket.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from hypothesis import settings

from eleven_nb.server.app import build_state
from eleven_nb.server.thread import LocalServer, ServerThread  # noqa: F401  (fixtures' types)


# Property tests check what holds, not how fast: a shared 2-core machine (or CI) must not fail them
# on a slow example. Speed goals live in bench/.
settings.register_profile("eleven_nb", deadline=None)
settings.load_profile("eleven_nb")


ThreadedServer = ServerThread  # the name the tests know


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
