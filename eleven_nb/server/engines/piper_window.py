"""piper's first phrase decoded in two windows: its first words are heard before the rest is decoded.

With the model cut at its decoder (:mod:`.piper_split`), a phrase is one encoder
call (text to a latent of one column per 256 samples, with the durations) and
decoder calls on any window of that latent. The decoder is convolutional: a
window of the latent decoded with enough context either side (the decoder's reach,
bounded from its kernels when the model is cut: 14 frames for joe), then cropped,
gives the same samples as the whole phrase decoded at once (joe's windows match
the whole to 1e-6 from 10 frames of context on; at 8 they differ by 7e-4, at 0
they click), so the seam cannot be heard.

The first phrase's *head* (its first words, cut where a word starts within
:data:`HEAD_SECONDS`) is decoded and sent first; the rest of the phrase follows as its own
utterance. Levels: piper scales each call's audio to its peak, but the head cannot
know the rest's peak. Both windows share the head's gain, taken from
``max(head peak, PEAK_FLOOR)``: a quiet head does not make the rest loud, and joe's
phrases peak at 0.24-0.71 (median 0.49) of full scale, so the floor keeps the phrase
within a decibel of a whole call's level for most phrases (bench/RESULTS.md). What
still exceeds full scale is bent under it by a soft knee (:func:`to_pcm`), never clipped.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from .memory import onnx_session, run_model
from .piper_align import Group, Match, Sentence
from .piper_split import LATENT, REACH_KEY
from .timing import snap_cut

# the head ends where the first word starting in this window starts (joe says "Streaming " in 0.55 s):
# long enough to play while the rest (up to ~400 frames, ~170 ms here) is decoded, short to decode
HEAD_SECONDS = (0.3, 0.8)
MIN_REST_SECONDS = 0.3  # a phrase with less than this after its head is decoded whole: little to gain
PEAK_FLOOR = 0.5  # the head's gain is 1 / max(its peak, this): joe's median phrase peak (0.24-0.71)
# a decoder call of at most this many frames keeps its activations in the arena, as a whole-model
# call of piper.SMALL_CALL_PHONEMES phonemes did (joe speaks ~4 frames a phoneme)
SMALL_DECODE_FRAMES = 160
KNEE = 0.9  # above this (of full scale) samples are bent softly under 1 instead of clipping


class SplitVoice:
    """The encoder and decoder halves of a piper model, each its own session."""

    def __init__(self, encoder: Path, decoder: Path, threads: int):
        self.encoder: Any = onnx_session(encoder, threads)
        self.decoder: Any = onnx_session(decoder, threads)
        # latent frames decoded either side of a window, then cropped
        self.context = int(self.decoder.get_modelmeta().custom_metadata_map[REACH_KEY])

    def encode(self, feeds: dict[str, np.ndarray], *, large: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """The latent (1, channels, frames) and the model's durations output (None if it has none)."""
        outputs = run_model(self.encoder, feeds, large=large)
        return outputs[0], (outputs[1] if len(outputs) > 1 else None)

    def decode(self, latent: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Float audio of latent frames [start, stop), decoded with context either side, then cropped.
        A window of more than :data:`SMALL_DECODE_FRAMES` gives its memory back after (memory.py)."""
        frames = latent.shape[-1]
        a, b = max(0, start - self.context), min(frames, stop + self.context)
        window = latent if (a, b) == (0, frames) else np.ascontiguousarray(latent[..., a:b])
        audio = run_model(self.decoder, {LATENT: window}, large=b - a > SMALL_DECODE_FRAMES)[0].reshape(-1)
        hop = audio.size // max(1, b - a)
        return audio[(start - a) * hop:(stop - a) * hop]


def to_pcm(audio: np.ndarray, gain: float) -> np.ndarray:
    """int16 of ``audio * gain``, magnitudes above :data:`KNEE` bent smoothly (tanh) under full scale."""
    x = audio * np.float32(gain)
    over = np.abs(x) > KNEE
    if over.any():
        room = 1.0 - KNEE
        x[over] = np.sign(x[over]) * (KNEE + room * np.tanh((np.abs(x[over]) - KNEE) / room))
    return (np.clip(x, -1.0, 1.0) * 32767).astype(np.int16)


def head_gain(head: np.ndarray) -> float:
    """The gain of a windowed phrase, from its head's peak (see the module docstring)."""
    return 1.0 / max(float(np.max(np.abs(head))) if head.size else 0.0, PEAK_FLOOR)


@dataclasses.dataclass(frozen=True)
class Head:
    """Where the first sentence is cut: its phoneme ``phoneme`` (a word's first) starts at latent ``frame``."""

    phoneme: int
    frame: int
    char: int  # the text is cut here: the head speaks text[:char]


def choose_head(text: str, matches: list[Match], spans: np.ndarray, frames: int, hop: int,
                rate: int) -> Head | None:
    """The first start of a word of the first sentence within :data:`HEAD_SECONDS`, after a whole word,
    with :data:`MIN_REST_SECONDS` after it; None when there is none (the sentence is then decoded whole)."""
    earliest, latest = (int(seconds * rate) for seconds in HEAD_SECONDS)
    latest = min(latest, frames * hop - int(MIN_REST_SECONDS * rate))
    words = [(word, i0, i1) for word, k, i0, i1 in matches if k == 0]
    for (_, _, before_end), (word, i0, _) in zip(words, words[1:]):
        start = int(spans[i0][0])
        if start > latest:
            return None
        if start >= earliest and start % hop == 0 and 0 < spans[before_end][1] <= start:
            char = snap_cut(text, word.char_start)  # quotes and brackets opening the word go with it
            return Head(i0, start // hop, char) if char > 0 else None
    return None


def split_first(sentences: list[Sentence], groups: list[Group], matches: list[Match], head: Head,
                head_audio: np.ndarray, hop: int) -> tuple[list[Sentence], list[Group], list[Match]]:
    """The plan with sentence 0 cut in two at ``head``: the head (its audio given) and the rest (its
    audio still to decode), each with its own group of characters; later indices shift by one."""
    first, p, cut = sentences[0], head.phoneme, head.frame * hop
    spans = first.spans if first.spans is not None else np.zeros((len(first.phonemes), 2), np.int64)
    sentences = [Sentence(first.phonemes[:p], head_audio, np.minimum(spans[:p], cut)),
                 Sentence(first.phonemes[p:], None, np.maximum(spans[p:] - cut, 0), open=first.open), *sentences[1:]]
    matches = [(word, k, i0, i1) if k == 0 and i0 < p else
               (word, 1, i0 - p, i1 - p) if k == 0 else (word, k + 1, i0, i1) for word, k, i0, i1 in matches]
    (a, b), members = groups[0]
    groups = [((a, head.char), [0]), ((head.char, b), [1, *(m + 1 for m in members[1:])]),
              *(((a2, b2), [m + 1 for m in ms]) for (a2, b2), ms in groups[1:])]
    return sentences, groups, matches
