"""The Ruby client's (elevenlabs_client gem) examples, translated into Python line for line, run against the local server.

Each translation keeps the gem's structure (handlers on open/message/error/close,
the same calls in the same order); ``sleep(n)`` becomes ``ws.wait(n)`` so the
test ends as soon as the socket closes.
"""
from __future__ import annotations

import base64
import json
import time

import pytest

import eleven_nb

VOICE_ID = "21m00Tcm4TlvDq8ikWAM"


@pytest.fixture
def client(server):
    return eleven_nb.Client(base_url=server.url)


def test_basic_usage(client, capsys):
    ws = client.websocket_text_to_speech.connect_stream_input(
        VOICE_ID, model_id="eleven_multilingual_v2", output_format="mp3_44100_128", sync_alignment=True)
    received = []

    @ws.on("open")
    def on_open(event):
        print("WebSocket connected")
        client.websocket_text_to_speech.send_initialize_connection(
            ws, text=" ", voice_settings={"stability": 0.5, "similarity_boost": 0.8})
        client.websocket_text_to_speech.send_text(ws, "Hello there! ")
        client.websocket_text_to_speech.send_text(ws, "How are you doing today? ")
        client.websocket_text_to_speech.send_text(ws, "This is streaming text-to-speech!", try_trigger_generation=True)
        client.websocket_text_to_speech.send_close_connection(ws)

    @ws.on("message")
    def on_message(event):
        data = json.loads(event.data)
        if data["audio"]:
            audio_data = base64.b64decode(data["audio"])
            print(f"Received audio chunk: {len(audio_data)} bytes")
            received.append(data)
            if data["alignment"]:
                characters = data["alignment"]["chars"]
                print(f"Characters: {''.join(characters)}")
        if data["isFinal"]:
            print("Final audio chunk received")

    ws.on("error", lambda event: print(f"WebSocket error: {event.message}"))
    ws.on("close", lambda event: print("WebSocket closed"))
    assert ws.wait(10)
    out = capsys.readouterr().out
    assert out.startswith("WebSocket connected") and "Final audio chunk received" in out
    assert out.rstrip().endswith("WebSocket closed") and "WebSocket error" not in out
    spoken = "".join("".join(d["alignment"]["chars"]) for d in received if d["alignment"])
    assert spoken == "Hello there! How are you doing today? This is streaming text-to-speech!"


def test_convenient_streaming_method(client, tmp_path):
    text_chunks = ["Hello there! ", "This is a streaming example. ", "Each chunk will be processed in real-time."]
    got = []

    def each(audio_data, metadata):
        got.append((len(audio_data), "".join(metadata["alignment"]["chars"]) if metadata["alignment"] else ""))

    ws = client.websocket_text_to_speech.stream_text_to_speech(
        VOICE_ID, text_chunks, voice_settings={"stability": 0.5, "similarity_boost": 0.8}, sync_alignment=True,
        on_chunk=each)
    assert ws.wait(10) and ws.close_code == 1000
    assert all(n > 0 for n, _ in got) and "".join(t for _, t in got) == "".join(text_chunks)
    assert ws.timeline.text == "".join(text_chunks) and ws.save(tmp_path / "gem.mp3").stat().st_size > 1000


def test_basic_multi_context(client):
    ws = client.websocket_text_to_speech.connect_multi_stream_input(VOICE_ID, model_id="eleven_multilingual_v2",
                                                                   sync_alignment=True)
    by_context = {"conversation_1": 0, "conversation_2": 0}
    finals = []

    @ws.on("open")
    def on_open(event):
        tts = client.websocket_text_to_speech
        tts.send_initialize_connection_multi(ws, "conversation_1", text=" ",
                                             voice_settings={"stability": 0.5, "similarity_boost": 0.8})
        tts.send_text_multi(ws, "conversation_1", "Hello from conversation one! ")
        tts.send_initialize_connection_multi(ws, "conversation_2", text=" ",
                                             voice_settings={"stability": 0.3, "similarity_boost": 0.9})
        tts.send_text_multi(ws, "conversation_2", "Hi there from conversation two! ")
        tts.send_flush_context(ws, "conversation_1")
        tts.send_flush_context(ws, "conversation_2")

    @ws.on("message")
    def on_message(event):
        data = json.loads(event.data)
        if data.get("audio"):
            by_context[data["contextId"]] += len(base64.b64decode(data["audio"]))
        if data.get("isFinal"):  # the gem reads data['is_final']; the server sends isFinal (the service's spelling)
            finals.append(data["contextId"])

    deadline = time.monotonic() + 10
    while not all(by_context.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(by_context.values()) and finals == []  # flush alone never sends a final
    client.websocket_text_to_speech.send_close_socket(ws)
    assert ws.wait(10) and ws.close_code == 1000
    assert sorted(finals) == ["conversation_1", "conversation_2"]
    assert ws.timeline_of("conversation_2").text == "Hi there from conversation two! "


class MultiContextManager:
    def __init__(self, client, voice_id):
        self.client = client
        self.voice_id = voice_id
        self.contexts = {}
        self.ws = None
        self.timing = []

    def connect(self):
        self.ws = self.client.websocket_text_to_speech.connect_multi_stream_input(
            self.voice_id, sync_alignment=True, auto_mode=True)
        self.setup_event_handlers()
        return self.ws

    def create_context(self, context_id, voice_settings=None):
        self.contexts[context_id] = {"voice_settings": voice_settings or {}, "buffer": []}
        self.client.websocket_text_to_speech.send_initialize_connection_multi(
            self.ws, context_id, voice_settings=voice_settings or {})

    def send_text(self, context_id, text, flush=False):
        if context_id not in self.contexts:
            return
        self.client.websocket_text_to_speech.send_text_multi(self.ws, context_id, text, flush=flush)

    def flush_context(self, context_id):
        self.client.websocket_text_to_speech.send_flush_context(self.ws, context_id)

    def close_context(self, context_id):
        self.client.websocket_text_to_speech.send_close_context(self.ws, context_id)
        self.contexts.pop(context_id, None)

    def close_all(self):
        self.client.websocket_text_to_speech.send_close_socket(self.ws)

    def setup_event_handlers(self):
        @self.ws.on("message")
        def on_message(event):
            self.handle_audio_message(json.loads(event.data))

        @self.ws.on("error")
        def on_error(event):
            print(f"WebSocket error: {event.message}")

    def handle_audio_message(self, data):
        if not data.get("audio"):
            return
        context_id = data["contextId"]
        audio_data = base64.b64decode(data["audio"])
        if context_id in self.contexts:
            self.contexts[context_id]["buffer"].append(audio_data)
        if data.get("alignment"):
            self.handle_timing_data(context_id, data["alignment"])

    def handle_timing_data(self, context_id, alignment):
        self.timing.append((context_id, "".join(alignment["chars"])))


def test_multi_context_manager(client):
    manager = MultiContextManager(client, VOICE_ID)
    manager.connect()
    manager.create_context("speaker_1", {"stability": 0.5, "similarity_boost": 0.8})
    manager.create_context("speaker_2", {"stability": 0.3, "similarity_boost": 0.9})
    manager.send_text("speaker_1", "Hello, I'm speaker one. ")
    manager.send_text("speaker_2", "And I'm speaker two! ")
    manager.flush_context("speaker_1")
    manager.flush_context("speaker_2")
    deadline = time.monotonic() + 10
    while not all(c["buffer"] for c in manager.contexts.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    buffers = {cid: b"".join(c["buffer"]) for cid, c in manager.contexts.items()}
    manager.close_all()
    assert manager.ws.wait(10) and manager.ws.close_code == 1000
    assert all(len(b) > 1000 for b in buffers.values())
    spoken = {cid: "".join(t for c, t in manager.timing if c == cid) for cid in buffers}
    assert spoken == {"speaker_1": "Hello, I'm speaker one. ", "speaker_2": "And I'm speaker two! "}


class ConversationHandler:
    def __init__(self, client, voice_id):
        self.client = client
        self.voice_id = voice_id
        self.ws = None
        self.audio_buffer = []
        self.lip_sync = []
        self.finished = False

    def start_conversation(self):
        self.ws = self.client.websocket_text_to_speech.connect_stream_input(
            self.voice_id, sync_alignment=True, auto_mode=True)
        self.ws.on("open", lambda event: self.initialize_connection())
        self.ws.on("message", lambda event: self.handle_message(json.loads(event.data)))

    def speak(self, text):
        self.client.websocket_text_to_speech.send_text(self.ws, text, try_trigger_generation=True)

    def stop_conversation(self):
        self.client.websocket_text_to_speech.send_close_connection(self.ws)

    def initialize_connection(self):
        self.client.websocket_text_to_speech.send_initialize_connection(
            self.ws, voice_settings={"stability": 0.4, "similarity_boost": 0.9})

    def handle_message(self, data):
        if data["audio"]:
            audio_data = base64.b64decode(data["audio"])
            self.audio_buffer.append(audio_data)
            self.play_audio_chunk(audio_data)
            if data["alignment"]:
                self.process_lip_sync(data["alignment"])
        if data["isFinal"]:
            self.finished = True

    def play_audio_chunk(self, audio_data):
        pass  # a real player in notebooks/04-conversation-handler.ipynb

    def process_lip_sync(self, alignment):
        for char, start in zip(alignment["chars"], alignment["charStartTimesMs"]):
            self.lip_sync.append((char, start))


def test_conversation_handler(client):
    conversation = ConversationHandler(client, VOICE_ID)
    conversation.start_conversation()
    time.sleep(1)  # Wait for connection (the gem's line; the open handler sends the settings first)
    conversation.speak("Hello! How can I help you today? ")
    time.sleep(0.3)
    conversation.speak("I'm here to assist with any questions you might have. ")
    time.sleep(0.3)
    conversation.stop_conversation()
    assert conversation.ws.wait(10) and conversation.finished
    said = "".join(c for c, _ in conversation.lip_sync)
    assert said == "Hello! How can I help you today? I'm here to assist with any questions you might have. "
    assert len(conversation.audio_buffer) >= 2


def test_error_and_close_events_on_unexpected_close(client):
    ws = client.websocket_text_to_speech.connect_stream_input(VOICE_ID)
    events = []
    ws.on("error", lambda event: events.append(("error", event.error, event.code, event.message)))
    ws.on("close", lambda event: events.append(("close", event.code, event.reason)))
    ws.send({"text": " "})
    ws.send({"text": 42})  # not in the schema
    assert ws.wait(10)
    assert events[0][:3] == ("error", "invalid_input_message", 1008)
    assert events[-1][0] == "close" and events[-1][1] == 1008 and events[-1][2].startswith("Could not parse")


def test_events_before_their_handler_are_delivered_when_it_is_registered():
    ws = eleven_nb.Client(base_url="http://127.0.0.1:9").websocket_text_to_speech.connect_stream_input(VOICE_ID)
    assert ws.wait(5) and ws.closed  # refused (nothing listens on the discard port) before any handler exists
    events = []
    ws.on("error", lambda event: events.append(("error", event.message)))
    ws.on("close", lambda event: events.append(("close", event.code)))
    assert ws.wait(5)
    assert events[0][0] == "error" and "cannot connect" in events[0][1] and events[-1] == ("close", None)
    assert ws.send({"text": "late "}) is False
