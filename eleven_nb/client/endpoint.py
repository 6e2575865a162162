"""Where the audio comes from: the real service, a given server, or the local voice server.

1. ``ELEVENLABS_API_KEY`` (or ``api_key=``) → the real service.
2. ``ELEVEN_NB_BASE_URL`` (or ``base_url=``) → that server.
3. Otherwise → the local voice server shared by every process of this user
   (:mod:`eleven_nb.local_server`): found through its runtime file, or started
   detached on first use; requests carry its access key. With
   ``ELEVEN_NB_SHARED_SERVER=0``, a private child server instead, stopped at exit.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from .. import local_server, protocol
from ..spawn import ServerProcess, SpawnError, pid_alive, spawn_server
from .errors import EndpointError

log = logging.getLogger("eleven_nb")

API_KEY_ENV = "ELEVENLABS_API_KEY"
BASE_URL_ENV = "ELEVEN_NB_BASE_URL"
ENGINE_ENV = "ELEVEN_NB_ENGINE"
REAL_SERVICE_HTTP = protocol.REAL_SERVICE_URL.replace("wss://", "https://")


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

    @property
    def label(self) -> str:
        """A few words naming who speaks, for a player to show (never the key)."""
        where = urlsplit(self.http_url).netloc
        return {"real": "ElevenLabs", "custom": f"server at {where}",
                "embedded": f"local voice server ({where})"}[self.kind]

    def describe(self) -> str:
        return f"eleven_nb: speaking through the {self.label}" if self.kind != "real" else \
            "eleven_nb: speaking through the ElevenLabs service"


def _normalise(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.netloc:
        raise EndpointError(f"base_url must look like http://host:port, not {url!r}")
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def resolve_endpoint(api_key: str | None = None, base_url: str | None = None, *,
                     local: EmbeddedServer | None = None, start_embedded: bool = True) -> Endpoint:
    """Pick the endpoint as described in the module docstring; ``local`` is the embedded server to use."""
    if base_url:
        return Endpoint("custom", _normalise(base_url), api_key or os.environ.get(API_KEY_ENV) or None)
    key = api_key or os.environ.get(API_KEY_ENV)
    if key:
        return Endpoint("real", REAL_SERVICE_HTTP, key)
    if os.environ.get(BASE_URL_ENV):
        return Endpoint("custom", _normalise(os.environ[BASE_URL_ENV]))
    if not start_embedded:
        raise EndpointError("no endpoint configured and start_embedded=False")
    return (local or EmbeddedServer()).endpoint()


class EmbeddedServer:
    """The local voice server a client speaks through when nothing else is configured.

    Shared (the default): the user's one server, found or started detached; it
    outlives this process and exits by itself when idle. Private
    (``ELEVEN_NB_SHARED_SERVER=0``, or ``shared=False``): a child of this process,
    stopped (by PID) at :meth:`close` or at exit.
    """

    def __init__(self, engine: str | None = None, *, shared: bool | None = None) -> None:
        self.engine = engine or os.environ.get(ENGINE_ENV) or "default"  # "default": the server decides
        self.shared = local_server.sharing_enabled() if shared is None else shared
        self._lock = threading.Lock()
        self._shared: local_server.SharedServer | None = None
        self._child: ServerProcess | None = None

    def endpoint(self) -> Endpoint:
        """The endpoint, starting (or finding again) the server if needed. Blocks while it starts."""
        with self._lock:
            try:
                return self._shared_endpoint() if self.shared else self._private_endpoint()
            except (SpawnError, OSError, RuntimeError, ValueError) as exc:
                raise EndpointError(f"cannot start the local voice server: {exc}") from None

    def serves(self, endpoint: Endpoint) -> bool:
        """True while ``endpoint`` is still this server's (the shared one exits when idle)."""
        if self.shared:
            info = self._shared
            if info is None or info.url != endpoint.http_url or not pid_alive(info.pid):
                return False
            current = local_server.read(local_server.runtime_path(self.engine))
            return current is not None and current.pid == info.pid
        return self._child is not None and self._child.alive() and self._child.url == endpoint.http_url

    @property
    def pid(self) -> int | None:
        if self.shared:
            return self._shared.pid if self._shared else None
        return self._child.pid if self._child is not None and self._child.alive() else None

    def _shared_endpoint(self) -> Endpoint:
        info = local_server.find_or_start(self.engine)
        if self._shared is None or self._shared.pid != info.pid:
            log.info("using the shared %s voice server at %s (pid %d)", self.engine, info.url, info.pid)
        self._shared = info
        return Endpoint("embedded", info.url, info.key)

    def _private_endpoint(self) -> Endpoint:
        if self._child is None or not self._child.alive():
            if self._child is not None:
                self._child.stop()  # gone already (idle exit): only its empty log to remove
            # it exits by itself when idle, so a parent killed without its atexit leaves nothing for long
            self._child = spawn_server(self.engine, "--idle-exit", f"{local_server.idle_seconds():g}")
            atexit.register(self.close)
            log.info("started a private %s voice server at %s (pid %d)", self.engine, self._child.url,
                     self._child.pid)
        return Endpoint("embedded", self._child.url)

    def close(self) -> None:
        """Stop a private server (the shared one is left to its idle exit)."""
        child, self._child = self._child, None
        if child is not None:
            child.stop()


class EndpointChoice:
    """The endpoint one client speaks through, and the embedded server it owns.

    Resolved on first use (:meth:`current`). The shared local server exits when idle:
    if it has, the next :meth:`current` finds or starts it again.
    """

    def __init__(self, api_key: str | None = None, base_url: str | None = None) -> None:
        self._api_key, self._base_url = api_key, base_url
        self.local = EmbeddedServer()  # started (or found) only if it turns out to be the endpoint
        self.resolved: Endpoint | None = None  # the last endpoint resolved, if any

    def may_block(self) -> bool:
        """True if :meth:`current` may start a server (call it off the event loop then)."""
        return self.resolved is None or self.resolved.kind == "embedded"

    def current(self) -> Endpoint:
        endpoint = self.resolved
        if endpoint is None or (endpoint.kind == "embedded" and not self.local.serves(endpoint)):
            endpoint = self.resolved = resolve_endpoint(self._api_key, self._base_url, local=self.local)
            announce(endpoint)
        return endpoint


_announced: set[str] = set()


def announce(endpoint: Endpoint) -> None:
    """Log once per process, at INFO, which endpoint is in use (never the key).

    Nothing is printed: a notebook would show stderr as a pink block that looks
    like an error. A player shows :attr:`Endpoint.label` instead.
    """
    line = endpoint.describe()
    if line not in _announced:
        _announced.add(line)
        log.info(line.removeprefix("eleven_nb: "))  # the logger's name says it already
