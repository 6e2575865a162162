"""Generated client frames and the rule every server answer must follow.

Shared by the fuzz tests and ``bench/fuzz_server.py``. Each case sends an
initial message, the generated frames, then the end of the stream; the server
must answer every case as the protocol says: either it accepts and ends normally
(final message, close 1000), or it sends a documented error frame and closes
with that code. :func:`run_case_direct` feeds the protocol state machine itself
(thousands of cases a second, checking its limits after every frame);
:func:`run_case` sends the same frames to a real server over a socket.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import aiohttp
from hypothesis import strategies as st

from eleven_nb import protocol
from eleven_nb.protocol.server import DEFAULT_MAX_BUFFERED_CHARS
from bench.peer import Peer

KEYS = ["text", "flush", "try_trigger_generation", "voice_settings", "generation_config", "context_id",
        "contextId", "close_context", "close_socket", "xi_api_key", "authorization", "unknown_field"]

numbers = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0, 0.5, 0.7, 1.2, 180, 500, 50, -1]))
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=40))
# the classes of text that broke servers: runs of whitespace or punctuation, lone surrogates,
# non-Latin scripts, emoji runs
runs = st.text(alphabet=" \n\t.,;:!?…—-\"'()", min_size=1, max_size=3000)
surrogates = st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
scripts = st.sampled_from(["日本語のテキストです。", "中文句子，没有空格。", "مرحبا بالعالم، كيف حالك؟ ", "Привет, мир! ",
                           "नमस्ते दुनिया। ", "안녕하세요 세계 ", "שלום עולם. ", "Ελληνικά κείμενα. "])
emoji = st.text(alphabet="🎉😀👍🏽❤️‍🔥🇯🇵🧑‍🚀", min_size=1, max_size=300)
small_text = st.one_of(st.text(max_size=60), st.sampled_from(["", " ", "Hello there. ", "Dr. Smith, 3:45 pm. ",
                                                              "café ☕ 🎉 ", "\n\n", "...", "a" * 400]),
                       runs, scripts, emoji, st.tuples(st.text(max_size=10), surrogates).map("".join))
voice_settings = st.one_of(
    scalars,
    st.fixed_dictionaries({}, optional={k: numbers | scalars for k in
                                        ["stability", "similarity_boost", "style", "speed", "use_speaker_boost"]}),
)
values = {
    "text": st.one_of(small_text, scalars, st.lists(st.text(max_size=5), max_size=3)),
    "flush": scalars,
    "try_trigger_generation": scalars,
    "voice_settings": voice_settings,
    "generation_config": st.one_of(scalars, st.fixed_dictionaries(
        {}, optional={"chunk_length_schedule": st.one_of(scalars, st.lists(numbers, max_size=5))})),
    "context_id": st.one_of(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]), scalars, surrogates),
    "contextId": st.sampled_from(["a", "z"]),
    "close_context": scalars,
    "close_socket": scalars,
    "xi_api_key": scalars,
    "authorization": scalars,
    "unknown_field": st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=5),
}
objects = st.lists(st.sampled_from(KEYS), unique=True, max_size=6).flatmap(
    lambda keys: st.fixed_dictionaries({k: values[k] for k in keys}))


@dataclass(frozen=True)
class Raw:
    """A frame sent as-is: text (maybe not JSON) or binary."""

    data: str | bytes


raw_frames = st.one_of(
    st.text(max_size=80).map(Raw),
    st.binary(max_size=64).map(Raw),
    st.sampled_from(["[]", "null", "1", '"text"', '{"text": NaN}', "{", '{"text": "a"', "{}"]).map(Raw),
    st.just(Raw(json.dumps({"text": "x" * (protocol.MAX_INPUT_FRAME + 10)}))),  # over the frame limit
)
frames = st.one_of(objects, objects, objects, raw_frames)


def _churn(ids: int, rounds: int) -> list[dict]:
    """Contexts opened, spoken and closed in a hurry, ids reused."""
    out: list[dict] = []
    for i in range(rounds):
        cid = f"c{i % ids}"
        out += [protocol.initialize_connection(context_id=cid), protocol.send_text("Churn. ", context_id=cid),
                protocol.close_context(cid)]
    return out


churn = st.builds(_churn, st.integers(1, 8), st.integers(1, 40))
cases = st.tuples(st.booleans(), st.one_of(st.lists(frames, min_size=1, max_size=4), churn))  # (multi?, frames)


@dataclass
class Outcome:
    close_code: int | None
    errors: list[dict]
    finals: int
    audio: int


async def run_case(http: aiohttp.ClientSession, server, multi: bool, sent: list, timeout: float = 20.0) -> Outcome:
    url = server.ws_url(endpoint="multi-stream-input" if multi else "stream-input", output_format="pcm_8000",
                        inactivity_timeout=5)
    outcome = Outcome(None, [], 0, 0)
    async with http.ws_connect(url, max_msg_size=protocol.CLIENT_MAX_FRAME) as ws:
        try:
            await ws.send_str(protocol.dumps(protocol.initialize_connection(context_id="a" if multi else None)))
            for frame in sent:
                if isinstance(frame, Raw):
                    await (ws.send_bytes(frame.data) if isinstance(frame.data, bytes) else ws.send_str(frame.data))
                else:
                    await ws.send_str(json.dumps(frame, allow_nan=True))
            await ws.send_str(protocol.dumps(protocol.close_socket() if multi else protocol.close_connection()))
        except (ConnectionResetError, aiohttp.ClientConnectionError):
            pass  # the server already closed on an earlier frame: its answer is read below
        async with asyncio.timeout(timeout):
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                if "error" in data:
                    outcome.errors.append(data)
                elif data.get("isFinal"):
                    outcome.finals += 1
                elif data.get("audio"):
                    outcome.audio += 1
        outcome.close_code = ws.close_code
    return outcome


def run_case_direct(multi: bool, sent: list, limit: int = DEFAULT_MAX_BUFFERED_CHARS) -> Outcome:
    """The same case fed to the protocol state machine, with an engine that speaks at once.
    Checks the per-socket limits after every frame."""
    peer = Peer(multi=multi, inactivity_timeout=5, max_buffered_chars=limit)
    peer.send(protocol.initialize_connection(context_id="a" if multi else None))
    for frame in sent:
        if isinstance(frame, Raw) and isinstance(frame.data, bytes):
            peer.conn.receive_binary()
            peer.pump()
        else:
            peer.send(frame.data if isinstance(frame, Raw) else json.dumps(frame, allow_nan=True))
        assert peer.conn.contexts_held <= protocol.MAX_CONTEXTS
        assert peer.conn.chars_held <= limit
    peer.send(protocol.close_socket() if multi else protocol.close_connection())
    assert peer.close is not None, "the stream ended but the connection did not close"
    return Outcome(peer.close[0], peer.errors, len(peer.finals), sum(1 for f in peer.frames if f.get("audio")))


def check_outcome(outcome: Outcome, multi: bool) -> None:
    """The rule: accepted and closed normally, or documented errors and a close with the fatal one's code."""
    for error in outcome.errors:
        assert error["error"] in protocol.ERRORS, error
        assert set(error) <= {"message", "error", "code", "contextId"}, error
        assert error["code"] == protocol.ERRORS[error["error"]][0], error
    fatal = [e for e in outcome.errors if "contextId" not in e or not multi]
    if fatal:
        assert outcome.close_code == fatal[-1]["code"], (outcome, fatal)
    else:
        assert outcome.close_code == 1000, outcome
        if not multi:
            assert outcome.finals == 1, outcome
