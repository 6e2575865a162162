"""A cell heard live is made at the listener's pace (``--ahead``), against the real local server.

The audio sent to the page never runs more than ``ahead`` seconds (and one sentence) ahead of the
time since the first audio went out; with ``ahead=0``, or a cell that waits or writes a file, it is
made as fast as the voice can. espeak speaks these sentences far faster than real time.
"""
from __future__ import annotations

import time

import pytest
from IPython.core.error import UsageError

import eleven_nb
from eleven_nb.jupyter.extension import SpeechExtension
from eleven_nb.jupyter.options import SpeakOptions
from tests.jupyter.conftest import RecordingPlayer, drain

SENTENCES = " ".join(f"Here is sentence {n}, quite short." for n in ("one", "two", "three", "four", "five"))
AHEAD_S = 1.0


class TimedPlayer(RecordingPlayer):
    """Notes when each chunk went out, and where its audio ends on the timeline."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sent_at: list[tuple[float, float]] = []  # (time.monotonic(), audio end in ms)

    def send(self, content, buffers=None):
        super().send(content, buffers)
        if content.get("type") == "chunk" and buffers:
            end = content["at_ms"] + len(buffers[0]) / 2 / content["sample_rate"] * 1000
            self.sent_at.append((time.monotonic(), end))


def leads(player: TimedPlayer) -> tuple[list[float], float]:
    """How far ahead of the time since the first audio each chunk's end was (ms), and what one piece
    (a sentence) may add to that: the held text goes out whole, and its length is estimated."""
    first = player.sent_at[0][0]
    sentence_ms = player.sent_at[-1][1] / 5
    return [end - (at - first) * 1000 for at, end in player.sent_at], 1.5 * sentence_ms


@pytest.fixture
def timed_ext(espeak_server):
    extension = SpeechExtension(eleven_nb.AsyncClient(base_url=espeak_server.url), player_class=TimedPlayer)
    yield extension
    extension.stop()


def speak_timed(ext, **options) -> tuple[TimedPlayer, float]:
    started = time.monotonic()
    player = ext.speak(SENTENCES, **options)
    drain(ext)
    assert player.status == "done", player.status_message
    return player, time.monotonic() - started


def test_a_cell_heard_live_is_made_at_the_listeners_pace(timed_ext):
    player, took = speak_timed(timed_ext, ahead=AHEAD_S)
    ahead, piece = leads(player)
    audio_ms = player.sent_at[-1][1]
    assert audio_ms > 8000  # enough speech that pacing shows
    # never further ahead than --ahead and the sentence that crossed it
    assert max(ahead) <= AHEAD_S * 1000 + piece, (max(ahead), piece)
    # so the job lasted about as long as its speech, less that lead
    assert took * 1000 >= audio_ms - AHEAD_S * 1000 - piece, (took, audio_ms)


@pytest.mark.parametrize("options", [{"ahead": 0}, {"ahead": AHEAD_S, "wait": True}])
def test_no_pace_when_asked_or_when_the_cell_waits(timed_ext, options):
    player, took = speak_timed(timed_ext, **options)
    ahead, piece = leads(player)
    audio_ms = player.sent_at[-1][1]
    assert max(ahead) > AHEAD_S * 1000 + piece  # far ahead: made as fast as the voice can
    assert took * 1000 < audio_ms / 2


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), 3601, True, "soon"])
def test_a_bad_ahead_is_a_one_line_error(bad):
    with pytest.raises(ValueError, match="--ahead must be a number of seconds"):
        SpeakOptions(ahead=bad)


def test_the_magic_takes_ahead(ip, players):
    ip.run_cell_magic("speak", "--ahead 0 --wait", "Made as fast as the voice can.")
    assert players[-1].status == "done"
    with pytest.raises(UsageError, match="--ahead must be"):
        ip.run_cell_magic("speak", "--ahead -2", "Never.")
