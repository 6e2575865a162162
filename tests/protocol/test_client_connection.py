"""ClientConnection on strings with a fake clock: the client's protocol rules, no sockets."""
from __future__ import annotations

import json

import pytest

from eleven_nb import protocol
from eleven_nb.alignment import Alignment
from eleven_nb.protocol.client import (
    CLOSE_PROTOCOL_ERROR,
    AudioReceived,
    ClientConnection,
    ConnectionState,
    ErrorReceived,
    FinalReceived,
    OtherReceived,
    TimedOut,
)


def aligned(text: str, context_id: str | None = None, audio: bytes = b"\0\0", per: int = 1) -> str:
    """An audio frame whose alignment covers ``text`` (what a server sends once it has spoken it),
    ``per`` characters an entry (an entry may hold more than one character)."""
    chars = tuple(text[i:i + per] for i in range(0, len(text), per))
    alignment = Alignment(chars, tuple(10.0 * i for i in range(len(chars))), (10.0,) * len(chars))
    return json.dumps(protocol.audio_message(audio, alignment, alignment, context_id=context_id))


def drain(conn: ClientConnection, now: float = 0.0) -> list[dict]:
    """Write everything writable, as the driver does: next_frame, then frame_written."""
    written = []
    while (message := conn.next_frame()) is not None:
        conn.frame_written(now)
        written.append(message)
    return written


def single(**kwargs) -> ClientConnection:
    conn = ClientConnection(False, **kwargs)
    conn.send(protocol.initialize_connection())
    return conn


# --- sending and what counts as text ---------------------------------------------------------


def test_the_first_space_is_not_text_but_later_spaces_are():
    conn = single()
    conn.send(protocol.send_text("Hello "))
    conn.send(protocol.keep_alive())
    assert [m["text"] for m in drain(conn)] == [" ", "Hello ", " "]
    ctx = conn.context(None)
    assert ctx.written_chars == 7 and ctx.unspoken_text == "Hello  "


def test_alignment_drops_spoken_text_and_keeps_the_rest():
    conn = single()
    for piece in ("One two ", "three four ", "five "):
        conn.send(protocol.send_text(piece))
    drain(conn)
    [event] = conn.receive_text(aligned("One two thr"), 1.0)
    assert isinstance(event, AudioReceived) and event.context_id is None
    ctx = conn.context(None)
    assert ctx.unspoken_text == "ee four five " and ctx.unspoken_chars == 13 and len(ctx._unspoken) == 2


def test_end_of_stream_marks_closing_and_the_final_finishes():
    conn = single()
    conn.send(protocol.send_text("Hi "))
    conn.send(protocol.close_connection())
    drain(conn)
    ctx = conn.context(None)
    assert ctx.closing and ctx.close_written
    conn.receive_text(aligned("Hi "), 1.0)
    [event] = conn.receive_text(json.dumps(protocol.final_message()), 1.1)
    assert isinstance(event, FinalReceived) and ctx.done


def test_multi_contexts_are_counted_apart_and_a_finished_id_starts_anew():
    conn = ClientConnection(True)
    conn.send(protocol.initialize_connection(context_id="a"))
    conn.send(protocol.send_text("Alpha ", context_id="a"))
    conn.send(protocol.initialize_connection("Beta ", context_id="b"))
    conn.send(protocol.close_context("a"))
    drain(conn)
    assert conn.context("a").unspoken_text == "Alpha " and conn.context("b").unspoken_text == "Beta "
    conn.receive_text(aligned("Alpha ", "a"), 1.0)
    [final] = conn.receive_text(json.dumps(protocol.final_message("a")), 1.0)
    assert isinstance(final, FinalReceived) and final.context_id == "a"
    old = conn.contexts["a"]
    [stray] = conn.receive_text(aligned("x", "a"), 1.1)
    assert isinstance(stray, OtherReceived)  # a frame for a finished context plays nothing
    assert conn.context("a") is not old and not conn.context("a").done


def test_flush_done_is_another_frame():
    conn = ClientConnection(True)
    [event] = conn.receive_text('{"type": "flush_done", "context_id": "c", "flush_done": true}', 0.0)
    assert isinstance(event, OtherReceived)


def test_a_context_error_fails_that_context_and_an_unnamed_one_the_connection():
    conn = ClientConnection(True)
    conn.send(protocol.initialize_connection(context_id="a"))
    drain(conn)
    frame = protocol.ProtocolError.of("generation_failed").to_message("a")
    [event] = conn.receive_text(json.dumps(frame), 1.0)
    assert isinstance(event, ErrorReceived) and event.context_id == "a" and conn.contexts["a"].done
    assert conn.failure is None
    [event] = conn.receive_text(json.dumps(protocol.ProtocolError.of("invalid_api_key").to_message()), 1.0)
    assert event.context_id is None and conn.failure is event


# --- corrupt frames ---------------------------------------------------------------------------


CORRUPT = [
    "not json",
    "[1, 2]",
    "[" * 100_000 + "]" * 100_000,  # nested too deeply for the parser
    '{"audio": "!!!not base64!!!", "isFinal": null}',
    '{"audio": 12, "isFinal": null}',
    '{"audio": "AAAA", "alignment": "chars"}',
    '{"audio": "AAAA", "alignment": {"chars": ["a", "b"], "charStartTimesMs": [0], "charDurationsMs": [1, 1]}}',
    '{"audio": "AAAA", "alignment": {"chars": ["a"], "charStartTimesMs": [NaN], "charDurationsMs": [1]}}',
    '{"audio": "AAAA", "alignment": {"chars": ["a"], "charStartTimesMs": [-5], "charDurationsMs": [1]}}',
    '{"audio": "AAAA", "alignment": {"chars": ["a"], "charStartTimesMs": [0], "charDurationsMs": [1e999]}}',
    '{"audio": "AAAA", "alignment": {"chars": [1], "charStartTimesMs": [0], "charDurationsMs": [1]}}',
    '{"audio": "AAAA", "contextId": 7}',
]


@pytest.mark.parametrize("frame", CORRUPT, ids=[f"corrupt{i}" for i in range(len(CORRUPT))])
def test_a_corrupt_frame_fails_the_connection_with_a_protocol_error(frame):
    conn = single()
    [event] = conn.receive_text(frame, 1.0)
    assert isinstance(event, ErrorReceived) and event.message is None
    assert event.error.error == "invalid_server_message" and event.error.code == CLOSE_PROTOCOL_ERROR
    assert conn.failure is event


def test_null_alignments_and_old_spellings_are_not_corrupt():
    conn = single()
    frame = ('{"audio": "AAAA", "is_final": null, "alignment": null, "normalizedAlignment": null}')
    [event] = conn.receive_text(frame, 1.0)
    assert isinstance(event, AudioReceived) and event.message.audio == b"\0\0\0"


# --- pacing -------------------------------------------------------------------------------------


def test_text_beyond_the_window_waits_for_the_alignment():
    conn = single(window=10)
    for piece in ("aaaa ", "bbbb ", "cccc ", "dddd "):
        conn.send(protocol.send_text(piece))
    assert [m["text"] for m in drain(conn)] == [" ", "aaaa ", "bbbb "]  # 10 unspoken: the window is full
    assert not conn.may_send(protocol.send_text("eeee "))
    conn.receive_text(aligned("aaaa "), 1.0)
    assert [m["text"] for m in drain(conn)] == ["cccc "]
    conn.receive_text(aligned("bbbb cccc "), 2.0)
    assert [m["text"] for m in drain(conn)] == ["dddd "]
    assert conn.may_send(protocol.send_text("eeee "))


def test_a_server_without_alignment_is_not_paced():
    conn = single(window=5)
    conn.send(protocol.send_text("aaaa "))
    conn.send(protocol.send_text("bbbb "))
    assert len(drain(conn)) == 2
    assert conn.next_frame() is None  # nothing received yet: wait for the first reply
    conn.receive_text(json.dumps(protocol.audio_message(b"\0\0")), 1.0)  # audio, no alignment
    assert [m["text"] for m in drain(conn)] == ["bbbb "]


def test_a_held_context_does_not_hold_the_others():
    conn = ClientConnection(True, window=4)
    conn.send(protocol.initialize_connection(context_id="a"))
    conn.send(protocol.initialize_connection(context_id="b"))
    conn.send(protocol.send_text("aaaa ", context_id="a"))
    conn.send(protocol.send_text("more ", context_id="a"))
    conn.send(protocol.send_text("bb ", context_id="b"))
    conn.send(protocol.close_socket())
    written = drain(conn)
    assert [(m.get("context_id"), m.get("text")) for m in written] == [
        ("a", " "), ("b", " "), ("a", "aaaa "), ("b", "bb ")]
    conn.receive_text(aligned("aaaa ", "a"), 1.0)
    assert drain(conn) == [protocol.send_text("more ", context_id="a"), protocol.close_socket()]


def test_a_million_characters_keep_the_unspoken_text_within_the_window():
    conn = single(window=20_000)
    piece = "word " * 20
    sent = spoken = 0
    for _ in range(10_000):  # 1,000,000 characters
        conn.send(protocol.send_text(piece))
        for message in drain(conn):
            sent += len(message["text"])
        ctx = conn.context(None)
        assert ctx.unspoken_chars <= 20_000 + len(piece)
        if ctx.unspoken_chars >= 20_000:  # the server speaks what it was sent
            text = ctx.unspoken_text
            conn.receive_text(aligned(text, per=100), 1.0)
            spoken += len(text)
    assert sent == 1 + 1_000_000 and len(conn.context(None).unspoken_text) <= 20_000 + len(piece)


# --- time: keep-alives and the receive deadline -------------------------------------------------


def test_keep_alives_fall_due_after_the_interval_and_never_before_the_first_message():
    conn = ClientConnection(False, keepalive_interval=5.0)
    assert conn.next_deadline() is None  # nothing sent: the first message carries the settings
    conn.send(protocol.initialize_connection())
    drain(conn, now=1.0)
    assert conn.next_deadline() == 6.0
    assert conn.tick(5.9) == [] and conn.next_frame() is None
    conn.tick(6.0)
    assert drain(conn, now=6.0) == [protocol.keep_alive()]
    conn.send(protocol.close_connection())
    drain(conn, now=7.0)
    assert conn.next_deadline() != 12.0  # no keep-alive after the end of stream


def test_multi_keep_alives_per_open_context_and_for_the_socket_when_none_is_open():
    conn = ClientConnection(True, keepalive_interval=5.0, receive_timeout=None)
    assert conn.next_deadline() == 5.0
    conn.tick(5.0)
    assert drain(conn, 5.0) == [protocol.keep_alive_socket()]
    conn.send(protocol.initialize_connection(context_id="a"))
    conn.send(protocol.initialize_connection(context_id="b"))
    drain(conn, 6.0)
    conn.send(protocol.send_text("x ", context_id="b"))
    drain(conn, 9.0)
    conn.tick(11.0)
    assert drain(conn, 11.0) == [protocol.keep_alive("a")]
    conn.tick(14.0)
    assert drain(conn, 14.0) == [protocol.keep_alive("b")]


def test_a_keep_alive_jumps_ahead_of_text_held_by_the_window():
    conn = single(keepalive_interval=5.0, window=4, receive_timeout=None)
    conn.send(protocol.send_text("aaaa "))
    conn.send(protocol.send_text("held "))
    drain(conn, 0.0)
    conn.tick(5.0)
    assert drain(conn, 5.0) == [protocol.keep_alive()]


def test_silence_after_the_end_of_stream_times_out():
    conn = single(receive_timeout=3.0)
    conn.send(protocol.send_text("Hi "))
    drain(conn, 0.0)
    assert conn.next_deadline() is None  # nothing owed yet: the server may wait for more text
    conn.send(protocol.close_connection())
    drain(conn, 1.0)
    assert conn.next_deadline() == 4.0 and "final" in conn.awaited
    conn.receive_text(aligned("H"), 2.0)  # any frame moves the deadline
    assert conn.next_deadline() == 5.0 and conn.tick(4.9) == []
    [event] = conn.tick(5.0)
    assert isinstance(event, TimedOut) and conn.failure is event and event.seconds == 3.0


def test_a_flush_is_owed_audio_until_aligned():
    conn = single(receive_timeout=3.0)
    conn.send(protocol.send_text("Hi ", flush=True))
    drain(conn, 0.0)
    assert conn.next_deadline() == 3.0
    conn.receive_text(aligned("Hi "), 1.0)
    assert conn.next_deadline() is None
    conn.send(protocol.send_text("more "))  # not flushed: the server may buffer it
    drain(conn, 2.0)
    assert conn.next_deadline() is None


def test_a_full_window_is_owed_audio():
    conn = single(receive_timeout=3.0, window=4)
    conn.send(protocol.send_text("aaaa "))
    drain(conn, 10.0)
    assert conn.next_deadline() == 13.0
    assert isinstance(conn.tick(13.0)[0], TimedOut)


# --- why no audio is coming (what a stalled reader is told) ------------------------------------


def test_text_held_below_the_schedule_is_named_until_it_is_flushed():
    conn = single()
    conn.send(protocol.send_text("Hello there! "))
    assert conn.silence_reason(None) is None  # not written yet: it still goes out
    drain(conn)
    reason = conn.silence_reason(None)
    assert reason is not None and "holds the 13 characters" in reason and "'Hello there! '" in reason
    assert "flush" in reason and "close" in reason
    conn.send(protocol.send_text("More. ", flush=True))
    drain(conn)
    assert conn.context(None).held_text == "" and conn.silence_reason(None) is None  # audio is owed
    conn.receive_text(aligned("Hello there! More. "), 1.0)
    reason = conn.silence_reason(None)
    assert reason is not None and reason.startswith("everything sent has been spoken") and "close" in reason


def test_held_text_is_only_what_follows_the_last_flush_and_the_alignment():
    conn = single()
    conn.send(protocol.send_text("One. ", flush=True))
    conn.send(protocol.send_text("Two three "))
    drain(conn)
    conn.receive_text(aligned("One. "), 1.0)
    assert conn.context(None).held_text == "Two three "
    conn.receive_text(aligned("Two "), 1.1)  # the server spoke part of it on its own schedule
    assert conn.context(None).held_text == "three "
    conn.send(protocol.send_text("x" * 100))
    drain(conn)
    reason = conn.silence_reason(None)
    assert reason is not None and "holds the 106 characters" in reason and "..." in reason and len(reason) < 300


def test_a_closing_stream_a_full_window_or_an_unpaced_server_owe_audio():
    closing = single()
    closing.send(protocol.send_text("Hi "))
    closing.send(protocol.close_connection())
    drain(closing)
    assert closing.silence_reason(None) is None
    full = single(window=4)
    full.send(protocol.send_text("aaaa "))
    drain(full)
    assert full.silence_reason(None) is None
    unpaced = single()  # audio without alignment: what was spoken cannot be told
    unpaced.send(protocol.send_text("Hi "))
    drain(unpaced)
    unpaced.receive_text(json.dumps(protocol.audio_message(b"\0\0", None, None)), 1.0)
    assert unpaced.silence_reason(None) is None


def test_multi_names_the_context_and_a_closed_one_owes_its_final():
    conn = ClientConnection(True)
    conn.send(protocol.initialize_connection(context_id="a"))
    conn.send(protocol.send_text("Alpha ", context_id="a"))
    conn.send(protocol.initialize_connection(context_id="b"))
    conn.send(protocol.send_text("Beta ", context_id="b"))
    conn.send(protocol.close_context("b"))
    drain(conn)
    reason = conn.silence_reason("a")
    assert reason is not None and "of context 'a'" in reason and "'Alpha '" in reason
    assert conn.silence_reason("b") is None and conn.silence_reason("nobody") is None
    conn.send(protocol.close_socket())
    assert conn.silence_reason("a") is None


# --- reconnecting -------------------------------------------------------------------------------


def test_resume_resends_the_first_message_the_unspoken_text_and_the_close_then_the_rest():
    conn = single()
    conn.send(protocol.send_text("One two ", flush=True))
    conn.send(protocol.send_text("three "))
    drain(conn)
    conn.receive_text(aligned("One "), 1.0)
    conn.send(protocol.send_text("four "))  # queued, never written
    conn.connection_lost()
    assert conn.next_frame() is None and conn.next_deadline() is None
    assert conn.resume(2.0) == 1
    written = drain(conn, 2.0)
    assert written == [protocol.initialize_connection(), protocol.send_text("two three ", flush=True),
                       protocol.send_text("four ")]
    ctx = conn.context(None)
    assert ctx.unspoken_text == "two three four "  # the resent text is not counted twice


def test_resume_repeats_a_written_close_and_skips_finished_contexts():
    conn = ClientConnection(True)
    for cid in ("a", "b"):
        conn.send(protocol.initialize_connection(context_id=cid))
        conn.send(protocol.send_text(f"{cid} text ", context_id=cid))
        conn.send(protocol.close_context(cid))
    drain(conn)
    conn.receive_text(aligned("a text ", "a"), 1.0)
    conn.receive_text(json.dumps(protocol.final_message("a")), 1.0)
    conn.send(protocol.close_socket())
    drain(conn)
    conn.connection_lost()
    conn.resume(2.0)
    assert drain(conn) == [protocol.initialize_connection(context_id="b"),
                           protocol.send_text("b text ", flush=True, context_id="b"),
                           protocol.close_context("b"), protocol.close_socket()]


def test_after_close_nothing_is_sent_and_every_context_ends():
    conn = single()
    conn.closed()
    assert conn.state is ConnectionState.CLOSED and conn.context(None).done
    assert conn.send(protocol.send_text("late ")) is False and conn.next_frame() is None
