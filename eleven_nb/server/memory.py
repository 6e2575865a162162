"""Give freed memory back to the system after a context or a connection ends.

glibc keeps freed heap pages in its arenas; after a long message, or thousands of
contexts (each with its own encoder and buffers), a server would stay hundreds of
MB above idle. ``malloc_trim(0)`` returns them. Elsewhere (musl, macOS) this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from collections.abc import Callable

MIN_INTERVAL = 1.0  # seconds between unforced trims: a trim walks the heap

_busy = threading.Lock()
_last = 0.0
_malloc_trim: Callable[[int], int] | None
try:
    _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
except (OSError, AttributeError):
    _malloc_trim = None


def trim_memory(force: bool = True) -> bool:
    """Return freed heap memory to the system; call it off the event loop. Skipped while another
    trim runs and, unless ``force``, within ``MIN_INTERVAL`` of the last one."""
    global _last
    if _malloc_trim is None or (not force and time.monotonic() - _last < MIN_INTERVAL):
        return False
    if not _busy.acquire(blocking=False):
        return False
    try:
        _malloc_trim(0)
        _last = time.monotonic()
        return True
    finally:
        _busy.release()
