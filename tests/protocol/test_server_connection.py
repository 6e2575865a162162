"""The server's protocol rules on strings, with a fake clock (no socket, no engine, no sleeping)."""
from __future__ import annotations

import json

import pytest

from eleven_nb import protocol
from eleven_nb.protocol import ProtocolError
from eleven_nb.protocol.server import (
    AUTH_TIMEOUT,
    Authenticated,
    ContextClosing,
    Failed,
    Generate,
)
from bench.peer import Peer

init, text, eos = protocol.initialize_connection, protocol.send_text, protocol.close_connection
TEXT = "Hello there! How are you doing today? This is streaming text-to-speech!"


def error_of(peer: Peer) -> str:
    assert peer.errors, peer.frames
    return peer.errors[-1]["error"]


# --- stream-input ----------------------------------------------------------------------------


def test_stream_input_speaks_everything_sent_then_final_and_close_1000():
    peer = Peer().send(init(voice_settings={"stability": 0.5}), text("Hello there! "),
                       text("How are you doing today? "),
                       text("This is streaming text-to-speech!", try_trigger_generation=True), eos())
    assert "".join(peer.generated) == TEXT and peer.spoken() == TEXT
    assert peer.frames[-1] == protocol.final_message()
    assert all(f["isFinal"] is None and "contextId" not in f for f in peer.frames[:-1])
    assert peer.close == (1000, "")


def test_schedule_holds_text_until_its_threshold_and_cuts_at_a_space():
    peer = Peer().send(init(), text("Short text under the schedule. "))
    assert peer.generated == []  # 31 characters < 120
    peer.send(text("word " * 20 + "cut"))
    assert peer.generated == ["Short text under the schedule. " + "word " * 20]  # "cut" waits: no word is split
    assert len(peer.generated[0]) >= 120


def test_a_custom_schedule_applies_in_turn():
    peer = Peer().send(init() | {"generation_config": {"chunk_length_schedule": [50, 100]}})
    for _ in range(8):
        peer.send(text("abcd " * 4))  # 20 characters a message
    assert [len(g) for g in peer.generated] == [60, 100]


def test_flush_generates_now_and_sends_no_final():
    peer = Peer().send(init(), text("Flush me. "), text(" ", flush=True))
    assert peer.generated == ["Flush me.  "] and peer.finals == [] and peer.close is None
    peer.send(text("", flush=True))  # a bare flush with nothing buffered
    assert len(peer.generated) == 1 and peer.close is None


def test_try_trigger_generation_generates_past_the_minimum_only():
    peer = Peer().send(init(), text("Tiny. ", try_trigger_generation=True))
    assert peer.generated == []
    peer.send(text("A longer sentence that passes fifty characters easily. ", try_trigger_generation=True))
    assert len(peer.generated) == 1


def test_auto_mode_generates_at_each_sentence():
    peer = Peer(auto_mode=True).send(init(), text("Hi. "), text("How are"), text(" you? "))
    assert peer.generated == ["Hi. ", "How are you? "]


def test_initial_space_is_not_text_but_later_spaces_are():
    peer = Peer().send(init(), text(" "), text("x", flush=True), eos())
    assert "".join(peer.generated) == " x"


def test_a_first_frame_without_text_ends_the_stream():
    peer = Peer().send({"voice_settings": None})
    assert peer.finals == [None] and peer.close == (1000, "")


def test_input_after_end_of_stream_is_ignored():
    peer = Peer(engine=False).send(init(), text("Last words. "), eos(), "not even json", text("more "))
    assert peer.errors == [] and peer.generated == ["Last words. "]
    peer.run_pending()
    assert peer.finals == [None] and peer.close == (1000, "")


def test_keep_alive_resets_the_timer_then_timeout_closes_1008():
    peer = Peer(inactivity_timeout=2).send(init())
    for _ in range(4):
        peer.advance(1.5).send(protocol.keep_alive())
    assert peer.close is None
    peer.advance(1.9)
    assert peer.close is None and peer.conn.next_deadline() == pytest.approx(peer.now + 0.1)
    peer.advance(0.1)
    expected = ProtocolError.of("input_timeout_exceeded", timeout=2)
    assert peer.frames[-1] == expected.to_message() and "timeout of 2.0 seconds" in expected.message
    assert peer.close == (1008, protocol.close_reason(expected.message))


def test_no_timeout_while_generating_and_the_timer_restarts_after():
    peer = Peer(engine=False, inactivity_timeout=2).send(init(), text("Long work. ", flush=True))
    peer.advance(30)
    assert peer.close is None and peer.conn.next_deadline() is None
    peer.run_pending()
    peer.advance(1.9)
    assert peer.close is None
    peer.advance(0.2)
    assert error_of(peer) == "input_timeout_exceeded"


@pytest.mark.parametrize("bad, detail", [
    ("not json", "not JSON"), ('{"text": 5}', "text must be a string"), ("[]", "expected a JSON object"),
    ('{"text": "a", "flush": "x"}', "flush must be true or false"), ('{"text": NaN}', "not JSON"),
    ('{"text": "\\ud800 "}', "lone surrogate"), ('{"text": "a ", "context_id": "\\udfff"}', "lone surrogate"),
])
def test_bad_frames_get_invalid_input_message_and_a_close(bad, detail):
    peer = Peer().send(init(), bad, text("ignored "))
    assert error_of(peer) == "invalid_input_message" and detail in peer.errors[-1]["message"]
    assert peer.close is not None and peer.close[0] == 1008 and peer.generated == []
    reason = peer.close[1].encode()
    assert 0 < len(reason) <= 123 and reason.decode() in peer.errors[-1]["message"]


def test_binary_frames_are_refused():
    peer = Peer().send(init())
    peer.conn.receive_binary()
    peer.pump()
    assert error_of(peer) == "invalid_input_message" and "binary" in peer.errors[-1]["message"]


def test_the_frame_limit_counts_bytes_not_characters():
    emoji = json.dumps({"text": "🎉" * 300_000}, ensure_ascii=False)  # 300,000 characters, 1.2 MB
    assert len(emoji) < protocol.MAX_INPUT_FRAME < len(emoji.encode())
    peer = Peer().send(init(), emoji)
    assert error_of(peer) == "message_too_big" and peer.close[0] == 1009


def test_close_reasons_are_cut_at_a_character_boundary():
    reason = protocol.close_reason("é" * 100)
    assert len(reason.encode()) == 122 and reason == "é" * 61
    assert protocol.close_reason("short") == "short"


def test_voice_settings_may_be_repeated_but_not_changed():
    same = text("Same settings are fine. ") | {"voice_settings": {"stability": 0.5}}
    changed = text("Changed settings are not. ") | {"voice_settings": {"stability": 0.9}}
    peer = Peer().send(init(voice_settings={"stability": 0.5}), same)
    assert peer.close is None
    peer.send(changed)
    assert peer.errors[-1]["message"] == ProtocolError.of("voice_settings_changed").message


def test_engine_failure_on_stream_input_fails_the_socket():
    peer = Peer(engine=False).send(init(), text("Please explode now. ", flush=True))
    peer.conn.context_failed(0)
    peer.pump()
    assert error_of(peer) == "generation_failed" and peer.close[0] == 1008
    assert any(isinstance(e, Failed) for e in peer.events)


def test_text_held_is_bounded():
    peer = Peer(max_buffered_chars=500).send(init(), text("word " * 200))
    assert error_of(peer) == "text_buffer_exceeded" and "500" in peer.errors[-1]["message"]


def test_text_being_spoken_still_counts_against_the_bound():
    peer = Peer(engine=False, max_buffered_chars=500).send(init(), text("word " * 90, flush=True))
    assert peer.close is None
    peer.send(text("word " * 20))  # 450 + 100 > 500 while the first generation is still being spoken
    assert error_of(peer) == "text_buffer_exceeded"


def test_a_client_close_stops_all_output():
    peer = Peer(engine=False).send(init(), text("Hi. ", flush=True))
    peer.conn.receive_close()
    peer.run_pending()
    assert peer.frames == [] and peer.close is not None


# --- auth -------------------------------------------------------------------------------------

KEYS = ("key-one", "key-two")


def keyed(**extra):
    return Peer(check_key=lambda key: key in KEYS, **extra)


@pytest.mark.parametrize("field, value", [("xi_api_key", "key-one"), ("xi-api-key", "key-two"),
                                          ("authorization", "Bearer key-one")])
def test_a_key_in_the_first_message_authenticates(field, value):
    peer = keyed().send(init() | {field: value}, text("Authorised. "), eos())
    assert any(isinstance(e, Authenticated) for e in peer.events) and peer.close == (1000, "")


@pytest.mark.parametrize("key, error", [(None, "authentication_required"), ("wrong", "invalid_api_key")])
def test_a_missing_or_wrong_key_is_a_clear_error(key, error):
    peer = keyed().send(init(api_key=key), text("Hi. "))
    assert error_of(peer) == error and peer.close[0] == 1008 and peer.generated == []


def test_a_socket_without_a_key_gets_a_short_deadline():
    peer = keyed(inactivity_timeout=180)
    assert peer.conn.next_deadline() == AUTH_TIMEOUT == 5.0
    peer.advance(4.9)
    assert peer.close is None
    peer.advance(0.2)
    assert error_of(peer) == "authentication_timeout" and peer.close[0] == 1008


# --- multi-stream-input ------------------------------------------------------------------------


def test_contexts_flush_without_finals_and_close_socket_sends_every_final():
    peer = Peer(multi=True).send(
        init(context_id="one", voice_settings={"stability": 0.5}), text("Hello from one! ", context_id="one"),
        init(context_id="two", voice_settings={"stability": 0.3}), text("Hi from two! ", context_id="two"),
        protocol.flush_context("one"), protocol.flush_context("two"))
    assert peer.spoken("one") == "Hello from one! " and peer.spoken("two") == "Hi from two! "
    assert peer.finals == [] and peer.close is None
    peer.send(protocol.close_socket())
    assert sorted(peer.finals) == ["one", "two"] and peer.close == (1000, "")
    assert all(f == protocol.final_message(f["contextId"]) for f in peer.frames if f.get("isFinal"))


def test_close_context_sends_the_rest_then_its_final():
    peer = Peer(multi=True).send(init(context_id="c"), text("Buffered, never flushed. ", context_id="c"),
                                 protocol.close_context("c"))
    assert peer.spoken("c") == "Buffered, never flushed. " and peer.frames[-1] == protocol.final_message("c")
    assert peer.close is None


def test_a_closed_context_keeps_its_slot_until_its_final():
    peer = Peer(multi=True, engine=False).send(*[init(context_id=f"c{i}") for i in range(5)],
                                               protocol.close_context("c0"))
    assert peer.conn.contexts_held == 5
    peer.run_pending(ref=0)
    assert peer.finals == ["c0"] and peer.conn.contexts_held == 4
    peer.send(init(context_id="c5"))
    assert peer.close is None
    peer.send(protocol.close_context("c1"), init(context_id="c6"))  # c1 has not sent its final
    assert error_of(peer) == "max_active_conversations" and peer.close[0] == 1008


def test_closing_an_unknown_context_is_a_no_op():
    peer = Peer(multi=True).send(protocol.close_context("unknown"))
    assert peer.frames == [] and peer.close is None and peer.conn.contexts_held == 0


def test_context_churn_never_holds_more_than_five():
    peer = Peer(multi=True, engine=False)
    most = 0
    for i in range(3000):
        cid = f"c{i}"
        peer.send(init(context_id=cid), text("Churn. ", context_id=cid), protocol.close_context(cid))
        most = max(most, peer.conn.contexts_held)
        if i % 5 == 4:
            peer.run_pending()  # the engine catches up after every fifth context
    assert most == 5 and peer.close is None and len(peer.finals) == 3000
    for i in range(6):  # an engine that does not catch up: the sixth is refused
        peer.send(init(context_id=f"d{i}"), protocol.close_context(f"d{i}"))
    assert error_of(peer) == "max_active_conversations"


def test_a_reused_id_speaks_after_the_old_final_never_interleaved():
    peer = Peer(multi=True, engine=False).send(
        init(context_id="a"), text("Old words. ", context_id="a", flush=True), protocol.close_context("a"),
        init(context_id="a"), text("New words. ", context_id="a", flush=True), protocol.close_context("a"))
    assert [e.ref for e in peer.pending] == [0, 0]  # the new context waits for the old one's final
    peer.run_pending()
    assert [(type(e).__name__, e.ref) for e in peer.pending] == [("Generate", 1), ("ContextClosing", 1)]
    peer.run_pending()
    kinds = [("final" if f.get("isFinal") else "".join(f["alignment"]["chars"])) for f in peer.frames]
    assert kinds == ["Old words. ", "final", "New words. ", "final"]
    assert peer.conn.contexts_held == 0


def test_per_context_inactivity_closes_idle_contexts_and_the_socket_stays():
    peer = Peer(multi=True, inactivity_timeout=2).send(init(context_id="kept"), init(context_id="idle"))
    for _ in range(4):
        peer.advance(0.8).send(protocol.keep_alive("kept"))
    assert peer.finals == ["idle"] and peer.close is None
    peer.send(text("Still here. ", context_id="kept", flush=True))
    assert peer.spoken("kept") == "Still here. "
    peer.send(protocol.close_socket())
    assert peer.finals == ["idle", "kept"] and peer.close == (1000, "")


def test_a_socket_with_no_context_times_out():
    peer = Peer(multi=True, inactivity_timeout=3).send({"text": ""})  # a context-less keep-alive
    assert peer.conn.contexts_held == 0
    peer.advance(2.9).send({"text": ""})
    peer.advance(2.9)
    assert peer.close is None
    peer.advance(0.2)
    assert error_of(peer) == "input_timeout_exceeded"


def test_voice_settings_after_a_bare_keep_alive_are_1008():
    peer = Peer(multi=True).send(protocol.keep_alive("late"),
                                 init(context_id="late", voice_settings={"stability": 0.2}))
    assert peer.errors[-1]["message"] == ProtocolError.of("voice_settings_changed").message


def test_a_failing_context_ends_alone():
    peer = Peer(multi=True, engine=False).send(
        *[m for cid in ("ok1", "bad", "ok2") for m in (init(context_id=cid), text("Speak. ", context_id=cid),
                                                         protocol.close_context(cid))],
        protocol.close_socket())
    peer.conn.context_failed(1)
    peer.run_pending()
    assert peer.errors == [{**ProtocolError.of("generation_failed").to_message(), "contextId": "bad"}]
    assert sorted(peer.finals) == ["ok1", "ok2"] and peer.close == (1000, "")


def test_close_socket_with_nothing_open_closes_at_once():
    peer = Peer(multi=True).send(protocol.close_socket(), init(context_id="late"))
    assert peer.close == (1000, "") and peer.frames == []


def test_text_is_bounded_per_socket_not_only_per_context():
    peer = Peer(multi=True, engine=False, max_buffered_chars=1000)
    for i in range(3):
        peer.send(init(context_id=f"c{i}"), text("x " * 150, context_id=f"c{i}", flush=True))
    assert peer.close is None
    peer.send(protocol.close_context("c0"), init(context_id="c3"), text("x " * 100, context_id="c3"))
    assert error_of(peer) == "text_buffer_exceeded"  # c0 is closing, but its text is still being spoken


def test_events_come_in_order_for_the_driver():
    peer = Peer(engine=False).send(init(), text("One. ", flush=True), text("Two. ", flush=True), eos())
    assert [type(e) for e in peer.pending] == [Generate, Generate, ContextClosing]
