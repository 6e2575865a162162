"""The anywidget player: the kernel streams PCM chunks and words to it; the browser plays and highlights.

Audio travels as raw int16 bytes in comm buffers, never base64 in JSON. Words and
captions are made here, once, from :class:`~eleven_nb.alignment.Timeline`: the
browser only shows them. What a re-rendered or reopened output needs to show the
transcript and replay without the kernel (``words``, ``captions`` and, up to a
bound, the whole ``audio``) is set once, when the stream ends. Every method may be
called from a background thread: ipykernel sends comm messages through its own
iopub thread. The browser side is ``js/src`` (bundled into ``eleven_nb/static``);
the message contract is described in ``docs/player.md``.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from ..alignment import Timeline
from ..boundaries import CJK_PHRASE, CLOSERS, SPACED_PHRASE

MAX_SAVED_AUDIO_SECONDS = 600  # audio kept for finish() and saved in the widget state, for replay
TEXT_SYNC_INTERVAL_S = 0.5  # a token stream re-syncs the whole `text` traitlet at most this often
# belongs to the word before it: phrase and sentence ends, and closing quotes and brackets
CLOSING_PUNCTUATION = frozenset(SPACED_PHRASE + CJK_PHRASE + CLOSERS.replace('"', "").replace("'", "") + "}")
WORD_JOIN_GAP_MS = 300.0  # a word cut by a chunk boundary continues in the lane's next chunk unless this silent
STATUSES = ("idle", "connecting", "streaming", "done", "error")  # the kernel's word; the browser says the rest
KERNEL_STATUSES = ("connecting", "streaming", "error", "done")  # what set_status takes ("done": see finish)
STATIC = Path(__file__).resolve().parent.parent / "static"  # the bundle built from js/src (committed)
PROCESS_QUEUE_ID = f"kernel-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # default queue: one per kernel process


def _static(name: str) -> Path:
    return STATIC / name


def _closes_word(char: str) -> bool:
    """Closing punctuation (``. , ! ? ) ” …``): it belongs to the word before it."""
    return bool(char) and all(c in CLOSING_PUNCTUATION for c in char)


class _LaneWords:
    """Words of one lane, made by the lane's :class:`Timeline` as its characters arrive.

    Only the lane's open word (the last, which the next chunk may continue) and the new characters are
    re-read per chunk, so the cost of a chunk does not grow with the transcript.
    """

    def __init__(self) -> None:
        self.timeline = Timeline()
        self.open: tuple[int, int] | None = None  # (global word index, first char of the word in the timeline)

    def end_ms(self) -> float:
        tl = self.timeline
        return tl.starts_ms[-1] + tl.durations_ms[-1] if tl.chars else 0.0

    def break_word(self) -> None:
        """A new turn or a long pause: the open word ends (a space goes into the timeline)."""
        if self.open is not None:
            end = self.end_ms()
            self.timeline.chars.append(" ")
            self.timeline.starts_ms.append(end)
            self.timeline.durations_ms.append(0.0)
            self.open = None

    def add(self, chars: list[str], starts: list[float], durations: list[float],
            words: list[dict[str, Any]], lane: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Extend the timeline; append new words to ``words``; return (new words, update of the open word)."""
        tl, opened = self.timeline, self.open
        first = opened[1] if opened else len(tl.chars)
        tl.chars.extend(chars)
        tl.starts_ms.extend(starts)
        tl.durations_ms.extend(durations)
        tail = Timeline(tl.chars[first:], tl.starts_ms[first:], tl.durations_ms[first:]).words()
        new: list[dict[str, Any]] = []
        grow: dict[str, Any] | None = None
        index = -1
        for k, w in enumerate(tail):
            word = {"lane": lane, "text": w.text, "start_ms": w.start_ms, "end_ms": w.end_ms}
            if k == 0 and opened is not None and w.char_index == 0:
                index = opened[0]
                if words[index] != word:
                    words[index] = word
                    grow = {"index": index, "text": w.text, "end_ms": w.end_ms}
            else:
                index = len(words)
                words.append(word)
                new.append(word)
        ends_open = bool(tail) and bool(tl.chars) and not tl.chars[-1].isspace()
        self.open = (index, first + tail[-1].char_index) if ends_open else None
        return new, grow


class Player(anywidget.AnyWidget):
    """An in-notebook speech player with a synchronized transcript and timeline.

    The kernel drives it with :meth:`begin`, :meth:`add_chunk` (and :meth:`append_text`
    for token streams), :meth:`set_status`, :meth:`set_metrics`, then :meth:`finish`
    or :meth:`fail`. Playback, pause, seek and the highlight happen in the browser,
    so they keep working while the kernel is busy. Players with the same ``queue_id``
    (one per kernel process) play one after another in the browser, in the order
    their utterances began; ``begin(..., interrupt=True)`` silences the earlier ones.
    All chunks of one utterance must have one sample rate (the kernel resamples).
    """

    _esm = _static("player.js")
    _css = _static("player.css")

    player_id = traitlets.Unicode().tag(sync=True)
    queue_id = traitlets.Unicode(PROCESS_QUEUE_ID).tag(sync=True)  # players of one queue never overlap
    endpoint_label = traitlets.Unicode("").tag(sync=True)  # who is speaking, shown in the player
    lanes = traitlets.List(traitlets.Dict()).tag(sync=True)  # [{"id", "label"}]
    text = traitlets.Unicode("").tag(sync=True)  # the whole plain transcript known so far
    status = traitlets.Enum(STATUSES, default_value="idle").tag(sync=True)
    status_message = traitlets.Unicode("").tag(sync=True)
    show_timeline = traitlets.Bool(True).tag(sync=True)
    metrics = traitlets.Dict().tag(sync=True)  # ttfa_ms, rtf, audio_ms
    words = traitlets.List(traitlets.Dict()).tag(sync=True)  # set at the end: [{lane, text, start_ms, end_ms}]
    captions = traitlets.Unicode("").tag(sync=True)  # set at the end: WebVTT, what captions_vtt() returns
    audio = traitlets.Bytes(b"").tag(sync=True)  # set at the end: mono int16 LE PCM at sample_rate
    sample_rate = traitlets.Int(22050).tag(sync=True)
    # browser-side measurement handles for tests and benchmarks; ELEVEN_NB_PLAYER_DEBUG=1 turns it on
    # for every player of a kernel (e.g. set on a Jupyter server a browser test drives)
    debug = traitlets.Bool(False).tag(sync=True)
    # the first chunk may play from a worker in the browser, off the page's busy main thread (docs/latency.md)
    early_audio = traitlets.Bool(True).tag(sync=True)

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("player_id", uuid.uuid4().hex)
        kwargs.setdefault("debug", os.environ.get("ELEVEN_NB_PLAYER_DEBUG") == "1")
        kwargs.setdefault("early_audio", os.environ.get("ELEVEN_NB_EARLY_AUDIO", "1") != "0")
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._speak_again: list[Callable[[], Any]] = []
        self._stopped: list[Callable[[], Any]] = []
        self._reset()
        self.on_msg(self._on_browser_msg)

    def _reset(self) -> None:
        self._chunks: list[tuple[float, np.ndarray]] = []  # (at_ms, pcm) as sent, for finish()
        self._kept_samples = 0
        self._overflow = False
        self._rate: int | None = None  # the utterance's one sample rate, fixed by its first chunk
        self._lanes: dict[str, _LaneWords] = {}
        self._segments: list[tuple[float, str, int, int]] = []  # (at_ms, lane, first, end char) per chunk
        self._words: list[dict[str, Any]] = []  # in the order sent (the browser's word index)
        self._aligned = 0
        self._last_lane: str | None = None
        self._text_synced_at = 0.0
        self._pending_text = ""

    def __repr__(self) -> str:
        return f"<eleven_nb Player {self.status}: {self.text[:40]!r}>"

    # --- kernel -> browser ------------------------------------------------------------------

    def begin(self, text: str, lanes: Iterable[Mapping[str, str]] = (), interrupt: bool = False) -> None:
        """Start (or restart) an utterance: clear everything, show ``text`` and the lanes, say connecting.

        The browser plays it after every earlier player of the same ``queue_id`` has finished playing;
        with ``interrupt=True`` it silences them instead and plays at once.
        """
        declared = [{"id": str(lane["id"]), "label": str(lane.get("label", lane["id"]))} for lane in lanes]
        with self._lock:
            self._reset()
        # one message and one state update: the browser handles each kernel message in a task of its own
        # (and redraws after it), while the first chunk waits behind them. `begin` means connecting and
        # carries what the view shows, so the state update after it (for a re-rendered output) changes
        # nothing on the page and costs no redraw.
        # player_id: the browser's early-audio worker reads this message on a socket of its own
        self.send({"type": "begin", "player_id": self.player_id, "text": text, "lanes": declared,
                   "interrupt": bool(interrupt)})
        with self.hold_sync():
            self.words, self.audio, self.metrics, self.captions = [], b"", {}, ""
            self.text, self.lanes = text, declared
            self.status, self.status_message = "connecting", ""

    def add_chunk(self, lane: str, at_ms: float, pcm: bytes, sample_rate: int, chars: list[str],
                  starts_ms: list[float], durations_ms: list[float]) -> None:
        """Send one chunk of int16 LE mono ``pcm`` (a binary buffer) and the words it completes.

        ``at_ms`` is where the chunk starts on the player's single timeline and ``starts_ms`` are
        absolute on that same timeline (the caller places them). Every chunk of an utterance has the
        same ``sample_rate``.
        """
        if not len(chars) == len(starts_ms) == len(durations_ms):
            raise ValueError("chars, starts_ms and durations_ms differ in length")
        pcm = bytes(pcm)
        if len(pcm) % 2:
            raise ValueError("pcm must be whole int16 samples")
        chars = [str(c) for c in chars]
        starts = [float(s) for s in starts_ms]
        durations = [float(d) for d in durations_ms]
        lane = str(lane)
        with self._lock:
            if self._rate is None:
                self._rate = int(sample_rate)
            elif int(sample_rate) != self._rate:
                raise ValueError(f"one sample rate per utterance: got {sample_rate} Hz after {self._rate} Hz")
            self._keep_audio(float(at_ms), np.frombuffer(pcm, dtype="<i2"))
            words, grow = self._add_words(lane, float(at_ms), chars, starts, durations)
            aligned = self._aligned
        if self.sample_rate != self._rate:
            self.sample_rate = self._rate
        self.send({"type": "chunk", "lane": lane, "at_ms": float(at_ms), "sample_rate": int(sample_rate),
                   "words": [{k: w[k] for k in ("text", "start_ms", "end_ms")} for w in words],
                   "grow": grow, "aligned_chars": aligned}, buffers=[pcm])

    def _keep_audio(self, at_ms: float, samples: np.ndarray) -> None:
        assert self._rate is not None
        if self._kept_samples + len(samples) <= MAX_SAVED_AUDIO_SECONDS * self._rate:
            self._chunks.append((at_ms, samples))
            self._kept_samples += len(samples)
        else:
            self._overflow = True  # too long to keep: it still plays, but is not saved for replay

    def _add_words(self, lane: str, at_ms: float, chars: list[str], starts: list[float],
                   durations: list[float]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        lane_words = self._lanes.setdefault(lane, _LaneWords())
        # another lane spoke in between (a new turn), or a long silence: the open word does not go on
        silence = bool(starts) and starts[0] - lane_words.end_ms() > WORD_JOIN_GAP_MS
        # ...but punctuation that closes a word stays on it, however late (a voice may pause before a final ".")
        if self._last_lane not in (None, lane) or (silence and not _closes_word(chars[0])):
            lane_words.break_word()
        if chars:
            self._last_lane = lane
        first = len(lane_words.timeline.chars)
        new, grow = lane_words.add(chars, starts, durations, self._words, lane)
        self._segments.append((at_ms, lane, first, len(lane_words.timeline.chars)))
        self._aligned += sum(1 for c in chars if c and not c.isspace())
        return new, grow

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
        """``connecting | streaming | error`` with an optional message, in order with the chunks.

        Use :meth:`finish` when the stream ends and :meth:`fail` for an error. The browser says the
        rest (queued, playing, done, paused, stopped, interrupted) from its own playback.
        """
        if status not in KERNEL_STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {KERNEL_STATUSES[:3]}")
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
        """Silence this player in the browser now (it shows "interrupted")."""
        self.send({"type": "stop"})

    def finish(self, words: list[Mapping[str, Any]] | None = None, audio_pcm: bytes | None = None,
               sample_rate: int | None = None, note: str = "") -> None:
        """The stream ended: keep what a re-rendered output needs (words, audio, captions), then say so
        (with ``note`` on the status line, if given).

        With no arguments the words and audio are those of the chunks sent since :meth:`begin`.
        """
        kept: Iterable[Mapping[str, Any]] = self.collected_words() if words is None else words
        if sample_rate is not None:
            self.sample_rate = int(sample_rate)
        if audio_pcm is None:
            audio_pcm = b"" if self._overflow else self.audio_pcm().astype("<i2").tobytes()
        if len(audio_pcm) > 2 * MAX_SAVED_AUDIO_SECONDS * self.sample_rate:
            audio_pcm = b""
        with self.hold_sync():
            self.words = [{"lane": str(w["lane"]), "text": str(w["text"]), "start_ms": float(w["start_ms"]),
                           "end_ms": float(w["end_ms"])} for w in kept]
            self.audio = bytes(audio_pcm)
            self.captions = self.captions_vtt()
            if "audio_ms" not in self.metrics and self.sample_rate:
                self.metrics = {**self.metrics, "audio_ms": 1000 * len(audio_pcm) / 2 / self.sample_rate}
        self.set_status("done", note)

    def fail(self, message: str) -> None:
        """The stream failed: show the server's message. What already arrived can still be played."""
        self.captions = self.captions_vtt()
        self.set_status("error", message)

    def collected_words(self) -> list[dict[str, Any]]:
        """The words of every lane sent so far, in time order."""
        with self._lock:
            words = [dict(w) for w in self._words]
        return sorted(words, key=lambda w: w["start_ms"])

    def timeline(self) -> Timeline:
        """One :class:`Timeline` of every lane, in time order; a change of lane always ends a word."""
        with self._lock:
            segments = sorted(self._segments, key=lambda seg: seg[0])
            lanes = {lane: words.timeline for lane, words in self._lanes.items()}
            labels = {lane["id"]: lane["label"] for lane in self.lanes}
        out = Timeline()
        speakers: list[str] = []
        previous = None
        for _, lane, first, end in segments:
            tl = lanes[lane]
            if previous not in (None, lane) and out.chars:
                out.chars.append(" ")
                out.starts_ms.append(out.starts_ms[-1] + out.durations_ms[-1])
                out.durations_ms.append(0.0)
                speakers.append(labels.get(lane, lane))
            out.chars.extend(tl.chars[first:end])
            out.starts_ms.extend(tl.starts_ms[first:end])
            out.durations_ms.extend(tl.durations_ms[first:end])
            speakers.extend([labels.get(lane, lane)] * (end - first))
            previous = lane
        if len({lane for _, lane, _, _ in segments}) > 1:
            out.speakers = list(speakers)  # <v Speaker> tags in the dialog's captions
        return out

    def captions_vtt(self) -> str:
        """WebVTT captions of everything sent so far (what the player's ⤓ VTT button saves)."""
        return self.timeline().to_vtt()

    def audio_pcm(self) -> np.ndarray:
        """All the audio sent so far, placed on its timeline, as int16."""
        with self._lock:
            chunks, rate = list(self._chunks), self._rate or self.sample_rate
        if not chunks:
            return np.zeros(0, np.int16)
        end = max(round(at * rate / 1000) + len(p) for at, p in chunks)
        out = np.zeros(end, np.int16)
        for at, p in chunks:
            start = round(at * rate / 1000)
            out[start:start + len(p)] = p
        return out

    # --- browser -> kernel -------------------------------------------------------------------

    def on_speak_again(self, callback: Callable[[], Any], remove: bool = False) -> None:
        """Call ``callback()`` when the "Speak again" button is pressed (``remove=True`` to unregister)."""
        if remove:
            self._speak_again = [c for c in self._speak_again if c is not callback]
        else:
            self._speak_again.append(callback)

    def on_stopped(self, callback: Callable[[], Any], remove: bool = False) -> None:
        """Call ``callback()`` when the player's ■ is pressed (``remove=True`` to unregister)."""
        if remove:
            self._stopped = [c for c in self._stopped if c is not callback]
        else:
            self._stopped.append(callback)

    def _on_browser_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        # (not named _handle_custom_msg: ipywidgets' own method of that name dispatches to on_msg callbacks)
        kind = str(content.get("type")) if isinstance(content, dict) else ""
        for callback in list({"speak_again": self._speak_again, "stopped": self._stopped}.get(kind, ())):
            callback()
