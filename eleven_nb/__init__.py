"""eleven_nb: streaming text-to-speech in Jupyter over the ElevenLabs WebSocket protocol.

``%load_ext eleven_nb`` registers ``%%speak``. Under it sits a client for both
WebSocket endpoints (:class:`eleven_nb.Client`, blocking, and its twin
:class:`eleven_nb.AsyncClient`) and a local server that speaks
the same protocol offline (``eleven-nb serve``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and IDEs
    from .client import AsyncClient, Client
    from .jupyter.extension import speak, speakers, voice_controls

__version__ = "0.1.0"

__all__ = ["AsyncClient", "Client", "__version__", "load_ipython_extension", "speak", "speakers",
           "unload_ipython_extension", "voice_controls"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext eleven_nb``: register ``%%speak`` / ``%speak`` (see :mod:`eleven_nb.jupyter.extension`)."""
    from .jupyter import extension

    extension.load_ipython_extension(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext eleven_nb``: stop what is still speaking."""
    from .jupyter import extension

    extension.unload_ipython_extension(ipython)


def __getattr__(name: str) -> Any:
    # Lazy, so `import eleven_nb` stays cheap (a server-only process never loads widgets).
    if name in ("Client", "AsyncClient"):
        from . import client

        return getattr(client, name)
    if name in ("speak", "voice_controls", "speakers"):
        from .jupyter import extension

        return getattr(extension, name)
    raise AttributeError(f"module 'eleven_nb' has no attribute {name!r}")
