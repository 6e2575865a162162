"""Giving memory back to the system after a model call.

onnxruntime (with its arena off) frees a call's activations, but glibc's
allocator keeps freed pages mapped: a server that once spoke a long run would
stay hundreds of megabytes larger for good. ``malloc_trim(0)`` returns them
(a few milliseconds). Elsewhere than glibc this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging

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
