"""The Ruby client's examples in async Python (``AsyncClient().websocket_text_to_speech``), line for line.

Same structure as test_handler_examples.py, every call awaited; handlers may be
coroutines, and the gem's ``sleep(n)`` becomes ``await ws.wait(n)``.
"""
from __future__ import annotations

import asyncio
import base64
import json

import pytest

import eleven_nb

VOICE_ID = "21m00Tcm4TlvDq8ikWAM"


@pytest.fixture
def client(server):
    return eleven_nb.AsyncClient(base_url=server.url)


async def test_basic_usage(client):
    tts = client.websocket_text_to_speech
    ws = await tts.connect_stream_input(
        VOICE_ID, model_id="eleven_multilingual_v2", output_format="mp3_44100_128", sync_alignment=True)
    log = []

    @ws.on("open")
    async def on_open(event):
        log.append("WebSocket connected")
        await tts.send_initialize_connection(ws, text=" ", voice_settings={"stability": 0.5, "similarity_boost": 0.8})
        await tts.send_text(ws, "Hello there! ")
        await tts.send_text(ws, "How are you doing today? ")
        await tts.send_text(ws, "This is streaming text-to-speech!", try_trigger_generation=True)
        await tts.send_close_connection(ws)

    @ws.on("message")
    def on_message(event):
        data = json.loads(event.data)
        if data["audio"]:
            audio_data = base64.b64decode(data["audio"])
            log.append(f"Received audio chunk: {len(audio_data)} bytes")
            if data["alignment"]:
                log.append(f"Characters: {''.join(data['alignment']['chars'])}")
        if data["isFinal"]:
            log.append("Final audio chunk received")

    ws.on("error", lambda event: log.append(f"WebSocket error: {event.message}"))
    ws.on("close", lambda event: log.append("WebSocket closed"))
    assert await ws.wait(10)
    assert log[0] == "WebSocket connected" and log[-2:] == ["Final audio chunk received", "WebSocket closed"]
    spoken = "".join(line.removeprefix("Characters: ") for line in log if line.startswith("Characters: "))
    assert spoken == "Hello there! How are you doing today? This is streaming text-to-speech!"
    assert ws.timeline.text == spoken and ws.close_code == 1000
    assert not await tts.send_text(ws, "after the end ")  # nothing is sent on a closed socket


async def test_convenient_streaming_method_with_an_async_token_stream(client):
    text_chunks = ["Hello there! ", "This is a streaming example. ", "Each chunk will be processed in real-time."]

    async def tokens():  # e.g. an LLM's output
        for chunk in text_chunks:
            await asyncio.sleep(0.01)
            yield chunk

    got = []

    async def each(audio_data, metadata):
        got.append((len(audio_data), "".join(metadata["alignment"]["chars"]) if metadata["alignment"] else ""))

    ws = await client.websocket_text_to_speech.stream_text_to_speech(
        VOICE_ID, tokens(), voice_settings={"stability": 0.5, "similarity_boost": 0.8}, sync_alignment=True,
        on_chunk=each)
    assert await ws.wait(10) and ws.close_code == 1000
    assert all(n > 0 for n, _ in got) and "".join(t for _, t in got) == "".join(text_chunks)


async def test_basic_multi_context(client):
    tts = client.websocket_text_to_speech
    ws = await tts.connect_multi_stream_input(VOICE_ID, model_id="eleven_multilingual_v2", sync_alignment=True)
    by_context = {"conversation_1": 0, "conversation_2": 0}
    finals = []
    both_heard = asyncio.Event()

    @ws.on("open")
    async def on_open(event):
        await tts.send_initialize_connection_multi(ws, "conversation_1", text=" ",
                                                   voice_settings={"stability": 0.5, "similarity_boost": 0.8})
        await tts.send_text_multi(ws, "conversation_1", "Hello from conversation one! ")
        await tts.send_initialize_connection_multi(ws, "conversation_2", text=" ",
                                                   voice_settings={"stability": 0.3, "similarity_boost": 0.9})
        await tts.send_text_multi(ws, "conversation_2", "Hi there from conversation two! ")
        await tts.send_flush_context(ws, "conversation_1")
        await tts.send_flush_context(ws, "conversation_2")

    @ws.on("message")
    def on_message(event):
        data = json.loads(event.data)
        if data.get("audio"):
            by_context[data["contextId"]] += len(base64.b64decode(data["audio"]))
            if all(by_context.values()):
                both_heard.set()
        if data.get("isFinal"):  # the gem reads data['is_final']; the server sends isFinal (the service's spelling)
            finals.append(data["contextId"])

    await asyncio.wait_for(both_heard.wait(), 10)
    assert finals == []  # flush alone never sends a final
    await tts.send_close_context(ws, "conversation_1")
    await tts.send_close_socket(ws)
    assert await ws.wait(10) and ws.close_code == 1000
    assert sorted(finals) == ["conversation_1", "conversation_2"]


async def test_a_refused_connection_is_reported_as_events(client):
    refused = eleven_nb.AsyncClient(base_url="http://127.0.0.1:9")  # nothing listens on the discard port
    ws = await refused.websocket_text_to_speech.connect_stream_input(VOICE_ID)
    events = []
    ws.on("error", lambda event: events.append(("error", event.message)))
    ws.on("close", lambda event: events.append(("close", event.code)))
    assert await ws.wait(5) and ws.closed
    assert events[0][0] == "error" and "cannot connect" in events[0][1] and events[-1] == ("close", None)
    with pytest.raises(ValueError, match="inactivity_timeout"):
        await client.websocket_text_to_speech.connect_stream_input(VOICE_ID, inactivity_timeout=0)
    with pytest.raises(ValueError, match="unknown event"):
        ws.on("opened", print)
