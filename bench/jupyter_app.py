"""A real JupyterLab server (which also serves Notebook 7) on loopback, for benchmarks and browser tests.

Runs on a temporary copy of the notebooks, with its own config, runtime and
workspace folders, news and windowing off (off-screen cells would leave the DOM).
Its kernels (and the local voice server they start) get ``env`` on top of this
process's environment, e.g. ``ELEVEN_NB_PLAYER_DEBUG=1`` for the player's debug
handles or ``ELEVEN_NB_TRACE=1`` for stage traces. Headless Chromium is Debian's
(``CHROMIUM``), never a downloaded one.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.common import free_port
from eleven_nb.spawn import stop_pid

CHROMIUM = os.environ.get("ELEVEN_NB_CHROMIUM", "/usr/bin/chromium")
BASE_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHROMIUM_ARGS = BASE_ARGS + ["--autoplay-policy=no-user-gesture-required"]
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                       "checkForUpdates": False},
}


class JupyterApp:
    def __init__(self, root: Path, env: dict[str, str] | None = None):
        self.root = root
        self.port = free_port()
        self.token = secrets.token_hex(16)
        base = root.parent
        settings_dir = base / "settings"
        for name, value in SETTINGS.items():
            target = settings_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(value))
        environ = {**os.environ, "JUPYTER_CONFIG_DIR": str(base / "config"),
                   "JUPYTER_RUNTIME_DIR": str(base / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(base / "ws"),
                   "JUPYTERLAB_SETTINGS_DIR": str(settings_dir), **(env or {})}
        self.log = open(base / "jupyter.log", "wb")  # noqa: SIM115 (closed by stop())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={self.port}",
             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.token}", "--allow-root",
             f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False"],
            env=environ, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait()

    def _wait(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter exited early; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"jupyter did not start within {timeout} s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lab(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"

    def notebook7(self, name: str) -> str:
        return f"{self.url}/notebooks/{name}?token={self.token}"

    def stop(self) -> None:
        stop_pid(self.proc.pid)  # by PID; jupyter stops its kernels on SIGTERM
        self.proc.wait(10)
        self.log.close()


def wait_for_kernel(page, timeout_ms: int = 60_000) -> None:
    """Wait until the kernel is connected and idle: Run All before that opens a "Select Kernel" dialog."""
    page.wait_for_function(
        """() => { const i = document.querySelector('.jp-Notebook-ExecutionIndicator');
                   const k = document.querySelector('.jp-KernelName, .jp-Toolbar-kernelName');
                   return i && i.getAttribute('data-status') === 'idle' && k && !/No Kernel/.test(k.textContent); }""",
        timeout=timeout_ms)
