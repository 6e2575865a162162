"""An extension object of the test's own, talking to the real local server, with players that record."""
from __future__ import annotations

import time
from typing import Any

import pytest
from IPython import get_ipython
from IPython.testing.globalipapp import start_ipython

import eleven_nb
from eleven_nb.jupyter.extension import SpeechExtension
from eleven_nb.jupyter.widget import Player


class RecordingPlayer(Player):
    """A real player whose messages to the browser are kept in ``sent`` instead of going to a comm."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.sent: list[tuple[dict, list]] = []

    def send(self, content, buffers=None):  # type: ignore[override]
        self.sent.append((content, list(buffers or [])))

    def kinds(self) -> list[str]:
        return [c["type"] for c, _ in self.sent]

    def chunks(self) -> list[tuple[dict, list]]:
        return [(c, b) for c, b in self.sent if c["type"] == "chunk"]


def recording_into(players: list[RecordingPlayer]) -> type[RecordingPlayer]:
    """A player class whose instances also append themselves to ``players``."""

    class Recording(RecordingPlayer):
        def __init__(self, **kwargs: Any):
            super().__init__(**kwargs)
            players.append(self)

    return Recording


@pytest.fixture
def players() -> list[RecordingPlayer]:
    """Every player the test's extension made, in order."""
    return []


@pytest.fixture
def ext(espeak_server, players):
    """A fresh extension (client, defaults, queue) on the espeak server; stopped afterwards."""
    extension = SpeechExtension(eleven_nb.AsyncClient(base_url=espeak_server.url), player_class=recording_into(players))
    yield extension
    extension.stop()


@pytest.fixture
def ip(ext):
    """IPython's test shell with ``%%speak`` bound to this test's extension."""
    shell = start_ipython() or get_ipython()  # the test shell is made once per process
    ext.register(shell)
    return shell


def drain(extension: SpeechExtension, timeout: float = 60.0) -> None:
    """Wait until every job of the extension's queue has finished (whatever the outcome)."""
    deadline = time.monotonic() + timeout
    while extension.queue.pending:
        assert time.monotonic() < deadline, "the speech queue did not drain"
        time.sleep(0.05)
