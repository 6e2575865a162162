"""piper's phonemes aligned to the text: which characters each sentence speaks, and when each word is said.

piper's phonemes carry no text positions. espeak-ng's word and phoneme events
do: aligning piper's phonemes to them (difflib) gives every word a sample span,
which :func:`.timing.char_spans` spreads over its characters (docs/engines.md).
"""
from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .base import Utterance
from .espeak import Word, espeak_words
from .espeak_lib import espeak
from .timing import char_spans, snap_cut

SKIP = set(" ,.;:!?¡¿—–-…\"'()[]«»“”")  # not sounds: word breaks and punctuation in phoneme strings


@dataclass
class Sentence:
    """One piper sentence: its phonemes and, after synthesis, its audio and phoneme spans."""

    phonemes: list[str]
    audio: np.ndarray | None = None
    spans: np.ndarray | None = None  # (start, end) samples per phoneme
    pending: Callable[[], np.ndarray] | None = None  # makes the audio, when it is not made from the phonemes
    open: bool = False  # it stops mid-sentence (the speech goes on in the next run): no pause after it


Match = tuple[Word, int, int, int]  # a word piper says: (word, sentence, first phoneme, last phoneme)
Group = tuple[tuple[int, int], list[int]]  # characters [a, b) and the sentences that speak them


def align(text: str, espeak_voice: str, sentences: list[Sentence]) -> tuple[list[Group], list[Match]]:
    """Match espeak's words to piper's phonemes, then cut the text where piper's sentences change."""
    result = espeak().synthesize(text, espeak_voice)
    words = espeak_words(text, result.events, len(result.audio))
    ref = [(ch, w) for w, word in enumerate(words) for ipa, _, _ in word.phonemes
           for ch in ipa if ch not in SKIP and not ch.isspace()]
    heard = [(ch, k, i) for k, s in enumerate(sentences) for i, ph in enumerate(s.phonemes)
             for ch in ph if ch not in SKIP and not ch.isspace()]
    matcher = difflib.SequenceMatcher(None, [c for c, _ in ref], [c for c, _, _ in heard], autojunk=False)
    found: dict[int, list[tuple[int, int]]] = {}
    for block in matcher.get_matching_blocks():
        for j in range(block.size):
            _, k, i = heard[block.b + j]
            found.setdefault(ref[block.a + j][1], []).append((k, i))
    matches, last = [], (-1, -1)
    for w, word in enumerate(words):
        hits = found.get(w)
        if not hits:
            continue
        k = hits[0][0]
        local = [i for kk, i in hits if kk == k]
        if (k, local[0]) < last:  # out of order: a mismatch, leave the word to the gaps
            continue
        matches.append((word, k, local[0], local[-1]))
        last = (k, local[-1])
    # each sentence's text starts at its first word; sentences without words join a neighbour
    starts: list[int | None] = [None] * len(sentences)
    for word, k, _, _ in matches:
        if starts[k] is None:
            starts[k] = word.char_start
    groups: list[Group] = []
    members: list[int] = []
    cut = 0
    for k in range(len(sentences)):
        start = starts[k]
        if start is not None and members and any(starts[m] is not None for m in members):
            new_cut = snap_cut(text, start, cut)
            groups.append(((cut, new_cut), members))
            cut, members = new_cut, []
        members.append(k)
    groups.append(((cut, len(text)), members))
    return groups, matches


def utterance(text: str, a: int, b: int, sentences: list[Sentence], members: list[int],
               matches: list[Match]) -> Utterance:
    """Characters [a, b) spoken by ``sentences[members]`` (one audio, end to end)."""
    group = [sentences[k] for k in members]
    pieces = [s.audio for s in group if s.audio is not None]  # all spoken by now
    offsets = np.cumsum([0, *(len(p) for p in pieces)])
    audio = np.concatenate(pieces)
    timings = []
    for word, k, i0, i1 in matches:
        spans = sentences[k].spans
        if a <= word.char_start < b and k in members and spans is not None:
            g = members.index(k)
            timings.append((word.char_start - a, word.char_end - a,
                            int(offsets[g] + spans[i0][0]), int(offsets[g] + spans[i1][1])))
    starts, ends = char_spans(text[a:b], len(audio), timings)
    return Utterance(text[a:b], audio, starts, ends)
