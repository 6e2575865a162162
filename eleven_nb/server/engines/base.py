"""The small interface every local speech engine implements.

An engine turns a piece of text into one or more :class:`Utterance` objects
(usually one per sentence) holding int16 mono PCM and the sample span of
*every* character of the input, spaces and punctuation included. The server
does the rest: buffering, chunking into frames, alignment in milliseconds,
resampling and encoding.
"""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SynthesisSettings:
    """What an engine is asked to honour for one piece of text.

    ``speed`` is already validated (0.7–1.2); ``stability`` is 0–1 (lower means
    more variation); ``seed`` makes the output repeatable when given.
    """

    speed: float = 1.0
    stability: float = 0.5
    seed: int | None = None


@dataclass
class Utterance:
    """Audio for a contiguous slice of the input text, with per-character spans.

    Invariants (checked by :func:`check_utterances`):
    - ``audio`` is 1-D int16 at the engine's ``sample_rate``;
    - ``len(char_starts) == len(char_ends) == len(text)``;
    - ``0 <= char_starts[i] <= char_ends[i] <= len(audio)``, and starts never decrease.
    """

    text: str
    audio: np.ndarray
    char_starts: np.ndarray  # sample offsets into ``audio``
    char_ends: np.ndarray


@dataclass(frozen=True)
class VoiceInfo:
    """A voice an engine offers. ``honours`` lists the voice settings it acts on."""

    voice_id: str
    name: str
    engine: str
    language: str = "en"
    description: str = ""
    honours: tuple[str, ...] = ("speed", "stability", "seed")
    aliases: tuple[str, ...] = field(default=())


class Engine(ABC):
    """A blocking text-to-speech engine. The server calls it from worker threads."""

    name: str
    sample_rate: int

    @abstractmethod
    def voices(self) -> list[VoiceInfo]:
        """The voices this engine can speak with."""

    @abstractmethod
    def synthesize(self, text: str, voice_id: str, settings: SynthesisSettings) -> Iterator[Utterance]:
        """Speak ``text``; the utterances' ``text`` fields concatenate to exactly ``text``.

        Must be safe to call from several threads (serialise internally if the
        library is not re-entrant). ``text`` always contains something speakable.
        """

    supports_phonemes: bool = False  # whether synthesize_phonemes speaks the given phonemes

    def synthesize_phonemes(self, ipa: str, text: str, voice_id: str,
                            settings: SynthesisSettings) -> Iterator[Utterance]:
        """Speak the IPA phonemes ``ipa``; ``text`` (a whole ``<phoneme>`` element, tags and all)
        is spread evenly over that audio. Its utterances' texts concatenate to ``text``.

        This default cannot speak phonemes (:attr:`supports_phonemes` is false): it speaks the
        element's inner word instead.
        """
        inner = element_inner_text(text)
        yield spread_over(text, [u.audio for u in self.synthesize(inner, voice_id, settings)] if inner.strip()
                          else [], self.sample_rate)

    def close(self) -> None:  # noqa: B027 (optional: most engines hold nothing to release)
        """Release native resources. Optional."""


def element_inner_text(element: str) -> str:
    """The text inside one markup element (tags removed): ``<phoneme ph="...">Madison</phoneme>`` -> ``Madison``."""
    return _TAG.sub("", element)


_TAG = re.compile(r"<[^<>]*>")


def spread_over(text: str, audio: list[np.ndarray], sample_rate: int) -> Utterance:
    """One utterance: ``audio`` end to end (a short silence when there is none), with the
    characters of ``text`` spread evenly over it (text that is not read letter by letter)."""
    pcm = np.concatenate(audio) if audio else np.zeros(0, np.int16)
    if not len(pcm):
        return silence_utterance(text, sample_rate)
    edges = np.linspace(0, len(pcm), len(text) + 1).astype(np.int64)
    return Utterance(text, pcm.astype(np.int16, copy=False), edges[:-1], edges[1:])


def silence_utterance(text: str, sample_rate: int, seconds: float = 0.05) -> Utterance:
    """``seconds`` of silence carrying ``text`` (nothing speakable, or a ``<break>`` tag), its
    characters spread evenly over it so they still get timing."""
    n = int(sample_rate * seconds)
    edges = np.linspace(0, n, len(text) + 1).astype(np.int64)
    return Utterance(text, np.zeros(n, np.int16), edges[:-1], edges[1:])


def check_utterances(text: str, utterances: list[Utterance]) -> None:
    """Raise ``AssertionError`` unless ``utterances`` honour the :class:`Utterance` invariants."""
    assert "".join(u.text for u in utterances) == text, "utterances do not cover the text"
    for u in utterances:
        assert u.audio.dtype == np.int16 and u.audio.ndim == 1
        n = len(u.text)
        assert len(u.char_starts) == n and len(u.char_ends) == n
        if n:
            assert np.all(u.char_starts >= 0) and np.all(u.char_ends <= len(u.audio))
            assert np.all(u.char_starts <= u.char_ends)
            assert np.all(np.diff(u.char_starts) >= 0)
