"""Start ``eleven-nb serve`` as a child process and stop it again, by PID.

The one way to spawn a local server, used by the client (the embedded server),
the CLI, the tests and the benchmarks. The child binds loopback on a port (0:
a free one), prints one JSON line once listening (``--announce``), and is
awaited for that line with a deadline. It runs in its own session, so a
Ctrl-C or a kernel's process-group signal does not reach it; it is stopped by
its PID (SIGTERM, then SIGKILL).

Pure standard library: imports nothing from eleven_nb, so any layer may use it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ANNOUNCE_TIMEOUT = 120.0  # a first piper start may patch its model once (seconds); then ~1 s
STOP_TIMEOUT = 10.0
LOOPBACK = "127.0.0.1"
# the child never needs the real service's key: keep it out of its environment
PRIVATE_ENV = ("ELEVENLABS_API_KEY",)


class SpawnError(RuntimeError):
    """The server did not start (it exited, or did not announce itself in time)."""


@dataclass
class ServerProcess:
    """A spawned server: its URL (``http://127.0.0.1:PORT``), process and stderr log."""

    url: str
    proc: subprocess.Popen = field(repr=False)
    log_path: str
    temporary_log: bool = False  # spawn_server made the log in the temp dir: removed at stop/kill if empty

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, no goodbye: what a crash looks like to a client."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(STOP_TIMEOUT)
        self.drop_empty_log()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (the server closes its connections), then SIGKILL after ``timeout``."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        self.drop_empty_log()

    def drop_empty_log(self) -> None:
        """A temporary log the server wrote nothing to says nothing: do not leave it in the temp dir
        (one per private server otherwise). A log with something in it stays, for whoever looks."""
        if self.temporary_log:
            try:
                if os.path.getsize(self.log_path) == 0:
                    os.unlink(self.log_path)
            except OSError:
                pass


def serve_command(engine: str = "default", *extra: str, host: str = LOOPBACK, port: int = 0) -> list[str]:
    """The command line of an announcing server (no secrets on it: ``ps`` shows it)."""
    return [sys.executable, "-m", "eleven_nb", "serve", "--engine", engine, "--host", host, "--port", str(port),
            "--announce", *extra]


def spawn_server(engine: str = "default", *extra: str, host: str = LOOPBACK, port: int = 0,
                 env: Mapping[str, str] | None = None, timeout: float = ANNOUNCE_TIMEOUT,
                 log_path: str | None = None) -> ServerProcess:
    """Start a server and wait (at most ``timeout`` seconds) for its announce line.

    ``env`` is added to this process's environment (minus the real service's key);
    pass secrets such as ``ELEVEN_NB_SERVER_API_KEYS`` here, never in ``extra``.
    The child's stderr goes to ``log_path`` (default: a new file in the temp dir).
    Raises :class:`SpawnError` (with the log's tail) if it exits or stays silent.
    """
    child_env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    child_env.update(env or {})
    temporary_log = log_path is None
    if log_path is None:
        fd, log_path = tempfile.mkstemp(prefix="eleven_nb-server-", suffix=".log")
        os.close(fd)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(serve_command(engine, *extra, host=host, port=port), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=log, text=True, env=child_env,
                                start_new_session=True)
    assert proc.stdout is not None
    announced = read_announce(proc.stdout, timeout)
    if announced is None:
        try:
            code: int | None = proc.wait(2)  # it may have closed stdout a moment before exiting
        except subprocess.TimeoutExpired:
            code = None
        ServerProcess("", proc, log_path).stop()
        why = f"exited with code {code}" if code is not None else f"did not start within {timeout:.0f} s"
        raise SpawnError(f"the local server {why}; see {log_path}: {_tail(log_path)}")
    # keep draining stdout (a chatty child never blocks), then reap the child when it ends
    threading.Thread(target=_drain_and_reap, args=(proc,), name="eleven_nb-server-reaper", daemon=True).start()
    return ServerProcess(str(announced["url"]), proc, log_path, temporary_log)


def read_announce(stdout: IO[str], timeout: float) -> dict | None:
    """The ``{"event": "listening", "url": ...}`` line, or None if it did not come in time."""
    result: list[dict] = []

    def read() -> None:
        for line in stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # not the announce line
            if isinstance(event, dict) and event.get("event") == "listening" and "url" in event:
                result.append(event)
                return

    reader = threading.Thread(target=read, name="eleven_nb-announce", daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else None


def _drain_and_reap(proc: subprocess.Popen) -> None:
    assert proc.stdout is not None
    try:
        for _ in proc.stdout:
            pass
    except (OSError, ValueError):
        pass
    proc.wait()  # so a server that exits by itself leaves no zombie behind


def _tail(path: str, lines: int = 3) -> str:
    """The last lines of the child's log (where its error is), on one line."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    """True if a process with this PID exists (a zombie counts as gone when we can tell)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def stop_pid(pid: int, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop a server that is not our child, by PID: SIGTERM, then SIGKILL after ``timeout``.

    Returns True once the process is gone.
    """
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, STOP_TIMEOUT)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return True
            time.sleep(0.05)
    return not pid_alive(pid)
