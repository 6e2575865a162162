"""A player made ahead of time: handed out once, made again after each spoken cell (real server, espeak)."""
from __future__ import annotations

import asyncio
import time

from IPython import get_ipython
from IPython.testing.globalipapp import start_ipython

import eleven_nb
from eleven_nb.jupyter.extension import SpeechExtension
from eleven_nb.jupyter.spare import SparePlayers

from tests.jupyter.conftest import RecordingPlayer, recording_into


def test_a_spare_is_handed_out_once():
    made: list[object] = []
    spares = SparePlayers(lambda: made.append(object()) or made[-1])
    assert spares.take() is None
    spares.refill()
    spares.refill()  # one is enough
    assert len(made) == 1
    assert spares.take() is made[0] and spares.take() is None


def test_disabled_makes_none_and_a_failure_to_make_one_is_quiet():
    calls: list[int] = []
    off = SparePlayers(lambda: calls.append(1), enabled=False)
    off.refill()
    assert off.take() is None and calls == []

    def broken():
        raise RuntimeError("no comm")

    failing = SparePlayers(broken)
    failing.refill()
    assert failing.take() is None


def test_the_cell_displays_the_spare_and_a_new_one_is_made_after_it(espeak_server):
    players: list[RecordingPlayer] = []
    ext = SpeechExtension(eleven_nb.AsyncClient(base_url=espeak_server.url),
                          player_class=recording_into(players), spare_players=True)
    shell = start_ipython() or get_ipython()
    try:
        ext.register(shell)  # loading makes the first spare
        assert len(players) == 1 and players[0].kinds() == []
        assert shell.run_cell("%%speak --wait --no-timeline\nHello there.").success
        first = players[0]
        assert "chunk" in first.kinds() and first.show_timeline is False  # the spare spoke, with the cell's options
        deadline = time.monotonic() + 10
        while len(players) < 2 and time.monotonic() < deadline:  # made by the job's done callback
            time.sleep(0.02)
        assert len(players) == 2 and players[1].kinds() == []
        assert shell.run_cell("%%speak --wait\nAgain.").success
        assert "chunk" in players[1].kinds() and players[1].show_timeline is True
    finally:
        ext.stop()


def test_the_next_cell_speaks_on_the_socket_opened_after_the_last(espeak_server, monkeypatch):
    monkeypatch.setenv("ELEVEN_NB_TRACE", "1")  # the trace notes each job's socket (its local port)
    ext = SpeechExtension(eleven_nb.AsyncClient(base_url=espeak_server.url),
                          player_class=recording_into([]), spare_players=True)
    shell = start_ipython() or get_ipython()

    def spare_port(timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while ext.sockets._spare is None:
            assert time.monotonic() < deadline, "no socket was opened ahead"
            time.sleep(0.02)
        return ext.sockets._spare[2]._socket.local_port

    try:
        ext.register(shell)
        assert shell.run_cell("%%speak --wait\nOne.").success
        ahead = spare_port()
        assert shell.run_cell("%%speak --wait\nTwo.").success
        assert ext.history[-1].trace.notes["port"] == ahead  # taken: no handshake in that cell
        assert "chunk" in ext.history[-1].player.kinds()
        ahead = spare_port()
        assert shell.run_cell("%%speak --wait --format pcm_16000\nThree.").success  # other options
        assert ext.history[-1].trace.notes["port"] != ahead and "chunk" in ext.history[-1].player.kinds()
    finally:
        ext.stop()
    assert ext.sockets._spare is None


def test_loading_opens_a_socket_for_the_first_cell(espeak_server, monkeypatch):
    monkeypatch.setenv("ELEVEN_NB_TRACE", "1")
    ext = SpeechExtension(eleven_nb.AsyncClient(base_url=espeak_server.url),
                          player_class=recording_into([]), spare_players=True)
    shell = start_ipython() or get_ipython()
    try:
        ext.register(shell)  # opens a socket for the session defaults (here a given server)
        deadline = time.monotonic() + 10
        while ext.sockets._spare is None:
            assert time.monotonic() < deadline, "loading opened no socket for the session defaults"
            time.sleep(0.02)
        ahead = ext.sockets._spare[2]._socket.local_port
        assert shell.run_cell("%%speak --wait\nFirst.").success
        assert ext.history[-1].trace.notes["port"] == ahead and "chunk" in ext.history[-1].player.kinds()
    finally:
        ext.stop()


def test_loading_resolves_the_endpoint_in_the_background():
    import threading

    from eleven_nb.client.endpoint import Endpoint

    resolved_on: list[threading.Thread] = []

    class LocalClient:  # resolving is what starts the local voice server: it must not block the cell
        @property
        def endpoint(self):
            resolved_on.append(threading.current_thread())
            return Endpoint("real", "https://api.elevenlabs.io")  # then no socket is opened

    ext = SpeechExtension(LocalClient(), player_class=recording_into([]), spare_players=True)
    shell = start_ipython() or get_ipython()
    try:
        ext.register(shell)
        deadline = time.monotonic() + 10
        while not resolved_on:
            assert time.monotonic() < deadline, "loading did not resolve the endpoint"
            time.sleep(0.02)
        assert resolved_on[0] is not threading.main_thread() and ext.sockets._spare is None
    finally:
        ext.stop()


def test_an_endpoint_that_cannot_start_leaves_no_spare_and_no_error():
    from eleven_nb.client.errors import EndpointError
    from eleven_nb.jupyter.warm import SpareSockets

    class NoServerClient:
        @property
        def endpoint(self):
            raise EndpointError("cannot start the local voice server: no engine")

    sockets = SpareSockets(enabled=True)
    asyncio.run(sockets.open(NoServerClient(), "joe", {}))  # quiet: the first cell will say why
    assert sockets._spare is None


def test_no_socket_is_held_open_to_the_real_service():
    from eleven_nb.client.endpoint import Endpoint
    from eleven_nb.jupyter.warm import SpareSockets

    class RealServiceClient:  # resolves to the real service; connecting would fail the test
        endpoint = Endpoint("real", "https://api.elevenlabs.io")

        def multi_stream_input(self, *args, **kwargs):
            raise AssertionError("a spare socket was opened to the real service")

    sockets = SpareSockets(enabled=True)
    asyncio.run(sockets.open(RealServiceClient(), "joe", {"output_format": "pcm_22050"}))
    assert sockets._spare is None


def test_a_socket_still_opening_when_discarded_is_closed_not_kept():
    import threading

    from eleven_nb.client.endpoint import Endpoint
    from eleven_nb.jupyter.warm import SpareSockets

    resolving = threading.Event()
    closed: list[bool] = []

    class Opener:
        async def __aenter__(self):
            return type("Mux", (), {"close_code": None})()

        async def __aexit__(self, *exc):
            closed.append(True)

    class SlowClient:  # the endpoint takes a while (the local server starting)
        @property
        def endpoint(self):
            resolving.wait(5)
            return Endpoint("embedded", "http://127.0.0.1:1")

        def multi_stream_input(self, *args, **kwargs):
            return Opener()

    async def scenario():
        sockets = SpareSockets(enabled=True)
        opening = asyncio.create_task(sockets.open(SlowClient(), "joe", {}))
        await asyncio.sleep(0.05)
        await sockets.discard()  # %unload_ext while the server is still starting
        resolving.set()
        await opening
        return sockets

    sockets = asyncio.run(scenario())
    assert sockets._spare is None and closed == [True]
