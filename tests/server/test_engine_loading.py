"""A started server answers its first engine's voice at once; the other engines load on a thread, when
a request needs them (or after a short delay).

The background load is held on a gate so the tests see the window in which only the first engine is
there, whatever the machine's speed. The engines and the server are real (hibari first, espeak-ng
behind the gate), over real loopback sockets.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time

import aiohttp
import pytest

from eleven_nb.server import engines
from eleven_nb.server.app import build_state
from eleven_nb.server.engines.espeak import EspeakEngine
from eleven_nb.server.thread import ServerThread

from tests.server.test_server import audio_frames, exchange

HEART = "heart"


@pytest.fixture
def gated(monkeypatch):
    """Engines other than hibari (the first) wait for ``gate`` to load; ``fail`` names engines that then fail."""
    gate, fail, asked = threading.Event(), set(), []
    real = engines._load

    def held(name, voice_path):
        asked.append(name)
        if name != "hibari" and not gate.wait(60):
            asked.append("the gate stayed shut")
        if name in fail:
            raise RuntimeError(f"{name} is broken in this test")
        return real(name, voice_path)

    monkeypatch.setattr(engines, "_load", held)
    monkeypatch.setattr(engines, "DEFER_OTHERS_S", 600.0)  # only a request that needs them starts the load
    monkeypatch.setattr(engines, "available_engines", lambda: ["hibari", "espeak"])
    yield gate, fail
    gate.set()
    assert "the gate stayed shut" not in asked


def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def speak(url):
    messages = [{"text": " ", "xi_api_key": "unused"}, {"text": "Hello there. "}, {"text": ""}]
    return asyncio.run(exchange(url, messages, timeout=60))


def test_the_first_voice_speaks_while_the_others_load_and_theirs_wait(gated):
    gate, _ = gated
    state = build_state("hibari", background=True)
    espeak_voice = EspeakEngine().voices()[0].voice_id
    assert state.loading is not None and state.resolve(HEART) is not None and state.resolve(espeak_voice) is None
    threaded = ServerThread(state)
    try:
        server = threaded.server
        frames, code, _ = speak(server.ws_url(HEART))  # the first engine does not wait for the gate
        assert audio_frames(frames) and code == 1000
        assert not state.loading.hurried  # nobody has needed the others yet: they wait for the delay
        waiting: dict = {}

        def other_voice():
            waiting["result"] = speak(server.ws_url(espeak_voice))

        talker = threading.Thread(target=other_voice)
        talker.start()
        wait_until(lambda: state.loading is not None and state.loading.hurried)  # the request needs them
        time.sleep(0.2)
        assert talker.is_alive() and "result" not in waiting  # held until its engine is there, not refused
        gate.set()
        talker.join(60)
        frames, code, _ = waiting["result"]
        assert audio_frames(frames) and code == 1000
        listed = asyncio.run(voice_ids(server.url))
        assert HEART in listed and espeak_voice in listed
    finally:
        gate.set()
        threaded.stop()


def test_an_engine_that_fails_to_load_leaves_the_first_speaking(gated, caplog):
    gate, fail = gated
    fail.add("espeak")
    gate.set()
    state = build_state("hibari", background=True)
    threaded = ServerThread(state)
    try:
        server = threaded.server
        listed = asyncio.run(voice_ids(server.url))  # waits for the load to end
        assert HEART in listed
        assert "the espeak engine could not be loaded" in caplog.text
        frames, code, reason = speak(server.ws_url("not-a-voice"))
        assert code == 1008 and "not-a-voice" in reason and HEART in reason
        assert not audio_frames(frames)
        frames, code, _ = speak(server.ws_url(HEART))
        assert audio_frames(frames) and code == 1000
    finally:
        threaded.stop()


def test_without_background_every_engine_is_loaded_at_once(monkeypatch):
    monkeypatch.setattr(engines, "available_engines", lambda: ["hibari", "espeak"])
    state = build_state("hibari")
    assert state.loading is None and state.resolve(EspeakEngine().voices()[0].voice_id) is not None


def test_without_background_a_broken_extra_engine_is_left_out(gated, caplog):
    gate, fail = gated
    fail.add("espeak")
    gate.set()
    state = build_state("hibari")
    assert state.loading is None and state.resolve(HEART) is not None
    assert "the espeak engine could not be loaded" in caplog.text


async def voice_ids(url):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/v1/voices", timeout=aiohttp.ClientTimeout(total=60)) as r:
            return {v["voice_id"] for v in json.loads(await r.text())["voices"]}


def test_the_others_load_by_themselves_after_the_delay(gated, monkeypatch):
    gate, _ = gated
    gate.set()
    monkeypatch.setattr(engines, "DEFER_OTHERS_S", 0.2)
    state = build_state("hibari", background=True)
    assert state.loading is not None
    assert [e.name for e in state.loading.loaded.result(60)] == ["espeak"]  # nobody asked for them


@pytest.mark.parametrize("route", ["/v1/voices/{voice}", "/v2/voices?search={voice}",
                                   "/v1/text-to-speech/{voice}?output_format=pcm_16000"])
def test_the_http_routes_wait_for_a_voice_still_loading(gated, route):
    gate, _ = gated
    state = build_state("hibari", background=True)
    espeak_voice = EspeakEngine().voices()[0].voice_id
    threaded = ServerThread(state)
    try:
        url = threaded.server.url + route.format(voice=espeak_voice)
        result: dict = {}

        async def call():
            async with aiohttp.ClientSession() as http:
                method = http.post(url, json={"text": "Hello."}) if "text-to-speech" in route else http.get(url)
                async with method as r:
                    return r.status, await r.read()

        asker = threading.Thread(target=lambda: result.update(got=asyncio.run(call())))
        asker.start()
        wait_until(lambda: state.loading is not None and state.loading.hurried)
        time.sleep(0.2)
        assert asker.is_alive()  # waiting for its engine, not answered 404
        gate.set()
        asker.join(60)
        status, body = result["got"]
        assert status == 200 and (espeak_voice.encode() in body or len(body) > 1000)
    finally:
        threaded.stop()


def test_a_waiter_that_is_cancelled_leaves_the_load_to_the_others(gated):
    gate, _ = gated
    state = build_state("hibari", background=True)
    espeak_voice = EspeakEngine().voices()[0].voice_id

    async def scenario():
        impatient = asyncio.create_task(state.find(espeak_voice))
        await asyncio.sleep(0.05)
        impatient.cancel()
        patient = asyncio.create_task(state.find(espeak_voice))
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.wait_for(patient, 60)

    assert asyncio.run(scenario()) is not None

