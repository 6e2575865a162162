"""The engines' cache directory: patched models, and model hashes remembered by file stamp."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_ENV = "ELEVEN_NB_CACHE"
_hash_lock = threading.Lock()


def cache_dir() -> Path:
    """``$ELEVEN_NB_CACHE`` or ``~/.cache/eleven_nb``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "eleven_nb")


def write_atomically(target: Path, write: Callable[[str], object]) -> None:
    """``write(path)`` to a temporary name beside ``target``, then rename: readers never see half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(partial)
        os.chmod(partial, 0o644)  # mkstemp makes it private; the cache is readable like any other
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def model_sha256(model: Path) -> str:
    """The model file's sha256, remembered in the cache by path, size and mtime (hashing
    58 MB costs ~0.15 s, too much for every load)."""
    stat = model.stat()
    stamp = f"{model.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    index_path = cache_dir() / "sha256.json"
    with _hash_lock:
        try:
            index = json.loads(index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            index = {}
        if stamp in index:
            return index[stamp]
        digest = hashlib.sha256()
        with open(model, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        index[stamp] = digest.hexdigest()
        try:
            write_atomically(index_path, lambda p: Path(p).write_text(json.dumps(index), encoding="utf-8"))
        except OSError as exc:  # a read-only cache only costs the hash next time
            log.debug("cannot remember the model hash in %s: %s", index_path, exc)
        return index[stamp]
