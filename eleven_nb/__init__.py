"""eleven_nb: streaming text-to-speech in Jupyter over the ElevenLabs WebSocket protocol.

``%load_ext eleven_nb`` registers ``%%speak``. Under it sits a client for both
WebSocket endpoints (:class:`eleven_nb.Client`) and a local server that speaks
the same protocol offline (``eleven-nb serve``).
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Client", "speak", "voice_controls", "speakers", "load_ipython_extension", "__version__"]


def load_ipython_extension(ipython) -> None:
    """``%load_ext eleven_nb``: register ``%%speak`` / ``%speak``."""
    from .jupyter.magic import load_ipython_extension as register

    register(ipython)


def __getattr__(name: str) -> Any:
    # Lazy, so `import eleven_nb` stays cheap (a server-only process never loads widgets).
    if name == "Client":
        from .client import Client

        return Client
    if name == "speak":
        from .jupyter.speaker import speak

        return speak
    if name in ("voice_controls", "speakers"):
        from .jupyter import controls

        return getattr(controls, name)
    raise AttributeError(f"module 'eleven_nb' has no attribute {name!r}")
