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
    from .jupyter.controls import speakers, voice_controls
    from .jupyter.speaker import speak

__version__ = "0.1.0"

__all__ = ["AsyncClient", "Client", "__version__", "load_ipython_extension", "speak", "speakers", "voice_controls"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext eleven_nb``: register ``%%speak`` / ``%speak``."""
    from .jupyter.magic import load_ipython_extension as register

    register(ipython)


def __getattr__(name: str) -> Any:
    # Lazy, so `import eleven_nb` stays cheap (a server-only process never loads widgets).
    if name in ("Client", "AsyncClient"):
        from . import client

        return getattr(client, name)
    if name == "speak":
        from .jupyter.speaker import speak

        return speak
    if name in ("voice_controls", "speakers"):
        from .jupyter import controls

        return getattr(controls, name)
    raise AttributeError(f"module 'eleven_nb' has no attribute {name!r}")
