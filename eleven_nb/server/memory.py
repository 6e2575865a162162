"""Give freed memory back to the system after a connection ends.

glibc keeps freed heap pages in its arenas; after thousands of contexts (each
with its own encoder and buffers) a server would stay hundreds of MB above idle.
``malloc_trim(0)`` returns them. Elsewhere (musl, macOS) this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import threading

_busy = threading.Lock()
try:
    _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
except (OSError, AttributeError):
    _malloc_trim = None


def trim_memory() -> bool:
    """Return freed heap memory to the system; skipped while another trim runs. Call it off the event loop."""
    if _malloc_trim is None or not _busy.acquire(blocking=False):
        return False
    try:
        _malloc_trim(0)
        return True
    finally:
        _busy.release()
