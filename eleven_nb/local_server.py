"""One local voice server per user, shared by every kernel, ``eleven-nb say`` and script.

The first process that needs it starts it detached (:mod:`eleven_nb.spawn`), with a
random access key passed in its environment. Once listening, the server writes a
runtime file readable only by the user (mode 0600) with its URL, PID and key; later
processes read the file, check that the server answers, and use the key. The server
exits by itself after ``ELEVEN_NB_SERVER_IDLE_S`` seconds without a request or a
connection, and removes the file. A lock file (``fcntl.flock``) around
check-and-start makes two processes starting at once share one server.

The files live in ``$ELEVEN_NB_RUNTIME_DIR`` or ``$ELEVEN_NB_CACHE`` if set, else in
Jupyter's runtime directory (``jupyter --runtime-dir``), one per engine: ``eleven_nb-server-ENGINE.json``
(``.lock``, ``.log`` beside it).

Standard library only (and :mod:`eleven_nb.spawn`): the client and the server both use it.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .spawn import ANNOUNCE_TIMEOUT, pid_alive, spawn_server, stop_pid

try:
    import fcntl
except ImportError:  # not POSIX (Windows): no shared server, each process starts its own
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

RUNTIME_DIR_ENV = "ELEVEN_NB_RUNTIME_DIR"
CACHE_ENV = "ELEVEN_NB_CACHE"
IDLE_ENV = "ELEVEN_NB_SERVER_IDLE_S"
SHARED_ENV = "ELEVEN_NB_SHARED_SERVER"  # "0": each process starts a private server (the old way)
SERVER_KEYS_ENV = "ELEVEN_NB_SERVER_API_KEYS"  # the name the server reads its keys from
KEY_HEADER = "xi-api-key"
DEFAULT_IDLE_S = 600.0
CHECK_TIMEOUT = 2.0  # a live server answers /healthz in milliseconds
LOCK_TIMEOUT = ANNOUNCE_TIMEOUT + 30  # another process may be starting the server meanwhile


@dataclass(frozen=True)
class SharedServer:
    """What the runtime file says: where the shared server is and its key (kept out of ``repr``)."""

    url: str
    pid: int
    engine: str
    key: str = field(repr=False)
    started: float = 0.0

    @property
    def address(self) -> str:
        return self.url.split("://", 1)[-1]


def runtime_dir() -> Path:
    """``$ELEVEN_NB_RUNTIME_DIR``, ``$ELEVEN_NB_CACHE``, Jupyter's runtime directory, or ``~/.cache/eleven_nb``."""
    for name in (RUNTIME_DIR_ENV, CACHE_ENV):
        if os.environ.get(name):
            return Path(os.environ[name])
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:  # Jupyter is optional: scripts and the CLI work without it
        return Path.home() / ".cache" / "eleven_nb"
    return Path(jupyter_runtime_dir())


def runtime_path(engine: str) -> Path:
    return runtime_dir() / f"eleven_nb-server-{engine}.json"


def idle_seconds() -> float:
    """``ELEVEN_NB_SERVER_IDLE_S`` (default 600): how long the shared server waits unused."""
    value = os.environ.get(IDLE_ENV, "")
    try:
        return max(1.0, float(value)) if value else DEFAULT_IDLE_S
    except ValueError:
        raise ValueError(f"{IDLE_ENV} must be a number of seconds, not {value!r}") from None


def sharing_enabled() -> bool:
    """False with ``ELEVEN_NB_SHARED_SERVER=0``, or where there are no file locks."""
    return fcntl is not None and os.environ.get(SHARED_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


# --- the runtime file ----------------------------------------------------------------------


def publish(path: Path, info: SharedServer) -> None:
    """Write the runtime file atomically, readable and writable by the user only."""
    _make_private_dir(path.parent)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps(asdict(info)).encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read(path: Path) -> SharedServer | None:
    """The runtime file's content, or None if it is missing, unreadable, or not this user's alone
    (a file another user could write might point this user's text at their server)."""
    try:
        if hasattr(os, "getuid"):
            stat = path.stat()
            if stat.st_uid != os.getuid() or stat.st_mode & 0o077:
                log.warning("ignoring %s: it must belong to this user and be private (mode 0600)", path)
                return None
        data = json.loads(path.read_text())
        return SharedServer(str(data["url"]), int(data["pid"]), str(data["engine"]), str(data["key"]),
                            float(data.get("started", 0.0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def unpublish(path: Path, pid: int) -> None:
    """Remove the runtime file if it still names process ``pid``."""
    info = read(path)
    if info is not None and info.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def locked(path: Path, timeout: float = LOCK_TIMEOUT, *, wait: bool = True) -> Iterator[bool]:
    """Hold the lock beside ``path`` (``.lock``). Yields False if ``wait`` is False and it is busy."""
    assert fcntl is not None, "the shared server needs POSIX file locks"
    _make_private_dir(path.parent)
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    yield False
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path.with_suffix('.lock')} stayed locked for {timeout:.0f} s") from None
                time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _make_private_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)


# --- finding, starting, stopping -----------------------------------------------------------


def answers(info: SharedServer, timeout: float = CHECK_TIMEOUT) -> bool:
    """True if the server's process is alive and its ``/healthz`` answers (sent with the key)."""
    if not pid_alive(info.pid):
        return False
    request = urllib.request.Request(info.url + "/healthz", headers={KEY_HEADER: info.key})
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP proxy: the key
    try:
        with direct.open(request, timeout=timeout) as response:
            return response.status == 200 and json.loads(response.read()).get("status") == "ok"
    except (OSError, ValueError):
        return False


def find(engine: str) -> SharedServer | None:
    """The running shared server for ``engine``, if there is one that answers."""
    info = read(runtime_path(engine))
    return info if info is not None and answers(info) else None


def find_or_start(engine: str) -> SharedServer:
    """The shared server for ``engine``: the running one, or a new detached one.

    Under the lock, so that processes starting together end with one server. A
    stale runtime file (dead process, no answer) is replaced. Raises
    :class:`eleven_nb.spawn.SpawnError` if the server cannot start.
    """
    path = runtime_path(engine)
    with locked(path):
        info = read(path)
        if info is not None and answers(info):
            return info
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # stale: the PID may have been reused, so nothing is killed
        key = secrets.token_urlsafe(32)
        env = {SERVER_KEYS_ENV: key}
        child = spawn_server(engine, "--publish", str(path), "--idle-exit", f"{idle_seconds():g}", env=env,
                             log_path=str(path.with_suffix(".log")))
        published = read(path)
        if published is None or published.pid != child.pid:  # the server writes it before announcing
            child.stop()
            raise RuntimeError(f"the shared server did not write {path}")
        return published


def running() -> list[SharedServer]:
    """Every shared server with a runtime file (answering or not)."""
    found = (read(p) for p in sorted(runtime_dir().glob("eleven_nb-server-*.json")))
    return [info for info in found if info is not None]


def stop(info: SharedServer) -> bool:
    """Stop a shared server by its PID and remove its runtime file; True once it is gone."""
    path = runtime_path(info.engine)
    # a stale file's PID may belong to another program by now: only a server is stopped
    gone = stop_pid(info.pid) if pid_alive(info.pid) and _is_server(info.pid) else True
    if gone:
        unpublish(path, info.pid)
    return gone


def _is_server(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc here: trust the runtime file
    return b"eleven_nb" in argv and b"serve" in argv
