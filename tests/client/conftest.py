"""The local server as a child process (espeak-ng), as the client meets it in real use.

``server`` is one process for the whole session: started on a free loopback
port, awaited through its announce line (with a timeout), stopped by PID at the
end. ``start_server`` starts private ones (the reconnect test kills one).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass

import pytest

ANNOUNCE_TIMEOUT = 60.0


@dataclass
class ChildServer:
    url: str  # http://127.0.0.1:PORT
    proc: subprocess.Popen

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def kill(self) -> None:
        """SIGKILL, no goodbye: what a crash looks like to the client."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_server(port: int = 0, *extra: str, timeout: float = ANNOUNCE_TIMEOUT) -> ChildServer:
    """``python -m eleven_nb serve --engine espeak --host 127.0.0.1 --port PORT --announce``; wait for its line."""
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "eleven_nb", "serve", "--engine", "espeak", "--host", "127.0.0.1",
                             "--port", str(port), "--announce", *extra],
                            stdout=subprocess.PIPE, stderr=log, text=True,
                            env={k: v for k, v in os.environ.items() if k != "ELEVENLABS_API_KEY"})
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    try:
        announced = json.loads(line[0]) if line else None
    except ValueError:
        announced = None
    if not announced or announced.get("event") != "listening":
        ChildServer("", proc).stop()
        log.seek(0)
        raise RuntimeError(f"the server did not announce itself within {timeout:.0f} s: "
                           f"{log.read().decode(errors='replace')[-2000:]}")
    log.close()
    return ChildServer(announced["url"], proc)


@pytest.fixture(scope="session")
def server():
    child = start_server()
    yield child
    child.stop()
