"""The ``eleven-nb`` command line, run as a subprocess against a real espeak-ng server."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from eleven_nb.spawn import spawn_server

CLOSED_PORT_URL = "http://127.0.0.1:9"  # nothing listens: a command that tries to speak fails there


@pytest.fixture(scope="module")
def server_url():
    child = spawn_server("espeak", timeout=60)
    yield child.url
    child.stop()


def cli_env(base_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ELEVENLABS_API_KEY"} | extra
    if base_url:
        env["ELEVEN_NB_BASE_URL"] = base_url
    return env


def eleven_nb(*args: str, cwd: Path | None = None, base_url: str | None = None,
              **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eleven_nb", *args], cwd=cwd, env=cli_env(base_url, **env),
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("args", "message"), [
    (("-o", "/nonexistent/dir/out.wav"), "the folder '/nonexistent/dir' does not exist"),
    (("-o", "out.wav", "--captions", "/nonexistent/dir/out.vtt"), "the folder '/nonexistent/dir' does not exist"),
    (("-o", "out.txt"), "cannot save audio as 'out.txt'"),
    (("-o", "out.wav", "--captions", "out.txt"), "captions must be .vtt or .srt"),
])
def test_say_checks_paths_before_speaking(tmp_path, args, message):
    # the endpoint is a closed port: had it tried to speak, the error would be about connecting
    result = eleven_nb("say", "Hello there.", *args, cwd=tmp_path, base_url=CLOSED_PORT_URL)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("eleven-nb say: ") and message in line
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_say_without_output_writes_speech_wav_and_captions_together(tmp_path, server_url):
    result = eleven_nb("say", "Hello there. This is the command line.", "--captions", "hello.vtt",
                       cwd=tmp_path, base_url=server_url)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hello.vtt", "speech.wav"]  # no temporary left
    assert (tmp_path / "speech.wav").read_bytes()[:4] == b"RIFF" and (tmp_path / "speech.wav").stat().st_size > 20_000
    assert (tmp_path / "hello.vtt").read_text().startswith("WEBVTT") and "Hello" in (tmp_path / "hello.vtt").read_text()
    assert oct((tmp_path / "speech.wav").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_a_failed_say_leaves_neither_file(tmp_path, server_url):
    result = eleven_nb("say", "Hello there.", "-o", "out.wav", "--captions", "out.vtt", "--voice", "no-such-voice",
                       cwd=tmp_path, base_url=server_url)
    assert result.returncode == 1 and "no-such-voice" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # neither the files nor their temporary names


def test_help_texts(server_url):
    top = eleven_nb("--help")
    assert top.returncode == 0 and "``" not in top.stdout and "eleven-nb: serve the local voice" in top.stdout
    assert "./speech.wav" in eleven_nb("say", "--help").stdout
    assert "default: 8765" in eleven_nb("serve", "--help").stdout


def test_voices_against_a_base_url_prints_only_the_voices(server_url):
    result = eleven_nb("voices", base_url=server_url)
    assert result.returncode == 0 and result.stderr == ""
    assert "speaking through" not in result.stdout and "espeak" in result.stdout
    assert all(len(line.split()) >= 2 for line in result.stdout.splitlines())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_long_say_keeps_all_of_its_audio(tmp_path, server_url):
    """More chunks than the stream keeps in memory (max_buffered_chunks): the file still holds them all,
    and the captions end where the audio does."""
    import wave

    text = " ".join(f"This is sentence number {i} of a long text." for i in range(300))  # > 1,000 chunks
    (tmp_path / "long.txt").write_text(text)
    result = eleven_nb("say", "-f", "long.txt", "-o", "long.wav", "--captions", "long.vtt", "--format", "pcm_8000",
                       cwd=tmp_path, base_url=server_url)
    assert result.returncode == 0, result.stderr
    with wave.open(str(tmp_path / "long.wav")) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    last_cue_end = (tmp_path / "long.vtt").read_text().strip().split("\n\n")[-1].split(" --> ")[1].split("\n")[0]
    h, m, s = last_cue_end.split(":")
    assert seconds > 300 and abs(seconds - (int(h) * 3600 + int(m) * 60 + float(s))) < 2.0


def test_a_spawned_server_leaves_no_empty_log_in_the_temp_dir():
    quiet = spawn_server("espeak", timeout=60)
    assert Path(quiet.log_path).exists()
    quiet.stop()
    assert not Path(quiet.log_path).exists()  # nothing in it: nothing to keep
    killed = spawn_server("espeak", timeout=60)
    killed.kill()
    assert not Path(killed.log_path).exists()
    talkative = spawn_server("espeak", timeout=60)
    with open(talkative.log_path, "a") as log:  # as a warning from the server would
        log.write("a warning\n")
    talkative.stop()
    try:
        assert Path(talkative.log_path).read_text() == "a warning\n"  # kept, for whoever looks
    finally:
        Path(talkative.log_path).unlink()


@pytest.mark.parametrize(("args", "message"), [
    (("Spoken text", "-f", "text.txt"), "give the text or -f FILE, not both"),
    (("-f", "binary.txt"), "'binary.txt' is not UTF-8 text (invalid start byte at byte 0)"),
    (("-f", "missing.txt"), "No such file or directory: 'missing.txt'"),
])
def test_say_refuses_unclear_text_in_one_line(tmp_path, args, message):
    (tmp_path / "text.txt").write_text("From the file.")
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00 not text")
    result = eleven_nb("say", *args, "-o", "out.wav", cwd=tmp_path, base_url=CLOSED_PORT_URL)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("eleven-nb say: ") and message in line
    assert not (tmp_path / "out.wav").exists()


def test_a_bad_log_level_is_a_usage_error():
    result = eleven_nb("--log-level", "loud", "voices", base_url=CLOSED_PORT_URL)
    assert result.returncode == 2 and "invalid choice: 'LOUD'" in result.stderr and "Traceback" not in result.stderr


def test_say_expands_a_home_folder_and_warns_when_nothing_could_be_read(tmp_path, server_url):
    spoken = eleven_nb("say", "Hello there.", "-o", "~/hello.wav", "--captions", "~/hello.vtt",
                       base_url=server_url, HOME=str(tmp_path))
    assert spoken.returncode == 0 and "warning" not in spoken.stderr, spoken.stderr
    assert {p.name for p in tmp_path.iterdir()} >= {"hello.wav", "hello.vtt"}
    silent = eleven_nb("say", "... - ...", "-o", "dots.wav", cwd=tmp_path, base_url=server_url)
    assert silent.returncode == 0 and (tmp_path / "dots.wav").exists()  # written, and the user is told
    assert "warning: the audio is silent: the default voice could read none of this text" in silent.stderr


def test_ctrl_c_during_say_is_one_line_and_leaves_no_file(tmp_path, server_url):
    import signal
    import time

    (tmp_path / "long.txt").write_text("The quick brown fox jumps over the lazy dog. " * 400)
    child = subprocess.Popen([sys.executable, "-m", "eleven_nb", "say", "-f", "long.txt", "-o", "long.wav"],
                             cwd=tmp_path, env=cli_env(server_url), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".long.*.wav")):  # speaking: its temporary file exists
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130 and stderr.strip() == "eleven-nb say: interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.txt"]


def test_a_closed_port_is_said_plainly():
    result = eleven_nb("say", "Hello.", "-o", "/tmp/never-written.wav", base_url=CLOSED_PORT_URL)
    assert result.returncode == 1
    assert result.stderr.strip() == f"eleven-nb say: cannot connect to {CLOSED_PORT_URL}: Connection refused"


def test_serve_on_a_taken_or_impossible_port_says_so_before_loading_a_voice():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # INFO would show the voice loading: the refusal comes before it
        result = eleven_nb("--log-level", "INFO", "serve", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.strip() == f"eleven-nb serve: cannot listen on 127.0.0.1:{port}: Address already in use"
    result = eleven_nb("serve", "--port", "99999")
    assert result.returncode == 1 and result.stderr.strip() == "eleven-nb serve: port must be 0-65535, not 99999"
