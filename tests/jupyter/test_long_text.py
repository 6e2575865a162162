"""A cell longer than the server's text buffer (100,000 characters) speaks to the end.

The speaker sends no further ahead of what has been spoken (the alignment) than a window
well under the server's buffer, so the buffer never overflows, however long the text.
"""
from __future__ import annotations

import eleven_nb
from eleven_nb.jupyter.extension import SpeechExtension
from eleven_nb.jupyter.queue import SpeechFailed
from eleven_nb.jupyter.widget import Player

SENTENCE = "This sentence is repeated to make a long text. "


class CountingPlayer(Player):
    """Counts the audio bytes and aligned characters sent, without keeping the audio (hours of it)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.audio_bytes = 0
        self.aligned_chars = 0

    def send(self, content, buffers=None):
        if content.get("type") == "chunk":
            self.audio_bytes += sum(len(b) for b in buffers or [])
            self.aligned_chars = content["aligned_chars"]  # non-space characters aligned so far


def test_a_text_longer_than_the_server_buffer_speaks_to_the_end(espeak_server):
    text = SENTENCE * (110_000 // len(SENTENCE) + 1)
    ext = SpeechExtension(eleven_nb.AsyncClient(base_url=espeak_server.url), player_class=CountingPlayer)
    players = []
    try:
        players.append(ext.speak(text, wait=True))
        failure = ""
    except SpeechFailed as exc:  # reported as one line (its chained traceback is deep)
        failure = str(exc)
    finally:
        ext.stop()
    assert not failure, failure
    player = players[0]
    assert player.status == "done" and player.aligned_chars == len(text.replace(" ", ""))
