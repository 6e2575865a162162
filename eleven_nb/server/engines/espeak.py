"""espeak-ng as an engine: ~700x real time, robotic, with exact word timing.

Fast enough for most tests and the fallback when piper is not installed. Its
WORD events give each word's characters and start sample; a word ends where its
phonemes give way to a pause (or the next word starts).
"""
from __future__ import annotations

from typing import Iterator

from .base import Engine, SynthesisSettings, Utterance, VoiceInfo
from .espeak_lib import DEFAULT_RATE_WPM, EVENT_PHONEME, EVENT_SENTENCE, EVENT_WORD, Event, espeak
from .spans import WordTiming, char_spans

# voice id -> (espeak voice name, display name). Variants give dialogs distinct speakers.
VOICES = {
    "espeak-en-us": ("en-us", "Ava (espeak-ng, en-US)"),
    "espeak-en-gb": ("en", "Bram (espeak-ng, en-GB)"),
    "espeak-en-us-f": ("en-us+f3", "Cleo (espeak-ng, en-US, higher)"),
    "espeak-en-gb-m": ("en+m3", "Dev (espeak-ng, en-GB, lower)"),
}


def _word_timings(events: list[Event], n_samples: int) -> list[WordTiming]:
    words = [e for e in events if e.kind == EVENT_WORD]
    pauses = sorted(e.sample for e in events if e.kind == EVENT_PHONEME and not e.phoneme.strip())
    out = []
    for i, word in enumerate(words):
        limit = words[i + 1].sample if i + 1 < len(words) else n_samples
        # the word ends at the first pause after it starts, if one comes before the next word
        end = next((p for p in pauses if word.sample < p < limit), limit)
        out.append(WordTiming(word.position, word.position + word.length, word.sample, end))
    return out


class EspeakEngine(Engine):
    """espeak-ng through ctypes. ``speed`` sets the rate, ``stability`` the pitch range.

    ``seed`` is not honoured: espeak-ng carries waveform state (its pitch
    flutter) from one synthesis to the next, so repeats differ slightly.
    """

    name = "espeak"

    def __init__(self) -> None:
        self._lib = espeak()
        self.sample_rate = self._lib.sample_rate

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(vid, name, self.name, description="espeak-ng formant voice (fast, robotic)",
                          honours=("speed", "stability"))
                for vid, (_, name) in VOICES.items()]

    def synthesize(self, text: str, voice_id: str, settings: SynthesisSettings) -> Iterator[Utterance]:
        try:
            voice = VOICES[voice_id][0]
        except KeyError:
            raise ValueError(f"espeak has no voice {voice_id!r}; it has {', '.join(VOICES)}") from None
        result = self._lib.synthesize(
            text, voice,
            rate_wpm=round(DEFAULT_RATE_WPM * settings.speed),
            pitch_range=round(100 * (1.0 - settings.stability)),  # 0.5 -> espeak's default of 50
        )
        audio, events = result.audio, result.events
        starts, ends = char_spans(len(text), len(audio), _word_timings(events, len(audio)))
        # one utterance per sentence, cut where espeak's SENTENCE events say
        cuts = sorted({e.position for e in events if e.kind == EVENT_SENTENCE and 0 < e.position < len(text)})
        bounds = [0, *cuts, len(text)]
        for a, b in zip(bounds, bounds[1:]):
            if b <= a:
                continue
            s0 = int(starts[a])
            s1 = int(starts[b]) if b < len(text) else len(audio)
            yield Utterance(text[a:b], audio[s0:s1].copy(), starts[a:b] - s0, ends[a:b].clip(s0, s1) - s0)
