"""The anywidget player: the kernel streams PCM chunks to it; the browser plays and highlights.

Audio travels as raw int16 bytes in comm buffers, never base64 in JSON. What a
re-rendered or reopened output needs to show the transcript and replay without
the kernel (``words``, and up to a bound the whole ``audio``) is set once, when
the stream ends. Every method may be called from a background thread: ipykernel
sends comm messages through its own iopub thread.
"""
from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import anywidget
import numpy as np
import traitlets

from ..alignment import Timeline

MAX_SAVED_AUDIO_SECONDS = 600  # audio kept for finish() and saved in the widget state, for replay
TEXT_SYNC_INTERVAL_S = 0.5  # a token stream re-syncs the whole `text` traitlet at most this often
STATUSES = ("idle", "connecting", "streaming", "done", "error")


def _static(name: str) -> Path:
    """``js/`` ships in the wheel as ``eleven_nb/js``; in a source checkout it is at the top."""
    here = Path(__file__).resolve()
    packaged = here.parent.parent / "js" / name
    return packaged if packaged.exists() else here.parents[2] / "js" / name


class Player(anywidget.AnyWidget):
    """An in-notebook speech player with a synchronized transcript and timeline.

    The kernel drives it with :meth:`begin`, :meth:`add_chunk` (and :meth:`append_text`
    for token streams), :meth:`set_status`, :meth:`set_metrics`, then :meth:`finish`
    or :meth:`fail`. Playback, pause, seek and the highlight happen in the browser,
    so they keep working while the kernel is busy.
    """

    _esm = _static("player.js")
    _css = _static("player.css")

    player_id = traitlets.Unicode().tag(sync=True)
    lanes = traitlets.List(traitlets.Dict()).tag(sync=True)  # [{"id", "label"}]
    text = traitlets.Unicode("").tag(sync=True)  # the whole plain transcript known so far
    status = traitlets.Enum(STATUSES, default_value="idle").tag(sync=True)
    status_message = traitlets.Unicode("").tag(sync=True)
    show_timeline = traitlets.Bool(True).tag(sync=True)
    metrics = traitlets.Dict().tag(sync=True)  # ttfa_ms, rtf, audio_ms
    words = traitlets.List(traitlets.Dict()).tag(sync=True)  # set at the end: [{lane, text, start_ms, end_ms}]
    audio = traitlets.Bytes(b"").tag(sync=True)  # set at the end: mono int16 LE PCM at sample_rate
    sample_rate = traitlets.Int(22050).tag(sync=True)

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("player_id", uuid.uuid4().hex)
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._chunks: list[tuple[float, np.ndarray]] = []  # (at_ms, pcm) as sent, for finish()
        self._kept_samples = 0
        self._overflow = False
        self._timelines: dict[str, Timeline] = {}
        self._text_synced_at = 0.0
        self._pending_text = ""
        self._speak_again: list[Callable[[], Any]] = []
        self.on_msg(self._on_browser_msg)

    def __repr__(self) -> str:
        return f"<eleven_nb Player {self.status}: {self.text[:40]!r}>"

    # --- kernel -> browser ------------------------------------------------------------------

    def begin(self, text: str, lanes: Iterable[Mapping[str, str]] = ()) -> None:
        """Start (or restart) an utterance: clear everything, show ``text`` and the lanes, say connecting."""
        lanes = [{"id": str(lane["id"]), "label": str(lane.get("label", lane["id"]))} for lane in lanes]
        with self._lock:
            self._chunks, self._kept_samples, self._overflow = [], 0, False
            self._timelines = {}
            self._pending_text = ""
        with self.hold_sync():
            self.words, self.audio, self.metrics = [], b"", {}
            self.text, self.lanes = text, lanes
        self.send({"type": "begin", "text": text, "lanes": lanes})
        self.set_status("connecting")

    def add_chunk(self, lane: str, at_ms: float, pcm: bytes, sample_rate: int, chars: list[str],
                  starts_ms: list[float], durations_ms: list[float]) -> None:
        """Send one chunk of int16 LE mono ``pcm``, as a binary buffer.

        ``at_ms`` is where the chunk starts on the player's single timeline and
        ``starts_ms`` are absolute on that same timeline (the caller places them).
        """
        if not len(chars) == len(starts_ms) == len(durations_ms):
            raise ValueError("chars, starts_ms and durations_ms differ in length")
        pcm = bytes(pcm)
        if len(pcm) % 2:
            raise ValueError("pcm must be whole int16 samples")
        chars = [str(c) for c in chars]
        starts_ms = [float(s) for s in starts_ms]
        durations_ms = [float(d) for d in durations_ms]
        with self._lock:
            if sample_rate != self.sample_rate and not self._chunks:
                self.sample_rate = int(sample_rate)
            samples = np.frombuffer(pcm, dtype="<i2")
            if self._kept_samples + len(samples) <= MAX_SAVED_AUDIO_SECONDS * self.sample_rate:
                self._chunks.append((float(at_ms), samples))
                self._kept_samples += len(samples)
            else:
                self._overflow = True  # too long to keep: it still plays, but is not saved for replay
            timeline = self._timelines.setdefault(lane, Timeline())
            timeline.chars.extend(chars)
            timeline.starts_ms.extend(starts_ms)
            timeline.durations_ms.extend(durations_ms)
        self.send({"type": "chunk", "lane": lane, "at_ms": float(at_ms), "sample_rate": int(sample_rate),
                   "chars": chars, "starts_ms": starts_ms, "durations_ms": durations_ms}, buffers=[pcm])

    def append_text(self, lane: str, text: str | None = None) -> None:
        """Grow the transcript by ``text`` (a token stream arrives piece by piece).

        ``append_text(text)`` with one argument appends to the first lane.
        """
        if text is None:
            lane, text = (self.lanes[0]["id"] if self.lanes else "speech"), lane
        self.send({"type": "text", "lane": lane, "text": text})
        # the traitlet (for a re-rendered output) follows, throttled: re-sending the whole text for
        # every token would be quadratic
        with self._lock:
            self._pending_text += text
            due = time.monotonic() - self._text_synced_at >= TEXT_SYNC_INTERVAL_S
        if due:
            self._sync_text()

    def _sync_text(self) -> None:
        with self._lock:
            pending, self._pending_text = self._pending_text, ""
            self._text_synced_at = time.monotonic()
        if pending:
            self.text = self.text + pending

    def set_status(self, status: str, message: str = "") -> None:
        """``connecting | streaming | done | error`` with an optional message, in order with the chunks."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {STATUSES}")
        self._sync_text()
        self.send({"type": "status", "status": status, "message": message})
        with self.hold_sync():
            self.status, self.status_message = status, message

    def set_metrics(self, ttfa_ms: float | None = None, rtf: float | None = None,
                    audio_ms: float | None = None) -> None:
        """Update the readout: time to first audio (ms), real-time factor, audio length (ms)."""
        metrics = dict(self.metrics)
        for key, value in (("ttfa_ms", ttfa_ms), ("rtf", rtf), ("audio_ms", audio_ms)):
            if value is not None:
                metrics[key] = float(value)
        self.metrics = metrics

    def stop(self) -> None:
        """Stop playback in the browser (an interrupt)."""
        self.send({"type": "stop"})

    def finish(self, words: list[Mapping[str, Any]] | None = None, audio_pcm: bytes | None = None,
               sample_rate: int | None = None) -> None:
        """The stream ended: keep what a re-rendered output needs (words, audio), then say done.

        With no arguments the words and audio are those of the chunks sent since :meth:`begin`.
        """
        if words is None:
            words = self.collected_words()
        if sample_rate is not None:
            self.sample_rate = int(sample_rate)
        if audio_pcm is None:
            audio_pcm = b"" if self._overflow else self.audio_pcm().astype("<i2").tobytes()
        if len(audio_pcm) > 2 * MAX_SAVED_AUDIO_SECONDS * self.sample_rate:
            audio_pcm = b""
        with self.hold_sync():
            self.words = [{"lane": str(w["lane"]), "text": str(w["text"]), "start_ms": float(w["start_ms"]),
                           "end_ms": float(w["end_ms"])} for w in words]
            self.audio = bytes(audio_pcm)
            if "audio_ms" not in self.metrics and self.sample_rate:
                self.metrics = {**self.metrics, "audio_ms": 1000 * len(audio_pcm) / 2 / self.sample_rate}
        self.set_status("done")

    def fail(self, message: str) -> None:
        """The stream failed: show the server's message. What already arrived can still be played."""
        self.set_status("error", message)

    def collected_words(self) -> list[dict[str, Any]]:
        """The words of every lane sent so far, in time order."""
        with self._lock:
            timelines = list(self._timelines.items())
        words = [{"lane": lane, "text": w.text, "start_ms": w.start_ms, "end_ms": w.end_ms}
                 for lane, timeline in timelines for w in timeline.words()]
        return sorted(words, key=lambda w: w["start_ms"])

    def audio_pcm(self) -> np.ndarray:
        """All the audio sent so far, placed on its timeline, as int16."""
        with self._lock:
            chunks, rate = list(self._chunks), self.sample_rate
        if not chunks:
            return np.zeros(0, np.int16)
        end = max(int(round(at * rate / 1000)) + len(p) for at, p in chunks)
        out = np.zeros(end, np.int16)
        for at, p in chunks:
            start = int(round(at * rate / 1000))
            out[start:start + len(p)] = p
        return out

    # --- browser -> kernel -------------------------------------------------------------------

    def on_speak_again(self, callback: Callable[[], Any], remove: bool = False) -> None:
        """Call ``callback()`` when the "Speak again" button is pressed (``remove=True`` to unregister)."""
        if remove:
            self._speak_again = [c for c in self._speak_again if c is not callback]
        else:
            self._speak_again.append(callback)

    def _on_browser_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        # (not named _handle_custom_msg: ipywidgets' own method of that name dispatches to on_msg callbacks)
        if isinstance(content, dict) and content.get("type") == "speak_again":
            for callback in list(self._speak_again):
                callback()
