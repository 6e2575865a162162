"""%%speak through IPython's own test shell, against the real local server (espeak-ng)."""
from __future__ import annotations

import json
import time

import pytest
from IPython.core.error import UsageError

import eleven_nb
from eleven_nb.jupyter.dialog import parse_dialog
from eleven_nb.jupyter.extension import SpeechExtension
from eleven_nb.jupyter.magic import (
    EXAMPLES,
    SpeakMagics,
    options_from_args,
    split_magic_line,
)
from eleven_nb.jupyter.options import SpeakOptions, parse_speakers
from tests.jupyter.conftest import drain, recording_into

PARSER = SpeakMagics.speak.parser
README_VOICES = '--dialog --voices "Alice=joe:speed=1.1,Bob=espeak-en-gb"'


def parse(line: str, base: SpeakOptions | None = None) -> SpeakOptions:
    argv, _ = split_magic_line(line, PARSER, cell=True)
    return options_from_args(PARSER.parse_args(argv), base or SpeakOptions())


def test_magic_is_registered_with_help(ip):
    assert "speak" in ip.magics_manager.magics["cell"] and "speak" in ip.magics_manager.magics["line"]
    doc = ip.find_cell_magic("speak").__doc__
    for flag in ("--voice", "--speed", "--chunk", "--dialog", "--wait", "--interrupt", "--save", "--captions"):
        assert flag in doc
    for line, cell in EXAMPLES:  # the help prints every example exactly as the test below runs it
        assert line in doc and all(row in doc for row in (cell or "").splitlines())


@pytest.mark.parametrize("line, words", [
    ("--speed 2", "between 0.7 and 1.2"), ("--chunk paragraph", "--chunk must be"), ("--bogus", "unknown option --bogus"),
    ("--speeed 1.1", r"unknown option --speeed; did you mean --speed\?"), ("-s 1.1", "unknown option -s"),
    ("--spe 1.1", "--spe is ambiguous: --speed, --speaker-boost"), ("--wait 1", r"'1' after --wait \(it takes no"),
    ("--format wav", "not supported"), ("--captions out.txt", ".vtt or .srt"), ("--voices Alice", "Name=voice"),
    ("--speaker-boost --no-speaker-boost", "contradict"), ('--save "no/such folder/x.wav"', "does not exist"),
    ("--save out.doc", "--save must end in"), ('--voices "Alice=joe', "unbalanced quote"),
    ("stray words", "goes in the cell"), ("--dialog", "starts with a 'Name: text' line"),
])
def test_bad_options_are_one_line_usage_errors(ip, line, words):
    with pytest.raises(UsageError, match=words) as info:
        ip.run_cell_magic("speak", line, "Hello.")
    assert "\n" not in str(info.value)


def test_empty_cell_is_a_usage_error(ip):
    with pytest.raises(UsageError, match="nothing to speak"):
        ip.run_cell_magic("speak", "", "   ")


def test_the_line_is_split_like_a_shell():
    assert split_magic_line('--voices "A=x,B=y" --save "my out.wav" --captions \'a b.vtt\'', PARSER, cell=True) \
        == (["--voices", "A=x,B=y", "--save", "my out.wav", "--captions", "a b.vtt"], "")
    assert split_magic_line("--save=my\\ out.wav --wait", PARSER, cell=True) == (["--save=my out.wav", "--wait"], "")
    # %speak: the text starts at the first word that is no option or value, and is kept as typed
    assert split_magic_line("--voice espeak-en-gb It's \"quoted\", isn't it?", PARSER, cell=False) \
        == (["--voice", "espeak-en-gb"], "It's \"quoted\", isn't it?")
    assert split_magic_line("--speed -0.5", PARSER, cell=True) == (["--speed", "-0.5"], "")
    # an inline value (=) takes no next word; a unique prefix is its option, value and all
    assert split_magic_line("--speed=1.1 Hello there", PARSER, cell=False) == (["--speed=1.1"], "Hello there")
    assert split_magic_line("--spee 1.1 Hi", PARSER, cell=False) == (["--spee", "1.1"], "Hi")


def test_options_parse_onto_session_defaults():
    opts = parse("--voice joe --speed 1.1 --stability 0.3 --no-speaker-boost --chunk 40 --context narrator "
                 "--wait --no-timeline")
    assert (opts.voice, opts.chunk, opts.context, opts.wait, opts.timeline) == ("joe", "40", "narrator", True, False)
    assert opts.voice_settings.to_dict() == {"stability": 0.3, "use_speaker_boost": False, "speed": 1.1}
    # the README's own line: the quotes group the value and are removed, as in a terminal
    assert parse(README_VOICES).speakers == {"Alice": {"voice": "joe", "speed": 1.1}, "Bob": {"voice": "espeak-en-gb"}}
    assert parse_speakers("Alice=joe:speed=1.1,Bob=espeak-en-gb") == parse(README_VOICES).speakers
    assert [(t.speaker, t.text) for t in parse_dialog("Alice: Hi there.\nBob: Hello!\nmore from Bob")] == \
        [("Alice", "Hi there."), ("Bob", "Hello! more from Bob")]


def test_every_help_example_runs_as_printed(ip, ext, players, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for line, cell in EXAMPLES:
        name, _, rest = line.partition(" ")
        if name == "%%speak":
            ip.run_cell_magic("speak", rest, cell)
        else:
            ip.run_line_magic("speak", rest)
        drain(ext)  # one at a time: each must speak to the end on its own
    assert len(players) == len(EXAMPLES)
    assert all(p.status == "done" and p.status_message == "" for p in players), \
        [(p.status, p.status_message) for p in players]
    assert all(p.chunks() for p in players)
    assert players[-1].text == "Hello from a line magic, it's short."
    assert (tmp_path / "my speech.wav").read_bytes()[:4] == b"RIFF"
    assert (tmp_path / "my speech.vtt").read_text().startswith("WEBVTT")
    chosen = next(p for p, (line, _) in zip(players, EXAMPLES) if "--voices" in line)
    assert [lane["id"] for lane in chosen.lanes] == ["Alice", "Bob"]


@pytest.mark.piper
def test_readme_dialog_line_runs_on_the_neural_server(piper_server, ip, players):
    ext = SpeechExtension(eleven_nb.AsyncClient(base_url=piper_server.url), player_class=recording_into(players))
    ext.register(ip)
    try:
        ip.run_cell_magic("speak", README_VOICES + " --wait", "Alice: I am Alice.\nBob: And I am Bob.")
        player = players[-1]
        assert player.status == "done" and {c["lane"] for c, _ in player.chunks()} == {"Alice", "Bob"}
    finally:
        ext.stop()


def test_speak_wait_streams_pcm_buffers_with_alignment(ip, players, tmp_path):
    wav, vtt = tmp_path / "out put.wav", tmp_path / "out put.vtt"
    text = "Hello there! This cell is spoken as it streams. The player gets raw audio."
    ip.run_cell_magic("speak", f"--wait --save '{wav}' --captions \"{vtt}\"", text)
    player = players[-1]
    assert player.kinds()[0] == "begin" and player.kinds()[-1] == "status" and player.status == "done"
    chunks = player.chunks()
    assert chunks
    for content, buffers in chunks:
        assert "audio" not in content and len(buffers) == 1  # raw bytes in a buffer, never base64 in JSON
        assert len(buffers[0]) % 2 == 0 and content["sample_rate"] == 22050
        json.dumps(content)
    starts = [c["at_ms"] for c, _ in chunks]
    assert starts == sorted(starts)
    assert chunks[-1][0]["aligned_chars"] == len(text.replace(" ", ""))  # every character was aligned
    assert [w["text"] for w in player.words] == text.split()
    assert player.words and player.words[0]["text"] == "Hello" and len(player.audio) > 0
    assert player.metrics["ttfa_ms"] > 0 and player.metrics["rtf"] > 0
    assert wav.read_bytes()[:4] == b"RIFF" and vtt.read_text().startswith("WEBVTT")
    # --captions writes exactly what the player's own VTT download saves
    assert vtt.read_bytes() == player.captions_vtt().encode() == player.captions.encode()


def test_a_cell_the_voice_cannot_read_is_done_with_a_note_that_it_is_silent(ip, players):
    ip.run_cell_magic("speak", "--wait", "... - ...")  # espeak-ng reads none of it: silence, aligned
    silent = players[-1]
    assert silent.status == "done" and silent.chunks() and "silent: the voice could read none" in silent.status_message
    ip.run_cell_magic("speak", "--wait", "Hello there.")
    assert players[-1].status == "done" and players[-1].status_message == ""


def test_cell_returns_at_once_and_second_cell_queues(ip, ext, players):
    start = time.perf_counter()
    ip.run_cell_magic("speak", "", "The first cell speaks a little while. " * 3)
    ip.run_cell_magic("speak", "", "The second cell waits its turn.")
    assert time.perf_counter() - start < 2.0
    drain(ext)
    first, second = players[-2:]
    assert first.status == "done" and second.status == "done"
    assert first.chunks() and second.chunks()
    assert all(p.queue_id == ext.queue_id for p in (first, second) if p.has_trait("queue_id"))


def test_dialog_with_given_voices_makes_lanes_in_order(ip, players):
    script = "Alice: Hello, I am Alice.\nBob: And I am Bob.\nAlice: Nice to meet you."
    ip.run_cell_magic("speak", '--dialog --wait --voices "Alice=espeak-en-us,Bob=espeak-en-gb:speed=1.1"', script)
    player = players[-1]
    assert [lane["id"] for lane in player.lanes] == ["Alice", "Bob"]
    lanes = [c["lane"] for c, _ in player.chunks()]
    turns = [lane for i, lane in enumerate(lanes) if i == 0 or lanes[i - 1] != lane]
    assert turns == ["Alice", "Bob", "Alice"]  # turns play in order
    ats = [c["at_ms"] for c, _ in player.chunks()]
    assert ats == sorted(ats)


def test_speak_from_code_with_a_token_stream(ext):
    def tokens():
        for word in ["A", "token", "stream,", "like", "a", "language", "model's,", "is", "spoken", "as", "it", "arrives.", "Done."]:
            time.sleep(0.02)
            yield word + " "

    player = ext.speak(tokens(), wait=True)
    assert player.status == "done"
    assert player.text.split() == ["A", "token", "stream,", "like", "a", "language", "model's,", "is", "spoken", "as", "it", "arrives.", "Done."]
    assert [w["text"] for w in player.words] == player.text.split()


def test_module_functions_use_the_loaded_extension(ip):
    from eleven_nb.jupyter import extension

    ip.run_line_magic("load_ext", "eleven_nb")
    assert extension.active() is extension.active()
    assert eleven_nb.speak is extension.speak and eleven_nb.speakers is extension.speakers


def test_speakers_and_controls_set_this_extensions_defaults(ext):
    other = SpeechExtension(ext.client)
    ext.speakers(Alice="espeak-en-gb", Bob={"voice": "espeak-en-us", "speed": 1.1})
    assert ext.defaults.speakers["Bob"] == {"voice": "espeak-en-us", "speed": 1.1}
    assert other.defaults.speakers == {}  # no shared module state
    with pytest.raises(ValueError, match="speed"):
        ext.speakers(Carol={"speed": 3})


def test_save_keeps_all_the_audio_beyond_the_players_replay_bound(ip, players, tmp_path, monkeypatch):
    import wave

    from eleven_nb.jupyter import widget

    monkeypatch.setattr(widget, "MAX_SAVED_AUDIO_SECONDS", 1)  # the player keeps one second for replay
    wav = tmp_path / "long.wav"
    ip.run_cell_magic("speak", f"--wait --save {wav}", "This cell is longer than the player keeps. " * 4)
    sent = sum(len(b[0]) for _, b in players[-1].chunks()) // 2
    with wave.open(str(wav)) as w:
        assert w.getnframes() == sent > 3 * w.getframerate()  # every sample sent is in the file


def test_unloading_the_extension_takes_its_magics_away(ip, ext):
    assert "speak" in ip.magics_manager.magics["cell"]
    ext.unregister(ip)
    assert "speak" not in ip.magics_manager.magics["cell"] and "speak" not in ip.magics_manager.magics["line"]
    with pytest.raises(UsageError):
        ip.run_line_magic("speak", "hello")
    ext.register(ip)  # the shell is shared by the other tests


def test_a_kernel_interrupt_during_wait_stops_the_speech_in_one_line(ip, players, capsys):
    """What a user sees after Kernel > Interrupt on a --wait cell: one line, not a traceback repeating the
    cell; still an interrupt, so Run All stops there; the player says it was interrupted."""
    import signal
    import threading

    from eleven_nb.jupyter.queue import SpeechStopped

    text = " ".join(f"Sentence {n} of a cell that is long enough to be interrupted." for n in range(400))
    # the kernel's interrupt, to the main thread (a signal raised in the timer's thread would wait for the cell)
    timer = threading.Timer(0.5, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    timer.start()
    try:
        result = ip.run_cell(f"%%speak --wait\n{text}")  # IPython catches the interrupt, as in a kernel
    finally:
        timer.cancel()
    assert isinstance(result.error_in_exec, SpeechStopped) and isinstance(result.error_in_exec, KeyboardInterrupt)
    shown = capsys.readouterr()
    assert "KeyboardInterrupt: the speech was stopped" in shown.out + shown.err
    assert "Sentence 1" not in shown.out + shown.err and "Traceback" not in shown.out + shown.err
    player = next(p for p in players if p.text.startswith("Sentence 0 "))  # not a spare made after it
    deadline = time.monotonic() + 10
    while player.status_message != "interrupted" and time.monotonic() < deadline:  # the stop runs on the loop
        time.sleep(0.05)
    assert player.status == "done" and player.status_message == "interrupted" and "stop" in player.kinds()
