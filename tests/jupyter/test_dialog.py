"""Dialogs: each speaker a distinct voice from the endpoint's list, neural voices first."""
from __future__ import annotations

import eleven_nb
from eleven_nb.jupyter.dialog import assign_voices, rank_voices
from eleven_nb.jupyter.extension import SpeechExtension
from eleven_nb.protocol import DEFAULT_VOICE_ID
from tests.jupyter.conftest import recording_into


def voice(voice_id: str, engine: str | None, default: bool = False) -> dict:
    extra = {"eleven_nb": {"engine": engine, "default": default}} if engine else {}
    return {"voice_id": voice_id, "name": voice_id.title(), **extra}


LOCAL = [voice("espeak-en-us", "espeak"), voice("joe", "piper", default=True), voice("espeak-en-gb", "espeak"),
         voice("heart", "hibari")]


def test_neural_voices_rank_first_the_default_leading():
    assert rank_voices(LOCAL) == ["joe", "heart", "espeak-en-us", "espeak-en-gb"]
    real = [voice("Rachel", None), voice("Adam", None)]  # the real service marks no engine: listed order
    assert rank_voices(real) == ["Rachel", "Adam"]


def test_each_speaker_gets_its_own_voice_and_keeps_it():
    names = ["Alice", "Bob", "Alice", "Carol", "Bob"]
    assert assign_voices(names, {}, DEFAULT_VOICE_ID, LOCAL) == {
        "Alice": DEFAULT_VOICE_ID, "Bob": "heart", "Carol": "espeak-en-us"}  # the alias stands for joe
    # a voice given for one speaker is not handed to another
    assert assign_voices(names, {"Bob": "joe"}, DEFAULT_VOICE_ID, LOCAL) == {
        "Alice": "heart", "Bob": "joe", "Carol": "espeak-en-us"}
    # the session voice (--voice, the controls) goes to the first speaker
    assert assign_voices(["A", "B"], {}, "espeak-en-gb", LOCAL) == {"A": "espeak-en-gb", "B": "joe"}
    # more speakers than voices: the list starts over; no list at all: everyone gets the session voice
    many = assign_voices([f"S{i}" for i in range(6)], {}, "joe", LOCAL)
    assert len(set(many.values())) == 4 and many["S4"] == "joe"
    assert assign_voices(["A", "B"], {}, "x", []) == {"A": "x", "B": "x"}


class RecordingClient(eleven_nb.AsyncClient):
    """The real client, noting which voice each socket was opened for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.opened: list[str] = []

    def multi_stream_input(self, voice_id=DEFAULT_VOICE_ID, **kwargs):
        self.opened.append(voice_id)
        return super().multi_stream_input(voice_id, **kwargs)


def test_dialog_without_voices_speaks_with_two_voices(espeak_server, ip):
    players: list = []
    client = RecordingClient(base_url=espeak_server.url)
    ext = SpeechExtension(client, player_class=recording_into(players))
    ext.register(ip)
    try:
        ip.run_cell_magic("speak", "--dialog --wait", "Alice: Hello, I am Alice.\nBob: And I am Bob.\n"
                                                      "Alice: We sound different.")
    finally:
        ext.stop()
    player = players[-1]
    assert player.status == "done"
    assert len(client.opened) == 2 and len(set(client.opened)) == 2  # one socket per voice, two voices
    assert set(ext.history[-1].voices) == {"Alice", "Bob"} and set(ext.history[-1].voices.values()) == set(client.opened)
    assert [lane["label"] for lane in player.lanes] == ["Alice", "Bob"]  # distinct lanes, coloured apart
    lanes = [c["lane"] for c, _ in player.chunks()]
    assert [lane for i, lane in enumerate(lanes) if i == 0 or lanes[i - 1] != lane] == ["Alice", "Bob", "Alice"]
