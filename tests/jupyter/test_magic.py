"""%%speak through IPython's own test shell, and the kernel side of the player against the local server."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from IPython.core.error import UsageError
from IPython.testing.globalipapp import get_ipython

import eleven_nb
from eleven_nb.jupyter import speaker
from eleven_nb.jupyter.dialog import parse_dialog
from eleven_nb.jupyter.options import DEFAULTS, SpeakOptions, parse_speakers
from eleven_nb.jupyter.widget import Player


@pytest.fixture(scope="module")
def ip():
    shell = get_ipython()
    shell.run_line_magic("load_ext", "eleven_nb")
    return shell


@pytest.fixture
def recorded(monkeypatch, espeak_server):
    """Point the speech queue at the local server and record what each player sends."""
    monkeypatch.setattr(speaker.QUEUE, "_client", eleven_nb.Client(base_url=espeak_server.url))
    monkeypatch.setattr(speaker.QUEUE, "_last", None)
    players: list[Player] = []

    def record(self, content, buffers=None):
        self.sent.append((content, buffers or []))

    monkeypatch.setattr(Player, "send", record)
    original = Player.__init__

    def init(self, **kwargs):
        original(self, **kwargs)
        self.sent = []
        players.append(self)

    monkeypatch.setattr(Player, "__init__", init)
    yield players


def chunks_of(player):
    return [(c, b) for c, b in player.sent if c["type"] == "chunk"]


def test_magic_is_registered_with_help(ip):
    assert "speak" in ip.magics_manager.magics["cell"] and "speak" in ip.magics_manager.magics["line"]
    doc = ip.find_cell_magic("speak").__doc__
    for flag in ("--voice", "--speed", "--chunk", "--dialog", "--wait", "--interrupt", "--save", "--captions"):
        assert flag in doc


@pytest.mark.parametrize("line, words", [
    ("--speed 2", "between 0.7 and 1.2"), ("--chunk paragraph", "--chunk must be"), ("--bogus", "unrecognized"),
    ("--format wav", "not supported"), ("--captions out.txt", ".vtt or .srt"), ("--voices Alice", "Name=voice"),
    ("--speaker-boost --no-speaker-boost", "contradict"),
])
def test_bad_options_are_one_line_usage_errors(ip, line, words):
    with pytest.raises(UsageError, match=words) as info:
        ip.run_cell_magic("speak", line, "Hello.")
    assert "\n" not in str(info.value)


def test_empty_cell_is_a_usage_error(ip):
    with pytest.raises(UsageError, match="nothing to speak"):
        ip.run_cell_magic("speak", "", "   ")


def test_options_parse_onto_session_defaults():
    from eleven_nb.jupyter.magic import SpeakMagics, options_from_args
    from IPython.core.magic_arguments import parse_argstring

    args = parse_argstring(SpeakMagics.speak, "--voice joe --speed 1.1 --stability 0.3 --no-speaker-boost "
                                              "--chunk 40 --context narrator --wait --no-timeline")
    opts = options_from_args(args, SpeakOptions())
    assert (opts.voice, opts.chunk, opts.context, opts.wait, opts.timeline) == ("joe", "40", "narrator", True, False)
    assert opts.voice_settings.to_dict() == {"stability": 0.3, "use_speaker_boost": False, "speed": 1.1}
    assert parse_speakers("Alice=joe:speed=1.1,Bob=espeak-en-gb") == {"Alice": {"voice": "joe", "speed": 1.1},
                                                                    "Bob": {"voice": "espeak-en-gb"}}
    assert [(t.speaker, t.text) for t in parse_dialog("Alice: Hi there.\nBob: Hello!\nmore from Bob")] == \
        [("Alice", "Hi there."), ("Bob", "Hello! more from Bob")]


def test_speak_wait_streams_pcm_buffers_with_alignment(ip, recorded, tmp_path):
    wav, vtt = tmp_path / "out.wav", tmp_path / "out.vtt"
    text = "Hello there! This cell is spoken as it streams. The player gets raw audio."
    ip.run_cell_magic("speak", f"--wait --save {wav} --captions {vtt}", text)
    player = recorded[-1]
    kinds = [c["type"] for c, _ in player.sent]
    assert kinds[0] == "begin" and kinds[-1] == "status" and player.status == "done"
    chunks = chunks_of(player)
    assert chunks
    for content, buffers in chunks:
        assert "audio" not in content and len(buffers) == 1  # raw bytes in a buffer, never base64 in JSON
        assert len(buffers[0]) % 2 == 0 and content["sample_rate"] == 22050
        json.dumps(content)
    starts = [c["at_ms"] for c, _ in chunks]
    assert starts == sorted(starts)
    spoken = "".join("".join(c["chars"]) for c, _ in chunks)
    assert spoken.split() == text.split()
    assert player.words and player.words[0]["text"] == "Hello" and len(player.audio) > 0
    assert player.metrics["ttfa_ms"] > 0 and player.metrics["rtf"] > 0
    assert wav.read_bytes()[:4] == b"RIFF" and vtt.read_text().startswith("WEBVTT")


def test_cell_returns_at_once_and_second_cell_queues(ip, recorded):
    start = time.perf_counter()
    ip.run_cell_magic("speak", "", "The first cell speaks a little while. " * 3)
    ip.run_cell_magic("speak", "", "The second cell waits its turn.")
    assert time.perf_counter() - start < 2.0
    first, second = recorded[-2:]
    speaker.QUEUE._last.future.result(30)
    assert first.status == "done" and second.status == "done"
    assert chunks_of(first) and chunks_of(second)


def test_dialog_makes_lanes_in_order(ip, recorded):
    script = "Alice: Hello, I am Alice.\nBob: And I am Bob.\nAlice: Nice to meet you."
    ip.run_cell_magic("speak", "--dialog --wait --voices Alice=espeak-en-us,Bob=espeak-en-gb:speed=1.1", script)
    player = recorded[-1]
    assert [lane["id"] for lane in player.lanes] == ["Alice", "Bob"]
    lanes = [c["lane"] for c, _ in chunks_of(player)]
    assert lanes[0] == "Alice" and "Bob" in lanes
    turns = [lane for i, lane in enumerate(lanes) if i == 0 or lanes[i - 1] != lane]
    assert turns == ["Alice", "Bob", "Alice"]  # turns play in order
    ats = [c["at_ms"] for c, _ in chunks_of(player)]
    assert ats == sorted(ats)


def test_speak_from_code_with_a_token_stream(recorded):
    def tokens():
        for word in "A token stream, like a language model's, is spoken as it arrives. Done.".split():
            time.sleep(0.02)
            yield word + " "

    player = eleven_nb.speak(tokens(), wait=True)
    assert player.status == "done"
    assert player.text.split() == "A token stream, like a language model's, is spoken as it arrives. Done.".split()
    assert "".join("".join(c["chars"]) for c, _ in chunks_of(player)).split() == player.text.split()


def test_async_token_stream_and_interrupt(recorded):
    async def slow():
        for word in ("This long answer will be interrupted " * 20).split():
            await asyncio.sleep(0.05)
            yield word + " "

    first = eleven_nb.speak(slow())
    time.sleep(1.0)
    second = eleven_nb.speak("Stop that, and listen to me.", interrupt=True, wait=True)
    assert second.status == "done" and chunks_of(second)
    assert first.status_message == "interrupted" or first.status == "done"
    assert any(c["type"] == "stop" for c, _ in first.sent)


def test_kernel_side_failure_shows_in_the_status_line(recorded):
    player = eleven_nb.speak("Hello.", voice="no-such-voice", wait=True)
    assert player.status == "error" and "no-such-voice" in player.status_message


def test_voice_controls_set_the_next_request(recorded):
    panel = eleven_nb.voice_controls()
    sliders = {c.description: c for c in panel.children if hasattr(c, "description")}
    sliders["speed"].value = 1.15
    assert DEFAULTS.options.voice_settings.get("speed") == 1.15
    player = eleven_nb.speak("Slightly faster now.", wait=True)
    assert player.status == "done"
    DEFAULTS.options = SpeakOptions()
