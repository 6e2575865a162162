"""multi-stream-input on the local server (espeak-ng): contexts, limits, finals, fairness."""
from __future__ import annotations

import asyncio
import base64
import json
from collections import defaultdict

import aiohttp
import pytest

from eleven_nb import protocol



async def read_all(ws, timeout=30.0):
    frames = []
    async with asyncio.timeout(timeout):
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                frames.append(json.loads(msg.data))
    return frames


def by_context(frames):
    out = defaultdict(list)
    for f in frames:
        out[f.get("contextId")].append(f)
    return out


def text_of(frames):
    return "".join("".join(f["alignment"]["chars"]) for f in frames if f.get("alignment"))


def multi_url(server, **query):
    return server.ws_url(endpoint="multi-stream-input", output_format="pcm_16000", sync_alignment=True, **query)


async def test_gem_basic_multi_context_flow(espeak_server):
    async with aiohttp.ClientSession() as http, http.ws_connect(multi_url(espeak_server)) as ws:
        await ws.send_json(protocol.initialize_connection(context_id="conversation_1",
                                                          voice_settings={"stability": 0.5, "similarity_boost": 0.8}))
        await ws.send_json(protocol.send_text("Hello from conversation one! ", context_id="conversation_1"))
        await ws.send_json(protocol.initialize_connection(context_id="conversation_2",
                                                          voice_settings={"stability": 0.3, "similarity_boost": 0.9}))
        await ws.send_json(protocol.send_text("Hi there from conversation two! ", context_id="conversation_2"))
        await ws.send_json(protocol.flush_context("conversation_1"))
        await ws.send_json(protocol.flush_context("conversation_2"))
        got = defaultdict(str)
        async with asyncio.timeout(20):
            while got["conversation_1"] != "Hello from conversation one! " or \
                    got["conversation_2"] != "Hi there from conversation two! ":
                frame = json.loads((await ws.receive()).data)
                assert frame["isFinal"] is None  # flush alone never sends a final
                got[frame["contextId"]] += "".join(frame["alignment"]["chars"]) if frame["alignment"] else ""
        await ws.send_json(protocol.close_socket())
        rest = await read_all(ws)
    finals = [f for f in rest if f.get("isFinal")]
    assert sorted(f["contextId"] for f in finals) == ["conversation_1", "conversation_2"]
    assert all(f == protocol.final_message(f["contextId"]) for f in finals)
    assert ws.close_code == 1000


async def test_close_context_sends_rest_then_final_and_frees_the_slot(espeak_server):
    async with aiohttp.ClientSession() as http, http.ws_connect(multi_url(espeak_server)) as ws:
        for i in range(5):
            await ws.send_json(protocol.initialize_connection(context_id=f"c{i}"))
        await ws.send_json(protocol.send_text("Buffered, never flushed. ", context_id="c0"))
        await ws.send_json(protocol.close_context("c0"))
        frames = []
        async with asyncio.timeout(20):
            while not any(f.get("isFinal") for f in frames):
                frames.append(json.loads((await ws.receive()).data))
        assert text_of(frames) == "Buffered, never flushed. "
        assert frames[-1] == protocol.final_message("c0")
        await ws.send_json(protocol.initialize_connection(context_id="c5"))  # the slot is free after the final
        assert not ws.closed
        await ws.send_json(protocol.close_context("unknown"))  # a no-op
        await ws.send_json(protocol.initialize_connection(context_id="c6"))  # the sixth open context
        rest = await read_all(ws)
    assert rest[-1]["error"] == "max_active_conversations" and ws.close_code == 1008


async def test_contexts_progress_fairly(espeak_server):
    """A long context must not starve a short one started after it."""
    long_text = "This is a long monologue that goes on and on. " * 40
    async with aiohttp.ClientSession() as http, http.ws_connect(multi_url(espeak_server)) as ws:
        await ws.send_json(protocol.initialize_connection(context_id="long"))
        await ws.send_json(protocol.send_text(long_text, context_id="long"))
        await ws.send_json(protocol.close_context("long"))
        await ws.send_json(protocol.initialize_connection(context_id="short"))
        await ws.send_json(protocol.send_text("Quick reply. ", context_id="short"))
        await ws.send_json(protocol.close_context("short"))
        await ws.send_json(protocol.close_socket())
        frames = await read_all(ws, timeout=60)
    order = [f["contextId"] for f in frames if f.get("isFinal")]
    assert order == ["short", "long"]
    contexts = by_context(frames)
    assert text_of(contexts["long"]) == long_text and text_of(contexts["short"]) == "Quick reply. "


async def test_pipecat_style_client(espeak_server):
    """A context per turn, keep-alives, close_context on interruption, close_socket at the end."""
    turns = ["First turn of the bot. It has two sentences. ", "An interrupted turn that goes on for a while. ",
             "The last turn. "]
    async with aiohttp.ClientSession() as http, http.ws_connect(
            multi_url(espeak_server, auto_mode=True), headers={"xi-api-key": "anything"},
            max_msg_size=16 << 20) as ws:
        finals, audio = set(), defaultdict(int)

        async def receive():
            async for msg in ws:
                data = json.loads(msg.data)
                ctx = data.get("contextId")
                if data.get("isFinal") is True:
                    finals.add(ctx)
                elif data.get("audio"):
                    audio[ctx] += 1

        reader = asyncio.create_task(receive())
        await ws.send_json({"text": ""})  # context-less keep-alive before any turn
        for n, turn in enumerate(turns):
            ctx = f"turn-{n}"
            await ws.send_json({"text": " ", "context_id": ctx, "voice_settings": {"stability": 0.5, "speed": 1.0}})
            for sentence in turn.split(". "):
                await ws.send_json({"text": sentence.strip() + ". ", "context_id": ctx})
            await ws.send_json({"text": "", "context_id": ctx})  # keep-alive
            await ws.send_json({"context_id": ctx, "flush": True})
            await ws.send_json({"context_id": ctx, "close_context": True})
        await ws.send_json({"close_socket": True})
        await asyncio.wait_for(reader, 30)
    assert finals == {"turn-0", "turn-1", "turn-2"}
    assert all(audio[f"turn-{n}"] > 0 for n in range(3)) and ws.close_code == 1000


async def test_client_disconnect_mid_generation_frees_everything(espeak_server):
    state = espeak_server.state
    before = len(state.connections)
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(multi_url(espeak_server))
        await ws.send_json(protocol.initialize_connection(context_id="a"))
        await ws.send_json(protocol.send_text("A long text to speak. " * 200, context_id="a", flush=True))
        await ws.receive(timeout=10)
        await ws.close()
    async with asyncio.timeout(10):
        while len(state.connections) > before or espeak_server.server_tasks():
            await asyncio.sleep(0.05)
    assert not espeak_server.server_tasks()  # no context task (and so no synthesis) left behind



async def test_a_reused_context_id_follows_its_old_final_with_piper(piper_server):
    """Reused before its final, an id's new generation waits: old audio, old final, new audio, new final."""
    async with aiohttp.ClientSession() as http, http.ws_connect(multi_url(piper_server)) as ws:
        await ws.send_json(protocol.initialize_connection(context_id="turn"))
        await ws.send_json(protocol.send_text("The first turn is a little longer, so it is still speaking. ",
                                              context_id="turn", flush=True))
        await ws.send_json(protocol.close_context("turn"))
        await ws.send_json(protocol.initialize_connection(context_id="turn"))
        await ws.send_json(protocol.send_text("Second turn. ", context_id="turn", flush=True))
        await ws.send_json(protocol.close_context("turn"))
        await ws.send_json(protocol.close_socket())
        frames = await read_all(ws, timeout=60)
    finals = [i for i, f in enumerate(frames) if f.get("isFinal")]
    assert len(finals) == 2 and ws.close_code == 1000
    assert text_of(frames[:finals[0]]) == "The first turn is a little longer, so it is still speaking. "
    assert text_of(frames[finals[0]:]) == "Second turn. "


async def test_pipecat_word_timing_gives_one_word_per_word(espeak_server):
    """pipecat's own code on normalizedAlignment: sentences sent without trailing spaces never fuse."""
    tts_base = pytest.importorskip("pipecat.services.elevenlabs.tts_base")
    sentences = ["This is the first sentence.", "And this is the second one!", "Finally, the third."]
    async with aiohttp.ClientSession() as http, http.ws_connect(multi_url(espeak_server)) as ws:
        await ws.send_json(protocol.initialize_connection(context_id="bot"))
        for sentence in sentences:  # as pipecat sends them: no trailing space, flushed one by one
            await ws.send_json({"text": sentence, "context_id": "bot", "flush": True})
        await ws.send_json(protocol.close_context("bot"))
        frames = await read_all_until_final(ws)
    words, partial, partial_start, clock, started = [], "", 0.0, 0.0, False
    for f in frames:
        if not f.get("normalizedAlignment"):
            continue
        alignment = tts_base._strip_utterance_leading_spaces(
            f["normalizedAlignment"], ("chars", "charStartTimesMs", "charDurationsMs"), not started)
        started = True
        got, partial, partial_start = tts_base.calculate_word_times(alignment, clock, partial, partial_start)
        words += got
        clock += len(base64.b64decode(f["audio"])) / 32000  # pcm_16000: the chunk's own length
    if partial:
        words.append((partial, partial_start))
    assert [w for w, _ in words] == " ".join(sentences).split()
    times = [t for _, t in words]
    assert times == sorted(times) and len(set(times)) == len(times)


async def read_all_until_final(ws, timeout=30.0):
    frames = []
    async with asyncio.timeout(timeout):
        while not frames or not frames[-1].get("isFinal"):
            frames.append(json.loads((await ws.receive()).data))
    return frames


async def test_each_context_pauses_once_after_its_first_audio_and_a_client_leaving_meanwhile_frees_it(
        espeak_server, monkeypatch):
    """The delivery pause (server/context.py) is per context: a second context pauses after its own first
    audio. A client that leaves while a context pauses frees it at once, not when the pause ends."""
    from eleven_nb.server import context

    monkeypatch.setattr(context, "DELIVERY_PAUSE_S", 0.6)
    text = "One. Two. Three. "
    async with aiohttp.ClientSession() as http, http.ws_connect(multi_url(espeak_server)) as ws:
        for ctx in ("a", "b"):
            await ws.send_json(protocol.initialize_connection(context_id=ctx))
            await ws.send_json(protocol.send_text(text, context_id=ctx))
            await ws.send_json(protocol.flush_context(ctx))
        arrivals = defaultdict(list)
        async with asyncio.timeout(20):
            while any(len(arrivals[c]) < 2 for c in ("a", "b")):
                frame = json.loads((await ws.receive()).data)
                if frame.get("alignment") and "".join(frame["alignment"]["chars"]).strip():
                    arrivals[frame["contextId"]].append(asyncio.get_running_loop().time())
        for ctx in ("a", "b"):
            assert arrivals[ctx][1] - arrivals[ctx][0] >= 0.5, arrivals  # each context's own pause
    monkeypatch.setattr(context, "DELIVERY_PAUSE_S", 30.0)  # a pause no test waits for
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(multi_url(espeak_server))
        await ws.send_json(protocol.initialize_connection(context_id="c"))
        await ws.send_json(protocol.send_text(text, context_id="c", flush=True))
        async with asyncio.timeout(20):
            while not json.loads((await ws.receive()).data).get("alignment"):
                pass
        await ws.close()  # the context is pausing now
    async with asyncio.timeout(5):  # well before the 30 s pause would end
        while espeak_server.server_tasks():
            await asyncio.sleep(0.05)
