"""Model sessions that give memory back to the system after a large call.

onnxruntime's CPU arena makes a call faster (piper's first phrase: 106 ms without,
88 ms with, bench/bench_arena.py) but keeps the largest call's activations for good.
So the arena is on, and after a *large* call it is shrunk (onnxruntime's
``memory.enable_memory_arena_shrinkage`` run option), then glibc's free pages are
returned with ``malloc_trim(0)``, which glibc otherwise keeps mapped: a server
that once spoke a long run would stay hundreds of megabytes larger. Small calls
(a first phrase) skip both and keep their activations in the arena for the next
call (about 25 MB after piper's 20-character first phrase). Elsewhere than glibc the trim does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from pathlib import Path
from typing import Any

from .optimized import open_session

log = logging.getLogger(__name__)


def _load_trim():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_trim = _load_trim()


def release_memory() -> None:
    """Return the allocator's free pages to the system, where the C library can."""
    if _trim is not None:
        _trim(0)


def onnx_session(path: str | Path, threads: int) -> Any:
    """A CPU session on ``threads`` intra-op threads, its arena on (see the module docstring)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # spinning doubles tail latency
    options.enable_cpu_mem_arena = True
    return open_session(Path(path), options)


def run_model(session: Any, feeds: dict[str, Any], *, large: bool) -> list[Any]:
    """``session.run`` on ``feeds``; after a ``large`` call, the arena and the heap give their memory back."""
    if not large:
        return session.run(None, feeds)
    try:
        outputs = session.run(None, feeds, _shrink_options())
    except Exception as exc:  # onnxruntime's InvalidArgument, before any work: a session without an arena
        if "arena" not in str(exc):
            raise
        log.debug("no arena to shrink: %s", exc)
        outputs = session.run(None, feeds)
    release_memory()
    return outputs


@functools.cache
def _shrink_options() -> Any:
    """Run options that shrink the CPU arena after the call; made once, complete before any thread sees them."""
    import onnxruntime as ort

    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options
