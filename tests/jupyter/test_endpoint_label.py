"""The player names the server that speaks: after a reconnect to a local server started anew, the new one."""
from __future__ import annotations

import os
import signal
import time

import eleven_nb
from eleven_nb import local_server
from eleven_nb.client import Reconnect
from eleven_nb.jupyter.extension import SpeechExtension
from eleven_nb.spawn import pid_alive, stop_pid

from tests.jupyter.conftest import drain, recording_into

SENTENCE = "The shared voice server may stop while a cell speaks, and the cell goes on. "


def label_of(info: local_server.SharedServer) -> str:
    return f"local voice server ({info.url.split('://')[1]})"


def test_the_label_follows_a_reconnect_to_a_shared_server_started_anew(tmp_path, monkeypatch):
    monkeypatch.setenv(local_server.RUNTIME_DIR_ENV, str(tmp_path / "run"))  # this test's own shared server
    monkeypatch.setenv("ELEVEN_NB_ENGINE", "espeak")
    for name in ("ELEVENLABS_API_KEY", "ELEVEN_NB_BASE_URL", local_server.SHARED_ENV):
        monkeypatch.delenv(name, raising=False)
    players: list = []
    client = eleven_nb.AsyncClient(reconnect=Reconnect(max_attempts=5, base_delay=0.1, max_delay=0.5))
    ext = SpeechExtension(client, player_class=recording_into(players))
    pids: list[int] = []
    try:
        player = ext.speak(SENTENCE * 300, ahead=0)  # long enough that the kill lands inside it; made flat out
        deadline = time.monotonic() + 60
        while len(player.chunks()) < 3 or not player.endpoint_label:
            assert time.monotonic() < deadline, "no audio from the first server"
            time.sleep(0.02)
        first = local_server.read(local_server.runtime_path("espeak"))
        assert first is not None and player.endpoint_label == label_of(first)
        pids.append(first.pid)
        os.kill(first.pid, signal.SIGKILL)
        drain(ext, timeout=120)
        second = local_server.read(local_server.runtime_path("espeak"))
        assert second is not None and second.pid != first.pid
        pids.append(second.pid)
        assert player.status == "done"
        assert player.endpoint_label == label_of(second)  # not the dead server's port
    finally:
        ext.stop()
        for pid in pids + [info.pid for info in local_server.running()]:
            if pid_alive(pid):
                stop_pid(pid)
