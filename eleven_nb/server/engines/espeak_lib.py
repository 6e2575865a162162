"""A ctypes binding to libespeak-ng: synthesis with word, sentence and phoneme events.

The library and its data come from ``espeakng_loader``. libespeak-ng is not
re-entrant: one process-wide lock covers initialisation and every synthesis
(a prototype that initialised it from two threads at once segfaulted under
load).

Event positions are 0-based indices into the Python string (espeak counts
code points, as Python does), and sample offsets into the returned audio.
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
DEFAULT_PITCH_RANGE = 50
MIN_RATE_WPM, MAX_RATE_WPM = 80, 450  # espeak-ng's own limits


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
    """A synthesis event: ``kind`` is one of the ``EVENT_*`` constants.

    ``position`` is the 0-based character index in the text, ``length`` the
    number of characters (WORD events only; espeak sometimes reports 0),
    ``sample`` where in the audio the event happens, ``phoneme`` the IPA of a
    PHONEME event ("" for a pause).
    """

    kind: int
    position: int
    length: int
    sample: int
    phoneme: str = ""


@dataclass
class Synthesis:
    """The audio (int16 mono at :attr:`Espeak.sample_rate`) and events of one text."""

    audio: np.ndarray
    events: list[Event]


LOCK = threading.Lock()  # guards the library: initialisation and every call into it


class Espeak:
    """The process-wide espeak-ng library. Use :func:`espeak` to get it."""

    def __init__(self) -> None:
        import espeakng_loader

        library_path = espeakng_loader.get_library_path()
        try:
            self._lib = ctypes.CDLL(library_path)
        except OSError as exc:
            raise RuntimeError(f"cannot load libespeak-ng from {library_path}: {exc}") from exc
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                           ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        data_path = espeakng_loader.get_data_path()
        rate = self._lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(),
                                           OPT_DONT_EXIT | OPT_PHONEME_EVENTS | OPT_PHONEME_IPA)
        if rate <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise (data at {data_path!r})")
        self.sample_rate: int = rate
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
        return 0  # 0 = go on

    def synthesize(self, text: str, voice: str = "en-us", rate_wpm: int = DEFAULT_RATE_WPM,
                   pitch_range: int = DEFAULT_PITCH_RANGE) -> Synthesis:
        """Speak ``text`` with an espeak voice name (``en-us``, ``en+m3``…); return audio and events.

        ``rate_wpm`` is clamped to espeak's 80–450 words per minute; ``pitch_range``
        (0–100, espeak's default 50) is how much the pitch moves.
        """
        # a NUL would end the C string early; a space keeps every later position the same
        data = text.replace("\0", " ").encode("utf-8", "replace") + b"\0"
        with LOCK:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            self._lib.espeak_SetParameter(RATE, int(min(max(rate_wpm, MIN_RATE_WPM), MAX_RATE_WPM)), 0)
            self._lib.espeak_SetParameter(PITCH_RANGE, int(min(max(pitch_range, 0), 100)), 0)
            self._chunks, self._events = [], []
            buffer = ctypes.create_string_buffer(data, len(data))
            status = self._lib.espeak_Synth(buffer, len(data), 0, POS_CHARACTER, 0, CHARS_UTF8 | END_PAUSE,
                                            None, None)
            chunks, events = self._chunks, self._events
            self._chunks, self._events = [], []
        if status != 0:
            raise RuntimeError(f"espeak-ng synthesis failed with status {status}")
        audio = np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)
        return Synthesis(audio, events)


_instance: Espeak | None = None


def espeak() -> Espeak:
    """The library, initialised once per process (under :data:`LOCK`)."""
    global _instance
    with LOCK:
        if _instance is None:
            _instance = Espeak()
        return _instance
