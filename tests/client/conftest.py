"""The local server as a child process (espeak-ng), as the client meets it in real use.

``server`` is one process for the whole session: started on a free loopback
port by :func:`eleven_nb.spawn.spawn_server`, awaited through its announce line
(with a deadline), stopped by PID at the end. ``start_server`` starts private
ones (the reconnect test kills one).
"""
from __future__ import annotations

import pytest

from eleven_nb.spawn import ServerProcess, spawn_server

ANNOUNCE_TIMEOUT = 60.0


def start_server(port: int = 0, *extra: str, timeout: float = ANNOUNCE_TIMEOUT) -> ServerProcess:
    """``eleven-nb serve --engine espeak`` on 127.0.0.1:PORT (0: a free port), once it has announced itself."""
    return spawn_server("espeak", *extra, port=port, timeout=timeout)


@pytest.fixture(scope="session")
def server():
    child = start_server()
    yield child
    child.stop()
