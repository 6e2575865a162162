"""One local voice server per user: real kernels, real processes, the espeak-ng engine.

Every test publishes into its own temporary runtime directory and stops, by PID,
every server that directory's servers (found in /proc by their command line).
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

import eleven_nb
from bench.common import Kernel
from eleven_nb import local_server, trace
from eleven_nb.spawn import pid_alive, stop_pid

SPEAK = """
import eleven_nb
client = eleven_nb.Client()
with client.stream_input(output_format="pcm_16000") as stream:
    stream.send("Hello from a kernel. ")
    stream.close()
    size = sum(len(chunk.audio or b"") for chunk in stream)
print(client.endpoint.kind, client.endpoint.http_url, size, flush=True)
"""


def server_pids(runtime: Path) -> list[int]:
    """Live shared-server processes publishing into ``runtime``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--publish" in argv and any(str(runtime).encode() in arg for arg in argv) and pid_alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def wait_until(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    """A private runtime directory, the espeak engine, nothing configured; servers stopped after."""
    path = tmp_path / "run"
    monkeypatch.setenv(local_server.RUNTIME_DIR_ENV, str(path))
    monkeypatch.setenv("ELEVEN_NB_ENGINE", "espeak")
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    monkeypatch.delenv("ELEVEN_NB_BASE_URL", raising=False)
    monkeypatch.delenv(local_server.SHARED_ENV, raising=False)
    yield path
    for pid in server_pids(path):
        stop_pid(pid)


@pytest.fixture
def kernels():
    started: list[Kernel] = []

    def start() -> Kernel:
        started.append(Kernel(dict(os.environ)))
        return started[-1]

    yield start
    for kernel in started:
        kernel.shutdown()


def spoke(output: str) -> tuple[str, str, int]:
    kind, url, size = output.split()
    return kind, url, int(size)


def test_three_kernels_speaking_share_one_server(runtime, kernels):
    results = [spoke(kernels().run(SPEAK)) for _ in range(3)]
    assert {kind for kind, _, _ in results} == {"embedded"}
    assert len({url for _, url, _ in results}) == 1
    assert all(size > 10_000 for _, _, size in results)  # each heard about a second of audio
    assert len(server_pids(runtime)) == 1


def test_a_killed_kernel_leaves_no_server_beyond_the_idle_time(runtime, kernels, monkeypatch):
    monkeypatch.setenv(local_server.IDLE_ENV, "5")
    kernel = kernels()
    kernel.run(SPEAK)
    [server] = server_pids(runtime)
    os.kill(kernel.pid, signal.SIGKILL)
    killed = time.monotonic()
    assert pid_alive(server)  # detached: the kernel's death does not take it down
    assert wait_until(lambda: not pid_alive(server), timeout=10), "the server outlived its idle time"
    assert 4.5 < time.monotonic() - killed  # it waited for the idle time
    assert not local_server.runtime_path("espeak").exists()  # and removed its runtime file


def test_two_processes_starting_at_once_share_one_server(runtime):
    start_at = time.time() + 1.5
    code = ("import sys, time, eleven_nb; time.sleep(max(0, float(sys.argv[1]) - time.time())); "
            "print(eleven_nb.Client().endpoint.http_url)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(start_at)], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    urls = [proc.communicate(timeout=120)[0].strip() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert urls[0] == urls[1] and urls[0].startswith("http://127.0.0.1:")
    assert len(server_pids(runtime)) == 1
    assert local_server.find("espeak") is not None  # it outlives the processes that started it


def test_the_runtime_file_is_private_and_the_key_stays_off_the_command_line(runtime):
    info = local_server.find_or_start("espeak")
    path = local_server.runtime_path("espeak")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["key"] == info.key and len(info.key) >= 32
    assert info.key.encode() not in Path(f"/proc/{info.pid}/cmdline").read_bytes()  # what ps shows
    assert info.key not in repr(info)


async def test_a_connection_without_the_key_is_refused(runtime):
    info = await asyncio.to_thread(local_server.find_or_start, "espeak")
    url = info.url.replace("http://", "ws://") + "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream-input"
    first = json.dumps({"text": " ", "voice_settings": {}})
    async with aiohttp.ClientSession() as session:
        for headers, error in (({}, "authentication_required"), ({"xi-api-key": "guess"}, "invalid_api_key")):
            async with session.ws_connect(url, headers=headers) as ws:
                await ws.send_str(first)
                reply = await ws.receive(timeout=10)
                assert error in reply.data and "audio" not in json.loads(reply.data)
        async with session.ws_connect(url, headers={"xi-api-key": info.key}) as ws:  # the key opens it
            await ws.send_str(first)
            await ws.send_str(json.dumps({"text": "Hello. ", "flush": True}))
            reply = json.loads((await ws.receive(timeout=10)).data)
            assert reply.get("audio")


def test_a_stale_runtime_file_is_replaced(runtime):
    dead = subprocess.Popen(["true"])
    dead.wait()
    sleeper = subprocess.Popen(["sleep", "60"])  # alive, but not a server
    try:
        for pid in (dead.pid, sleeper.pid):
            stale = local_server.SharedServer("http://127.0.0.1:9", pid, "espeak", "old-key")
            local_server.publish(local_server.runtime_path("espeak"), stale)
            endpoint = eleven_nb.Client().endpoint
            fresh = local_server.read(local_server.runtime_path("espeak"))
            assert fresh is not None and fresh.pid not in (dead.pid, sleeper.pid)
            assert endpoint.http_url == fresh.url and endpoint.api_key == fresh.key != "old-key"
        local_server.stop(fresh)
        local_server.publish(local_server.runtime_path("espeak"), stale)
        assert local_server.stop(stale) and sleeper.poll() is None  # `server stop` kills no stranger
        assert not local_server.runtime_path("espeak").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_client_finds_a_new_server_after_the_idle_exit(runtime, monkeypatch):
    monkeypatch.setenv(local_server.IDLE_ENV, "1")
    client = eleven_nb.Client()
    with client.stream_input(output_format="pcm_16000") as stream:
        stream.send("First. ")
        stream.close()
        assert any(chunk.audio for chunk in stream)
    first = local_server.read(local_server.runtime_path("espeak"))
    assert first is not None and wait_until(lambda: not pid_alive(first.pid), timeout=10)
    with client.stream_input(output_format="pcm_16000") as stream:  # the same client, a new server
        stream.send("Second. ")
        stream.close()
        assert any(chunk.audio for chunk in stream)
    assert client.endpoint.http_url != first.url or client.endpoint.api_key != first.key


async def test_an_open_connection_keeps_the_server_past_the_idle_time(runtime, monkeypatch):
    monkeypatch.setenv(local_server.IDLE_ENV, "1")
    info = await asyncio.to_thread(local_server.find_or_start, "espeak")
    url = info.url.replace("http://", "ws://") + "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream-input"
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers={"xi-api-key": info.key}) as ws:
        await ws.send_str(json.dumps({"text": " "}))
        await asyncio.sleep(3)
        assert pid_alive(info.pid)
    assert await asyncio.to_thread(wait_until, lambda: not pid_alive(info.pid), 10)


def test_server_status_and_stop(runtime):
    def cli(action: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "eleven_nb", "server", action], check=False,
                              capture_output=True, text=True, timeout=60)

    idle = cli("status")
    assert idle.returncode == 0 and "no shared voice server" in idle.stdout
    info = local_server.find_or_start("espeak")
    status = cli("status")
    assert f"pid {info.pid} running" in status.stdout and info.key not in status.stdout + status.stderr
    stopped = cli("stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not pid_alive(info.pid) and not local_server.runtime_path("espeak").exists()


def test_the_key_never_goes_through_an_http_proxy(runtime, monkeypatch):
    info = local_server.find_or_start("espeak")
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # a proxy that is not there
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert local_server.find("espeak") == info  # checked directly, not via the proxy


def test_the_neural_voice_starts_cold_as_a_shared_server(runtime, monkeypatch):
    pytest.importorskip("piper")
    monkeypatch.setenv("ELEVEN_NB_ENGINE", "piper")
    client = eleven_nb.Client()
    with client.stream_input(output_format="pcm_22050") as stream:
        stream.send("Hello from the neural voice. ")
        stream.close()
        assert sum(len(chunk.audio or b"") for chunk in stream) > 20_000
    info = local_server.find("piper")
    assert info is not None and client.endpoint.http_url == info.url and server_pids(runtime) == [info.pid]


def test_a_runtime_file_others_could_write_is_ignored(tmp_path):
    """A file another user could have planted (not private, or not ours) never points our text anywhere."""
    import json as _json

    from eleven_nb import local_server

    path = tmp_path / "eleven_nb-server-default.json"
    path.write_text(_json.dumps({"url": "http://127.0.0.1:9", "pid": os.getpid(), "engine": "default",
                                 "key": "k", "started": 0}))
    path.chmod(0o644)
    assert local_server.read(path) is None
    path.chmod(0o600)
    assert local_server.read(path) is not None


def test_a_real_kernel_takes_the_request_time_from_the_front_ends_header(runtime, kernels, monkeypatch):
    """A real kernel (jupyter_client is the front end here, and dates its execute_request): the stage is
    there, before the cell started, and on the same clock (within the cell's few seconds)."""
    monkeypatch.setenv(trace.ENV, "1")
    kernel = kernels()
    kernel.run("%load_ext eleven_nb")
    kernel.run("%%speak --wait\nHello.")
    stages = json.loads(kernel.run("%speak_trace --json").strip().splitlines()[-1])
    requested, started = stages[trace.REQUEST_SENT], stages[trace.CELL_STARTED]
    assert requested <= started + 1  # the header's date has whole milliseconds
    assert started - requested < 5_000
