"""A ctypes binding to libespeak-ng: synthesis with word, sentence and phoneme events.

libespeak-ng is not re-entrant: one process-wide lock covers initialisation
and every synthesis (a prototype that initialised it from two threads at once
segfaulted under load).
"""
from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

AUDIO_OUTPUT_SYNCHRONOUS = 2
OPT_DONT_EXIT, OPT_PHONEME_EVENTS, OPT_PHONEME_IPA = 0x8000, 0x1, 0x2
POS_CHARACTER = 1
CHARS_UTF8, END_PAUSE = 1, 0x1000
RATE, PITCH_RANGE = 1, 4
EVENT_END_OF_LIST, EVENT_WORD, EVENT_SENTENCE, EVENT_PHONEME = 0, 1, 2, 7
DEFAULT_RATE_WPM = 175


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Event:
    """A synthesis event. ``position`` is the 0-based character index in the text."""

    kind: int
    position: int
    length: int
    sample: int  # where in the audio (samples) the event happens
    phoneme: str = ""


@dataclass
class Synthesis:
    audio: np.ndarray  # int16 mono at ``sample_rate``
    events: list[Event]


class Espeak:
    """The process-wide espeak-ng library. Use :func:`espeak` to get it."""

    def __init__(self) -> None:
        import espeakng_loader

        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                           ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        data_path = espeakng_loader.get_data_path().encode()
        rate = self._lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path,
                                           OPT_DONT_EXIT | OPT_PHONEME_EVENTS | OPT_PHONEME_IPA)
        if rate <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise (data at {data_path.decode()!r})")
        self.sample_rate = rate
        self._chunks: list[np.ndarray] = []
        self._events: list[Event] = []
        self._callback = _Callback(self._on_synth)  # kept referenced: C holds the pointer
        self._lib.espeak_SetSynthCallback(self._callback)

    def _on_synth(self, wav, count, events) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        i = 0
        while events[i].type != EVENT_END_OF_LIST:
            e = events[i]
            phoneme = e.id.string.decode("utf-8", "replace") if e.type == EVENT_PHONEME else ""
            self._events.append(Event(e.type, e.text_position - 1, e.length, e.sample, phoneme))
            i += 1
        return 0

    def synthesize(self, text: str, voice: str = "en-us", rate_wpm: int = DEFAULT_RATE_WPM,
                   pitch_range: int = 50) -> Synthesis:
        """Speak ``text``; return its audio and events (positions in characters of ``text``)."""
        with LOCK:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            self._lib.espeak_SetParameter(RATE, int(rate_wpm), 0)
            self._lib.espeak_SetParameter(PITCH_RANGE, int(pitch_range), 0)
            self._chunks, self._events = [], []
            data = text.encode("utf-8") + b"\0"
            buffer = ctypes.create_string_buffer(data, len(data))
            status = self._lib.espeak_Synth(buffer, len(data), 0, POS_CHARACTER, 0, CHARS_UTF8 | END_PAUSE,
                                            None, None)
            if status != 0:
                raise RuntimeError(f"espeak-ng synthesis failed with status {status}")
            audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            return Synthesis(audio.astype(np.int16), self._events)


LOCK = threading.Lock()
_instance: Espeak | None = None


def espeak() -> Espeak:
    """The library, initialised once (under the lock)."""
    global _instance
    with LOCK:
        if _instance is None:
            _instance = Espeak()
        return _instance
