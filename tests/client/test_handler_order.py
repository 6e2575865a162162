"""Event-handler connections keep the program's order: what the ``open`` handlers send goes first.

The Ruby client's pattern is "initialize the connection in ``on(:open)``, then send
text". Text written before the socket is open must still reach the server after the
open handler's first message (which carries the voice settings), or the server
answers ``voice_settings_changed``. These tests make the socket open late on purpose:
a loopback proxy that holds the handshake back, and servers freshly spawned per run.
"""
from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest
from tests.client.conftest import start_server

from eleven_nb.spawn import ServerProcess

import eleven_nb

VOICE_ID = "21m00Tcm4TlvDq8ikWAM"
SETTINGS = {"stability": 0.4, "similarity_boost": 0.9}
FIRST, SECOND = "Hello! How can I help you today? ", "I'm here to assist with any questions you might have. "


class SlowHandshakeProxy(socketserver.ThreadingTCPServer):
    """Forwards loopback connections to ``upstream``, after holding each one back for ``delay`` s.

    The client's upgrade request waits in the socket buffer meanwhile, so the WebSocket
    opens ``delay`` s late, exactly as with a server that is slow to start answering.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream_port: int, delay: float):
        self.upstream_port = upstream_port
        self.delay = delay
        super().__init__(("127.0.0.1", 0), _Forward)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(socketserver.BaseRequestHandler):
    server: SlowHandshakeProxy

    def handle(self) -> None:
        time.sleep(self.server.delay)
        with socket.create_connection(("127.0.0.1", self.server.upstream_port), timeout=30) as upstream:
            back = threading.Thread(target=_pipe, args=(upstream, self.request), daemon=True)
            back.start()
            _pipe(self.request, upstream)
            back.join(30)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@pytest.fixture
def slow_server(server) -> Iterator[SlowHandshakeProxy]:
    proxy = SlowHandshakeProxy(server.port, delay=0.5)
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()
    thread.join(5)


class ConversationHandler:
    """Tutorial 04's class (the Ruby example's), without playback."""

    def __init__(self, client: eleven_nb.Client, voice_id: str):
        self.client = client
        self.voice_id = voice_id
        self.ws: eleven_nb.client.Connection | None = None
        self.said: list[str] = []
        self.errors: list[str] = []
        self.finished = False

    def start_conversation(self) -> None:
        self.ws = self.client.websocket_text_to_speech.connect_stream_input(
            self.voice_id, sync_alignment=True, auto_mode=True, output_format="pcm_16000")
        self.ws.on("open", lambda event: self.initialize_connection())
        self.ws.on("message", lambda event: self.handle_message(json.loads(event.data)))
        self.ws.on("error", lambda event: self.errors.append(f"{event.error}: {event.message}"))

    def speak(self, text: str) -> None:
        self.client.websocket_text_to_speech.send_text(self.ws, text, try_trigger_generation=True)

    def stop_conversation(self) -> None:
        self.client.websocket_text_to_speech.send_close_connection(self.ws)

    def initialize_connection(self) -> None:
        self.client.websocket_text_to_speech.send_initialize_connection(self.ws, voice_settings=SETTINGS)

    def handle_message(self, data: dict) -> None:
        if data.get("audio") and data.get("alignment"):
            assert base64.b64decode(data["audio"])
            self.said.append("".join(data["alignment"]["chars"]))
        if data.get("isFinal"):
            self.finished = True


def converse(client: eleven_nb.Client) -> ConversationHandler:
    """Tutorial 04's cells, with its first wait cut: the first text is written before the socket is open."""
    conversation = ConversationHandler(client, VOICE_ID)
    conversation.start_conversation()
    conversation.speak(FIRST)
    deadline = time.monotonic() + 10  # the tutorial's sleep(3), ending at the first audio (or a failure)
    while not (conversation.said or conversation.errors or conversation.ws.closed) and time.monotonic() < deadline:
        time.sleep(0.01)
    conversation.speak(SECOND)
    conversation.stop_conversation()
    assert conversation.ws is not None and conversation.ws.wait(20)
    return conversation


def test_text_sent_before_a_late_open_follows_the_open_handlers_settings(slow_server, caplog):
    caplog.set_level(logging.DEBUG, logger="eleven_nb.wire")
    conversation = converse(eleven_nb.Client(base_url=slow_server.url))
    assert conversation.errors == [] and conversation.ws.close_code == 1000 and conversation.finished
    assert "".join(conversation.said) == FIRST + SECOND
    sent = [json.loads(r.message.removeprefix("send ")) for r in caplog.records if r.message.startswith("send ")]
    assert sent[0] == {"text": " ", "voice_settings": SETTINGS}  # the open handler's message, first
    assert [m["text"] for m in sent[1:]] == [FIRST, SECOND, ""]


def test_without_an_open_handler_text_sent_early_goes_in_order(slow_server):
    tts = eleven_nb.Client(base_url=slow_server.url).websocket_text_to_speech
    ws = tts.connect_stream_input(VOICE_ID, sync_alignment=True, output_format="pcm_16000")
    tts.send_initialize_connection(ws, voice_settings=SETTINGS)
    tts.send_text(ws, FIRST)
    tts.send_close_connection(ws)
    assert ws.wait(20) and ws.close_code == 1000 and ws.timeline.text == FIRST


def test_an_open_handler_registered_late_still_goes_first(server):
    client = eleven_nb.Client(base_url=server.url)
    tts = client.websocket_text_to_speech
    ws = tts.connect_stream_input(VOICE_ID, sync_alignment=True, output_format="pcm_16000")
    time.sleep(0.5)  # tutorial 04's "Wait for connection": opened with no open handler, the event waits for one
    errors = []
    ws.on("error", lambda event: errors.append(event.error))
    ws.on("open", lambda event: tts.send_initialize_connection(ws, voice_settings=SETTINGS))
    tts.send_text(ws, FIRST)  # after the registration, before the handler has run
    tts.send_close_connection(ws)
    assert ws.wait(20) and errors == [] and ws.close_code == 1000 and ws.timeline.text == FIRST


def test_an_async_open_handler_in_the_blocking_twin_is_awaited_before_earlier_text(slow_server):
    tts = eleven_nb.Client(base_url=slow_server.url).websocket_text_to_speech
    ws = tts.connect_stream_input(VOICE_ID, sync_alignment=True, output_format="pcm_16000")
    errors = []
    ws.on("error", lambda event: errors.append(event.error))

    @ws.on("open")
    async def initialize(event):  # runs on the background loop; the dispatcher waits for it
        await asyncio.sleep(0.05)
        tts.send_initialize_connection(ws, voice_settings=SETTINGS)

    tts.send_text(ws, FIRST)
    tts.send_close_connection(ws)
    assert ws.wait(20) and errors == [] and ws.close_code == 1000 and ws.timeline.text == FIRST


async def test_async_twin_open_handler_goes_before_text_sent_after_connecting(server, caplog):
    caplog.set_level(logging.DEBUG, logger="eleven_nb.wire")
    tts = eleven_nb.AsyncClient(base_url=server.url).websocket_text_to_speech
    ws = await tts.connect_stream_input(VOICE_ID, sync_alignment=True, output_format="pcm_16000")
    errors = []
    ws.on("error", lambda event: errors.append(event.error))

    @ws.on("open")  # connecting was awaited: "open" has happened, and is delivered now, in a task
    async def initialize(event):
        await tts.send_initialize_connection(ws, voice_settings=SETTINGS)

    await tts.send_text(ws, FIRST)  # written before the handler has had a chance to run
    await tts.send_close_connection(ws)
    assert await ws.wait(20) and errors == [] and ws.close_code == 1000 and ws.timeline.text == FIRST
    sent = [r.message for r in caplog.records if r.message.startswith("send ")]
    assert '"voice_settings"' in sent[0] and FIRST in sent[1]


def test_tutorial_04_passes_20_runs_in_a_row_each_against_a_freshly_spawned_server():
    runs = 20
    spawned: list[concurrent.futures.Future[ServerProcess]] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as spawner:
        try:
            spawned.append(spawner.submit(start_server))
            for run in range(runs):
                fresh = spawned[run].result()
                if run + 1 < runs:  # the next run's server starts while this one talks
                    spawned.append(spawner.submit(start_server))
                conversation = converse(eleven_nb.Client(base_url=fresh.url))
                fresh.stop()
                assert conversation.errors == [], f"run {run + 1}: {conversation.errors}"
                assert conversation.finished and conversation.ws.close_code == 1000, f"run {run + 1}"
                assert "".join(conversation.said) == FIRST + SECOND, f"run {run + 1}"
        finally:
            for future in spawned:
                if future.exception() is None:
                    future.result().stop()  # stopping twice is harmless
