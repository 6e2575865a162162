"""The player widget's kernel side: what each method puts on the comm (messages and raw buffers) and
the synced state a re-rendered or reopened output replays from."""
from __future__ import annotations

import json
import re
import threading

import numpy as np
import pytest
from ipywidgets.widgets.widget import _remove_buffers

from eleven_nb.jupyter import widget as widget_module
from eleven_nb.jupyter.widget import Player, _static

RATE = 22050
BASE64_RUN = re.compile(r"[A-Za-z0-9+/=]{120,}")


@pytest.fixture
def player(monkeypatch):
    """A Player whose comm records every message it would send to the frontend."""
    p = Player()
    p.sent = []

    def record(data=None, metadata=None, buffers=None):
        text = json.dumps(data)  # every message must be plain JSON...
        assert not BASE64_RUN.search(text), "binary data leaked into the JSON as text"  # ...with no base64
        p.sent.append((data, [bytes(b) for b in (buffers or [])]))

    monkeypatch.setattr(p.comm, "send", record)
    return p


def customs(p, kind=None):
    """The custom messages (``widget.send``) sent so far, with their buffers."""
    out = [(d["content"], b) for d, b in p.sent if d.get("method") == "custom"]
    return [(c, b) for c, b in out if kind is None or c["type"] == kind]


def updates(p):
    """State updates: {trait: value}, with binary traits put back from their buffers."""
    out = []
    for d, buffers in p.sent:
        if d.get("method") == "update":
            state = dict(d["state"])
            for path, buf in zip(d.get("buffer_paths", []), buffers):
                state[path[0]] = buf
            out.append(state)
    return out


def tone(ms: float) -> bytes:
    n = int(RATE * ms / 1000)
    return (3000 * np.sin(np.arange(n) / 7)).astype("<i2").tobytes()


def chunk_args(text: str, at_ms: float, ms_per_char: float = 50.0, lane: str = "speech"):
    pcm = tone(len(text) * ms_per_char)
    return {"lane": lane, "at_ms": at_ms, "pcm": pcm, "sample_rate": RATE, "chars": list(text),
            "starts_ms": [at_ms + i * ms_per_char for i in range(len(text))],
            "durations_ms": [ms_per_char] * len(text)}


def test_the_bundle_ships_in_the_package_and_ids_are_unique():
    assert _static("player.js").is_file() and _static("player.css").is_file()
    assert _static("player.js").parent.parent.name == "eleven_nb"  # inside the package: no node at install
    source = _static("player.js").read_text()
    assert "as default" in source and "\nimport " not in source  # one ES module, its imports bundled
    a, b = Player(), Player()
    assert a.player_id and a.player_id != b.player_id
    assert a.queue_id and a.queue_id == b.queue_id  # one playback queue per kernel process by default
    assert Player(queue_id="k1", endpoint_label="local · joe").endpoint_label == "local · joe"


def test_debug_handles_are_off_unless_asked_for(monkeypatch):
    assert Player().debug is False
    monkeypatch.setenv("ELEVEN_NB_PLAYER_DEBUG", "1")
    assert Player().debug is True and Player(debug=False).debug is False


def test_begin_resets_and_says_connecting(player):
    player.begin("Hello world.", [{"id": "speech", "label": "Narrator"}])
    [(begin, _)] = customs(player)  # begin means connecting: no status message of its own
    assert begin == {"type": "begin", "player_id": player.player_id, "text": "Hello world.", "lanes": [{"id": "speech", "label": "Narrator"}],
                     "interrupt": False}
    assert player.status == "connecting" and player.text == "Hello world." and player.words == []
    assert player.lanes == [{"id": "speech", "label": "Narrator"}]
    player.begin("Now.", interrupt=True)
    assert customs(player, "begin")[-1][0]["interrupt"] is True


def test_add_chunk_sends_the_pcm_as_one_raw_buffer(player):
    args = chunk_args("Hi there", 120.0)
    player.add_chunk(**args)
    [(msg, buffers)] = customs(player, "chunk")
    assert buffers == [args["pcm"]]  # the bytes themselves, not base64
    assert msg == {"type": "chunk", "lane": "speech", "at_ms": 120.0, "sample_rate": RATE,
                   "words": [{"text": "Hi", "start_ms": 120.0, "end_ms": 220.0},
                             {"text": "there", "start_ms": 270.0, "end_ms": 520.0}],
                   "grow": None, "aligned_chars": 7}
    assert "pcm" not in msg and "audio" not in msg


def test_chunks_send_words_once_and_grow_a_word_a_chunk_continues(player):
    player.begin("Hello big world. Bye", [{"id": "speech", "label": "speech"}])
    player.add_chunk(**chunk_args("Hello bi", 0.0))
    player.add_chunk(**chunk_args("g world. Bye", 400.0))
    player.add_chunk(**chunk_args("!", 1000.0))  # the open word goes on again
    player.add_chunk(**chunk_args("", 1100.0))  # audio alone: nothing to say about words
    first, second, third, fourth = [m for m, _ in customs(player, "chunk")]
    assert [w["text"] for w in first["words"]] == ["Hello", "bi"] and first["grow"] is None
    assert [w["text"] for w in second["words"]] == ["world.", "Bye"]
    assert second["grow"] == {"index": 1, "text": "big", "end_ms": 450.0}
    assert third["words"] == [] and third["grow"] == {"index": 3, "text": "Bye!", "end_ms": 1050.0}
    assert fourth["words"] == [] and fourth["grow"] is None
    assert [m["aligned_chars"] for m in (first, second, third, fourth)] == [7, 17, 18, 18]
    assert [w["text"] for w in player.collected_words()] == ["Hello", "big", "world.", "Bye!"]


def test_a_new_turn_or_a_long_pause_ends_a_word(player):
    player.begin("", [{"id": "a", "label": "Alice"}, {"id": "b", "label": "Bob"}])
    player.add_chunk(**chunk_args("Hi Al", 0.0, lane="a"))
    player.add_chunk(**chunk_args("Yo", 300.0, lane="b"))
    player.add_chunk(**chunk_args("ice", 500.0, lane="a"))  # Bob spoke in between: a new word
    player.add_chunk(**chunk_args("more", 2000.0, lane="a"))  # a long silence: a new word
    assert [(w["lane"], w["text"]) for w in player.collected_words()] == [
        ("a", "Hi"), ("a", "Al"), ("b", "Yo"), ("a", "ice"), ("a", "more")]
    assert all(m["grow"] is None for m, _ in customs(player, "chunk"))


def test_one_sample_rate_per_utterance(player):
    player.add_chunk(**chunk_args("ab", 0.0))
    with pytest.raises(ValueError, match="one sample rate per utterance: got 16000 Hz after 22050 Hz"):
        player.add_chunk(**{**chunk_args("cd", 100.0), "sample_rate": 16000})
    player.begin("again")  # a new utterance may have another rate
    player.add_chunk(**{**chunk_args("cd", 0.0), "sample_rate": 16000})
    assert player.sample_rate == 16000


def test_captions_come_from_one_timeline_of_all_lanes(player):
    player.begin("", [{"id": "a", "label": "Alice"}, {"id": "b", "label": "Bob"}])
    player.add_chunk(**chunk_args("Hello there.", 0.0, lane="a"))
    player.add_chunk(**chunk_args("Hi.", 700.0, lane="b"))
    vtt = player.captions_vtt()
    timeline = player.timeline()
    assert vtt == timeline.to_vtt() and vtt.startswith("WEBVTT")
    assert [w.text for w in timeline.words()] == ["Hello", "there.", "Hi."]
    assert "<v Alice>Hello there." in vtt and "<v Bob>Hi." in vtt  # a dialog's captions name the speakers
    assert "Alice: Hello there." in timeline.to_srt() and "Bob: Hi." in timeline.to_srt()  # --captions x.srt
    assert player.captions == ""  # synced once, at the end
    player.finish()
    assert player.captions == vtt


def test_captions_join_a_word_cut_between_chunks(player):
    player.add_chunk(**chunk_args("Hel", 0.0))
    player.add_chunk(**chunk_args("lo world.", 150.0))
    assert "Hello world." in player.captions_vtt()


def test_a_late_closing_mark_stays_on_its_word_but_a_late_word_does_not_join(player):
    """hibari may pause before a sentence's final "." and send it in a chunk of its own: it is no word."""
    player.add_chunk(**chunk_args("It runs away", 0.0))
    player.add_chunk(**chunk_args(".", 1000.0))  # 400 ms after "away" ends
    player.add_chunk(**chunk_args("Then", 2000.0))  # a word after a silence starts anew
    assert [w["text"] for w in player.collected_words()] == ["It", "runs", "away.", "Then"]


def test_add_chunk_checks_its_input(player):
    args = chunk_args("abc", 0.0)
    with pytest.raises(ValueError, match="differ in length"):
        player.add_chunk(**{**args, "starts_ms": [0.0]})
    with pytest.raises(ValueError, match="whole int16"):
        player.add_chunk(**{**args, "pcm": b"\x00\x01\x02"})


def test_append_text_streams_pieces_and_the_trait_catches_up(player, monkeypatch):
    player.begin("", [{"id": "bot", "label": "Bot"}])
    monkeypatch.setattr(widget_module, "TEXT_SYNC_INTERVAL_S", 3600)  # only status changes sync the trait
    player._text_synced_at = float("inf")
    for piece in ["A token ", "stream, ", "piece by piece."]:
        player.append_text("bot", piece)
    assert [m["text"] for m, _ in customs(player, "text")] == ["A token ", "stream, ", "piece by piece."]
    assert {m["lane"] for m, _ in customs(player, "text")} == {"bot"}
    assert player.text == ""  # throttled: not re-sent per token
    player.set_status("streaming")
    assert player.text == "A token stream, piece by piece."
    player.append_text(" More.")  # the one-argument form appends to the first lane
    assert customs(player, "text")[-1][0] == {"type": "text", "lane": "bot", "text": " More."}
    player.finish()
    assert player.text == "A token stream, piece by piece. More."


def test_set_status_sends_a_message_in_order_and_sets_the_traits(player):
    player.add_chunk(**chunk_args("ab", 0.0))
    player.set_status("streaming")
    player.fail("voice_not_found: no voice named 'x'")
    kinds = [(m["type"], m.get("status")) for m, _ in customs(player)]
    assert kinds == [("chunk", None), ("status", "streaming"), ("status", "error")]
    assert player.status == "error" and player.status_message == "voice_not_found: no voice named 'x'"
    assert {"status": "error", "status_message": "voice_not_found: no voice named 'x'"}.items() <= \
        updates(player)[-1].items()
    with pytest.raises(ValueError, match="unknown status"):
        player.set_status("exploded")
    assert player.captions == player.captions_vtt()  # what arrived before the error can be captioned


def test_set_metrics_merges(player):
    player.set_metrics(ttfa_ms=120.5)
    player.set_metrics(rtf=0.06)
    player.set_metrics(audio_ms=3000)
    assert player.metrics == {"ttfa_ms": 120.5, "rtf": 0.06, "audio_ms": 3000.0}


def test_finish_keeps_words_and_audio_for_replay_without_the_kernel(player):
    player.begin("Hello big world. Bye", [{"id": "speech", "label": "speech"}])
    first = chunk_args("Hello bi", 0.0)
    second = chunk_args("g world. Bye", 400.0)  # a word cut by the chunk boundary
    player.add_chunk(**first)
    player.add_chunk(**second)
    player.finish()
    assert [(w["text"], w["start_ms"], w["end_ms"]) for w in player.words] == [
        ("Hello", 0.0, 250.0), ("big", 300.0, 450.0), ("world.", 500.0, 800.0), ("Bye", 850.0, 1000.0)]
    assert player.audio == first["pcm"] + second["pcm"] and player.sample_rate == RATE
    assert player.metrics["audio_ms"] == pytest.approx(1000.0)
    assert player.status == "done" and customs(player)[-1][0] == {"type": "status", "status": "done", "message": ""}
    # the audio trait travels as a binary buffer in the state update, never as text
    update = next(u for u in updates(player) if "audio" in u)
    assert update["audio"] == player.audio and update["words"] == player.words
    state, paths, _ = _remove_buffers(player.get_state())
    assert ["audio"] in paths and "audio" not in state


def test_finish_places_chunks_on_the_timeline(player):
    player.add_chunk(**chunk_args("ab", 0.0))
    player.add_chunk(**chunk_args("cd", 200.0))  # 100 ms of silence between the two
    player.finish()
    pcm = np.frombuffer(player.audio, "<i2")
    assert len(pcm) == int(RATE * 0.3)
    assert not pcm[int(RATE * 0.1) + 5:int(RATE * 0.2) - 5].any()


def test_finish_with_explicit_words_and_audio(player):
    words = [{"lane": "speech", "text": "Hi", "start_ms": 0, "end_ms": 120}]
    player.finish(words, tone(200), 16000)
    assert player.words == [{"lane": "speech", "text": "Hi", "start_ms": 0.0, "end_ms": 120.0}]
    assert player.sample_rate == 16000 and len(player.audio) == 2 * int(RATE * 0.2)


def test_audio_too_long_to_keep_is_played_but_not_saved(player, monkeypatch):
    monkeypatch.setattr(widget_module, "MAX_SAVED_AUDIO_SECONDS", 1)
    player.add_chunk(**chunk_args("a" * 30, 0.0))  # 1.5 s
    player.finish()
    assert len(customs(player, "chunk")) == 1 and player.audio == b"" and len(player.words) == 1


def test_chunks_from_another_thread(player):
    def feed(lane, offset):
        for i in range(20):
            player.add_chunk(**chunk_args("ab ", offset + i * 150.0, lane=lane))

    threads = [threading.Thread(target=feed, args=(lane, k * 3000.0)) for k, lane in enumerate("xy")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    player.finish()
    assert len(customs(player, "chunk")) == 40 and len(player.words) == 40
    assert len(player.audio) == 2 * (round(5850 * RATE / 1000) + int(RATE * 0.15))  # the last chunk's end


def test_speak_again_reaches_the_callback(player):
    calls = []
    player.on_speak_again(lambda: calls.append(1))
    # the message as the comm delivers it from the browser
    player._handle_msg({"content": {"data": {"method": "custom", "content": {"type": "speak_again"}}}, "buffers": []})
    player._handle_msg({"content": {"data": {"method": "custom", "content": {"type": "other"}}}, "buffers": []})
    assert calls == [1]


def test_stop_is_a_message(player):
    player.stop()
    assert customs(player) == [({"type": "stop"}, [])]


def test_early_audio_is_on_unless_the_environment_turns_it_off(monkeypatch):
    from eleven_nb.jupyter.widget import Player

    assert Player().early_audio is True
    monkeypatch.setenv("ELEVEN_NB_EARLY_AUDIO", "0")
    assert Player().early_audio is False
