"""Where the audio comes from: the real service, a given server, or the embedded local one.

1. ``ELEVENLABS_API_KEY`` (or ``api_key=``) → the real service.
2. ``ELEVEN_NB_BASE_URL`` (or ``base_url=``) → that server.
3. Otherwise → a local server started on first use as a child process on a free
   loopback port, reused for the life of this process and stopped at exit.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from .. import protocol
from .errors import EndpointError

log = logging.getLogger("eleven_nb")

API_KEY_ENV = "ELEVENLABS_API_KEY"
BASE_URL_ENV = "ELEVEN_NB_BASE_URL"
ENGINE_ENV = "ELEVEN_NB_ENGINE"
REAL_SERVICE_HTTP = protocol.REAL_SERVICE_URL.replace("wss://", "https://")
START_TIMEOUT = 120.0  # the first start may patch the piper model once (a few seconds); then ~1 s


@dataclass(frozen=True)
class Endpoint:
    """A resolved endpoint. The key is kept out of ``repr``."""

    kind: str  # "real" | "custom" | "embedded"
    http_url: str  # e.g. https://api.elevenlabs.io or http://127.0.0.1:PORT
    api_key: str | None = field(default=None, repr=False)

    def url(self, path: str) -> str:
        return self.http_url.rstrip("/") + path

    def ws_url(self, voice_id: str, endpoint: str, query: dict[str, str]) -> str:
        parts = urlsplit(self.http_url)
        scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
        base = f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        return base + protocol.endpoint_path(voice_id, endpoint) + (f"?{urlencode(query)}" if query else "")

    def headers(self) -> dict[str, str]:
        return {protocol.API_KEY_HEADER: self.api_key} if self.api_key else {}

    def describe(self) -> str:
        what = {"real": "the ElevenLabs service", "custom": "the server at", "embedded": "the local voice server at"}
        where = "" if self.kind == "real" else f" {self.http_url}"
        return f"eleven_nb: speaking through {what[self.kind]}{where}"


def _normalise(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.netloc:
        raise EndpointError(f"base_url must look like http://host:port, not {url!r}")
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def resolve_endpoint(api_key: str | None = None, base_url: str | None = None, *,
                     start_embedded: bool = True) -> Endpoint:
    """Pick the endpoint as described in the module docstring."""
    if base_url:
        return Endpoint("custom", _normalise(base_url), api_key or os.environ.get(API_KEY_ENV) or None)
    key = api_key or os.environ.get(API_KEY_ENV)
    if key:
        return Endpoint("real", REAL_SERVICE_HTTP, key)
    if os.environ.get(BASE_URL_ENV):
        return Endpoint("custom", _normalise(os.environ[BASE_URL_ENV]))
    if not start_embedded:
        raise EndpointError("no endpoint configured and start_embedded=False")
    return Endpoint("embedded", EMBEDDED.url())


class EmbeddedServer:
    """The process-wide local server child. Started on first use, stopped at exit (by PID)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._url: str | None = None
        self._log = None

    def url(self) -> str:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            assert self._url is not None
            return self._url

    def _start(self) -> None:
        engine = os.environ.get(ENGINE_ENV, "piper")
        self._log = tempfile.NamedTemporaryFile(prefix="eleven_nb-server-", suffix=".log", delete=False)
        cmd = [sys.executable, "-m", "eleven_nb", "serve", "--host", "127.0.0.1", "--port", "0", "--announce",
               "--engine", engine]
        env = {k: v for k, v in os.environ.items() if k != API_KEY_ENV}  # the child needs no key
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, text=True, env=env,
                                      start_new_session=True)
        atexit.register(self.stop)
        announced = self._read_announce(START_TIMEOUT)
        if announced is None:
            code = self._proc.poll()
            self.stop()
            why = f"exited with code {code}" if code is not None else f"did not start within {START_TIMEOUT:.0f} s"
            raise EndpointError(f"the local server {why}; see {self._log.name}")
        self._url = announced["url"]
        # keep reading stdout, so a chatty child never blocks on a full pipe
        threading.Thread(target=self._proc.stdout.read, name="eleven_nb-server-stdout", daemon=True).start()
        log.info("started the local voice server at %s (pid %d, engine %s)", self._url, self._proc.pid, engine)

    def _read_announce(self, timeout: float) -> dict | None:
        """The ``{"event": "listening", "url": ...}`` line, or None if it did not come in time."""
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
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

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        return result[0] if result else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


EMBEDDED = EmbeddedServer()

_announced: set[str] = set()


def announce(endpoint: Endpoint) -> None:
    """Say once per process which endpoint is in use (never the key)."""
    line = endpoint.describe()
    if line not in _announced:
        _announced.add(line)
        log.info(line)
        print(line, file=sys.stderr, flush=True)
