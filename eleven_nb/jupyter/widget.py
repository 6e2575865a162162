"""The anywidget player: the kernel streams PCM chunks to it; the browser plays and highlights.

Audio travels as raw int16 bytes in comm buffers, never base64 in JSON. The
state needed to re-render or reopen an output (transcript words and, up to a
bound, the whole audio) is set on the widget once the stream ends.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Callable

import anywidget
import numpy as np
import traitlets

from ..alignment import Timeline

MAX_SAVED_AUDIO_SECONDS = 300  # kept in the widget state (and so in a saved notebook) for replay


def _static(name: str) -> Path:
    """``js/`` ships inside the wheel as ``eleven_nb/js``; in a checkout it is at the top."""
    packaged = Path(__file__).resolve().parent.parent / "js" / name
    return packaged if packaged.exists() else Path(__file__).resolve().parents[2] / "js" / name


class Player(anywidget.AnyWidget):
    """An in-notebook speech player with a synchronized transcript and timeline."""

    _esm = _static("player.js")
    _css = _static("player.css")

    player_id = traitlets.Unicode().tag(sync=True)
    text = traitlets.Unicode("").tag(sync=True)
    lanes = traitlets.List().tag(sync=True)
    status = traitlets.Unicode("idle").tag(sync=True)
    status_message = traitlets.Unicode("").tag(sync=True)
    show_timeline = traitlets.Bool(True).tag(sync=True)
    metrics = traitlets.Dict().tag(sync=True)
    words = traitlets.List().tag(sync=True)  # set at the end: [{lane, text, start_ms, end_ms}]
    audio = traitlets.Bytes(b"").tag(sync=True)  # set at the end: int16 mono PCM
    sample_rate = traitlets.Int(22050).tag(sync=True)

    def __init__(self, **kwargs: Any):
        super().__init__(player_id=uuid.uuid4().hex, **kwargs)
        self._pcm: list[tuple[float, np.ndarray]] = []
        self._timelines: dict[str, Timeline] = {}
        self._speak_again: list[Callable[[], Any]] = []
        self.on_msg(self._handle_custom_msg)

    def __repr__(self) -> str:
        return f"<eleven_nb Player {self.status}: {self.text[:40]!r}>"

    # --- kernel -> browser ------------------------------------------------------------------

    def begin(self, text: str, lanes: list[dict[str, str]]) -> None:
        """Start (or restart) an utterance: reset, show the text, say we are connecting."""
        self._pcm, self._timelines = [], {}
        self.words, self.audio, self.metrics = [], b"", {}
        self.text, self.lanes = text, lanes
        self.send({"type": "begin", "text": text, "lanes": lanes})
        self.set_status("connecting")

    def add_chunk(self, lane: str, at_ms: float, pcm: bytes, sample_rate: int, chars: list[str],
                  starts_ms: list[float], durations_ms: list[float]) -> None:
        """Send one chunk: int16 PCM as a buffer; ``at_ms`` and ``starts_ms`` are absolute."""
        self.sample_rate = sample_rate
        self._pcm.append((at_ms, np.frombuffer(pcm, dtype="<i2")))
        timeline = self._timelines.setdefault(lane, Timeline())
        timeline.chars.extend(chars)
        timeline.starts_ms.extend(starts_ms)
        timeline.durations_ms.extend(durations_ms)
        self.send({"type": "chunk", "lane": lane, "at_ms": at_ms, "sample_rate": sample_rate, "chars": chars,
                   "starts_ms": starts_ms, "durations_ms": durations_ms}, buffers=[pcm])

    def append_text(self, text: str) -> None:
        """Grow the transcript (a token stream arrives piece by piece)."""
        self.text += text

    def set_status(self, status: str, message: str = "") -> None:
        self.status, self.status_message = status, message
        self.send({"type": "status", "status": status, "message": message})

    def set_metrics(self, ttfa_ms: float | None = None, rtf: float | None = None) -> None:
        metrics = dict(self.metrics)
        metrics.update({k: v for k, v in (("ttfa_ms", ttfa_ms), ("rtf", rtf)) if v is not None})
        self.metrics = metrics

    def stop(self) -> None:
        """Stop playback in the browser (an interrupt)."""
        self.send({"type": "stop"})

    def finish(self) -> None:
        """The stream ended: keep what a re-rendered output needs, then say done."""
        words = []
        for lane, timeline in self._timelines.items():
            words += [{"lane": lane, "text": w.text, "start_ms": w.start_ms, "end_ms": w.end_ms}
                      for w in timeline.words()]
        self.words = sorted(words, key=lambda w: w["start_ms"])
        pcm = self.audio_pcm()
        if len(pcm) <= MAX_SAVED_AUDIO_SECONDS * self.sample_rate:
            self.audio = pcm.astype("<i2").tobytes()
        self.set_status("done")

    def fail(self, message: str) -> None:
        self.set_status("error", message)

    def audio_pcm(self) -> np.ndarray:
        """All the audio sent so far, placed on its timeline, as int16."""
        if not self._pcm:
            return np.zeros(0, np.int16)
        rate = self.sample_rate
        end = max(int(round(at * rate / 1000)) + len(p) for at, p in self._pcm)
        out = np.zeros(end, np.int16)
        for at, p in self._pcm:
            start = int(round(at * rate / 1000))
            out[start:start + len(p)] = p
        return out

    # --- browser -> kernel -------------------------------------------------------------------

    def on_speak_again(self, callback: Callable[[], Any]) -> None:
        """Call ``callback`` when the "Speak again" button is pressed."""
        self._speak_again.append(callback)

    def _handle_custom_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "speak_again":
            for callback in self._speak_again:
                callback()
