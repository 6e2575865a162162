"""eleven_nb: streaming text-to-speech in Jupyter over the ElevenLabs WebSocket protocol.

``%load_ext eleven_nb`` registers ``%%speak``. Under it sits a client for both
WebSocket endpoints (:class:`eleven_nb.Client`) and a local server that speaks
the same protocol offline (``eleven-nb serve``).
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "Client",
    "__version__",
    "load_ipython_extension",
    "speak",
    "speakers",
    "unload_ipython_extension",
    "voice_controls",
]


def load_ipython_extension(ipython) -> None:
    """``%load_ext eleven_nb``: register ``%%speak`` / ``%speak`` (see :mod:`eleven_nb.jupyter.extension`)."""
    from .jupyter import extension

    extension.load_ipython_extension(ipython)


def unload_ipython_extension(ipython) -> None:
    """``%unload_ext eleven_nb``: stop what is still speaking."""
    from .jupyter import extension

    extension.unload_ipython_extension(ipython)


def __getattr__(name: str) -> Any:
    # Lazy, so `import eleven_nb` stays cheap (a server-only process never loads widgets).
    if name == "Client":
        from .client import Client

        return Client
    if name in ("speak", "voice_controls", "speakers"):
        from .jupyter import extension

        return getattr(extension, name)
    raise AttributeError(f"module 'eleven_nb' has no attribute {name!r}")
