"""A planted API key never shows up: not in notebook outputs, widget state, logs, exceptions or reprs."""
from __future__ import annotations

import asyncio
import json
import logging
import os

import aiohttp
import nbformat
import pytest
from nbclient import NotebookClient

import eleven_nb
from eleven_nb import protocol
from eleven_nb.client import ServerError
from eleven_nb.jupyter.extension import SpeechExtension
from eleven_nb.jupyter.widget import Player
from eleven_nb.server.app import build_state
from tests.conftest import ThreadedServer

SENTINEL = "sk-SENTINEL-7f3a9c1e5b"


@pytest.fixture(scope="module")
def sentinel_server():
    threaded = ThreadedServer(build_state("espeak", api_keys=(SENTINEL,)))
    yield threaded.server
    threaded.stop()


def test_logs_exceptions_reprs_and_widget_state(sentinel_server, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    client = eleven_nb.Client(api_key=SENTINEL, base_url=sentinel_server.url)
    seen: list[str] = [repr(client), repr(client.endpoint), str(client.endpoint.describe())]
    # a whole %%speak-style job, recording what the player sends to the browser
    sent: list = []
    monkeypatch.setattr(Player, "send", lambda self, content, buffers=None: sent.append(content))
    aclient = eleven_nb.AsyncClient(api_key=SENTINEL, base_url=sentinel_server.url)
    player = SpeechExtension(aclient).speak("Keys stay secret.", wait=True)
    seen.append(repr(aclient))
    assert player.status == "done" and player.words
    seen += [json.dumps(sent), json.dumps({k: v for k, v in player.get_state().items() if k != "audio"}),
             repr(player)]
    # a query-string key reaches the server's access log path, which must not record it
    bad = eleven_nb.AsyncClient(api_key=SENTINEL + "-wrong", base_url=sentinel_server.url)
    async def go():
        async with bad.stream_input() as stream:
            async for _ in stream:
                pass

    with pytest.raises(ServerError) as info:
        asyncio.run(go())
    assert info.value.error == "invalid_api_key"
    seen += [str(info.value), repr(info.value)]

    async def query_key():
        url = sentinel_server.ws_url(authorization=SENTINEL)
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            await ws.send_str(protocol.dumps(protocol.close_connection()))
            async for _ in ws:
                pass

    asyncio.run(query_key())
    seen.append(caplog.text)
    assert "eleven_nb.wire" in caplog.text  # debug logging did run
    for item in seen:
        assert SENTINEL not in item


def test_notebook_outputs(sentinel_server, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in [
        "import logging, eleven_nb\nlogging.basicConfig(level=logging.DEBUG)\nclient = eleven_nb.Client()\nclient",
        "%load_ext eleven_nb",
        "%%speak --wait\nA planted key must not leak.",
        "client.list_voices()[:1]",
        "eleven_nb.speak('Bad voice.', voice='nope', wait=True)",
        "import os\n{k: v for k, v in os.environ.items() if k.startswith('ELEVEN')}",  # the user's own choice
    ]]
    env = {"ELEVENLABS_API_KEY": SENTINEL, "ELEVEN_NB_BASE_URL": sentinel_server.url}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    control = nb.cells.pop()  # a positive control: the search does find a key where a user prints one
    assert SENTINEL in json.dumps(control.outputs)
    assert "application/vnd.jupyter.widget-view+json" in json.dumps(nb.cells[2].outputs)  # the player showed
    assert "SpeechFailed" in json.dumps(nb.cells[4].outputs)  # the failure did show (wait=True raises it)
    assert SENTINEL not in json.dumps(nb)  # outputs, widget state saved with the notebook, everything


def test_server_warns_when_exposed_without_keys():
    from eleven_nb.server.run import exposure_warning

    assert "without API keys" in exposure_warning("0.0.0.0", ())
    assert exposure_warning("0.0.0.0", ("k",)) is None and exposure_warning("127.0.0.1", ()) is None


def test_keys_compare_in_constant_time():
    import inspect

    from eleven_nb.server import auth

    assert auth.key_matches(SENTINEL, ("other", SENTINEL)) and not auth.key_matches("x", (SENTINEL,))
    assert not any(auth.key_matches(k, (SENTINEL,)) for k in ("\udcff", "\ud800", SENTINEL + "\udc80"))
    assert "compare_digest" in inspect.getsource(auth.key_matches)  # no early-exit string comparison
