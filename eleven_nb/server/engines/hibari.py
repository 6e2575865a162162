"""hibari-tts as an engine: the bundled American voice "heart" (Apache-2.0, no espeak-ng).

hibari's network predicts five spectra and an F0 curve per 12.5 ms frame; its
``dsp`` module makes the waveform. The phoneme durations it uses stay inside the
graph (rounded, clipped, then expanded into frames). The model is patched once
into the cache, keyed by its sha256, to expose them as an output: then each
word's phonemes get an exact sample span, which :func:`.timing.char_spans`
spreads over its characters (pauses to punctuation, gaps to spaces).

Only the bundled voice is offered: hibari downloads its other voices on first
use, and nothing here may reach the network.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import onnx_edit
from .base import (
    Engine,
    SynthesisSettings,
    Utterance,
    VoiceInfo,
    silence_utterance,
    spread_over,
)
from .cache import cache_dir, model_sha256, write_atomically
from .hibari_text import CLAUSE, CLOSERS, SENTENCE_END, Word, call_phonemes, plan_calls, text_words
from .memory import onnx_session, run_model
from .phonemes import misaki
from .timing import OPEN_TAIL_S, char_spans, fit_silences, snap_cut, trim_edges, trim_trailing_silence

log = logging.getLogger(__name__)

VOICE_ID = "heart"
VOICE_LABEL = "Heart (hibari, en_US, local)"
# hibari-tts 0.2.1's bundled heart model (assets/hibari.onnx); checked at load
HEART_SHA256 = "5f70741d4e900f4e85d0037498736cc1b3e1b9a63a13546a5da1e63abf4fccd8"
PATCH_VERSION = 2
DURATIONS = "eleven_nb_durations"
# phonemes per model call: bounds a call's memory and time (a 300-phoneme call peaks ~60 MB);
# hibari's own limit is 400
CALL_PHONEMES = 240
FIRST_CALL_PHONEMES = 60  # the first call is kept short, so the first audio comes sooner
# a call of at most this many phonemes (a first call) keeps its activations in onnxruntime's arena for
# the next call; longer calls give theirs back (memory.py)
SMALL_CALL_PHONEMES = FIRST_CALL_PHONEMES
# The model opens every call with ~350 ms of silence and ends one cut mid-sentence (a first phrase, a
# chunk schedule's piece) with ~450 ms: a first phrase's sound began ~0.3 s into its first chunk, and
# "Streaming speech | lets" had a 0.73 s hole. Each call keeps at most this much before its first
# sound, and after its last as much as its ending calls for (seconds at speed 1; the model's own pause
# for "." is ~0.2 s of it). Scaled by 1/speed, so durations still follow the speed.
LEAD_SILENCE_S = 0.04
TAIL_SILENCE_S = {"sentence": 0.35, "clause": 0.2, "open": OPEN_TAIL_S}


def _durations(model: bytes) -> tuple[onnx_edit.Node, onnx_edit.Node, onnx_edit.Node]:
    """The nodes that make the per-phoneme durations: ``Clip(Round(durations / speed))``,
    and the ``CumSum`` that turns them into frame positions."""
    found = onnx_edit.nodes(model)
    rounds = {n.outputs[0]: n for n in found if n.op_type == "Round" and n.outputs}
    clips = [n for n in found if n.op_type == "Clip" and n.inputs and n.inputs[0] in rounds]
    sums = [n for n in found if n.op_type == "CumSum" and len(n.inputs) == 2]
    if len(clips) != 1 or len(sums) != 1:
        raise ValueError(f"expected one Clip of rounded durations and one CumSum in the hibari graph, found "
                         f"{len(clips)} and {len(sums)}")
    return rounds[clips[0].inputs[0]], clips[0], sums[0]


def _patch(model: bytes) -> bytes:
    """Expose the durations; round them cumulatively, so their total follows 1/speed exactly
    (rounded one by one, 2.2 units stay 2 from speed 0.92 to 1.33: speed flattened above 1)."""
    rounding, clip, cumsum = _durations(model)
    scaled, axis, out = rounding.inputs[0], cumsum.inputs[1], rounding.outputs[0]
    p = "/eleven_nb/durations/"
    Node = onnx_edit.Node
    model = onnx_edit.replace_node(model, out, [
        Node("CumSum", (scaled, axis), (p + "end",)),  # where each phoneme ends, in units
        Node("Sub", (p + "end", scaled), (p + "start",)),
        Node("Round", (p + "end",), (p + "end_r",)),
        Node("Round", (p + "start",), (p + "start_r",)),
        Node("Sub", (p + "end_r", p + "start_r"), (out,)),  # then clipped to at least 1, as before
    ])
    return onnx_edit.add_output(model, clip.outputs[0], DURATIONS)


def patched_model(model: Path, digest: str) -> Path:
    """The model with a durations output, patched once into the cache (no ``onnx`` needed)."""
    target = cache_dir() / "hibari" / f"{digest[:24]}-v{PATCH_VERSION}.onnx"
    if target.exists():
        return target
    data = model.read_bytes()
    patched = _patch(data)
    write_atomically(target, lambda p: Path(p).write_bytes(patched))
    log.info("patched %s for alignment into %s (once)", model, target)
    return target


class HibariEngine(Engine):
    """The hibari voice "heart" (en_US, female, 24 kHz).

    ``speed`` x divides the model's phoneme durations by x (alignment follows);
    ``seed`` seeds the noise of the waveform step, so the same text, speed and seed
    give the same samples. ``stability`` is not honoured: the model has no
    variation control.
    """

    name = "hibari"
    supports_phonemes = True

    def __init__(self) -> None:
        from hibari import dsp
        from hibari.g2p import G2P
        from hibari.g2p.normalize import normalize
        from hibari.tts import ASSETS
        from hibari.voices import voice_path

        model = Path(voice_path(VOICE_ID, download_missing=False))
        self.model_sha256 = model_sha256(model)
        if self.model_sha256 != HEART_SHA256:
            log.error("the hibari model %s has sha256 %s, not the pinned %s (hibari-tts 0.2.1): its alignment "
                      "and sound are untested", model, self.model_sha256, HEART_SHA256)
        # one thread: hibari runs ~100x real time on one core; the server's threads serve streams
        self._session = onnx_session(patched_model(model, self.model_sha256), threads=1)
        self._has_durations = any(o.name == DURATIONS for o in self._session.get_outputs())
        self._vocab: dict[str, int] = json.loads(Path(ASSETS, "vocab.json").read_text(encoding="utf-8"))
        self._g2p = G2P(british=False)
        self._g2p.oov  # load the letters-to-sounds net now, not during the first request # noqa: B018
        self._normalize = normalize
        self._dsp = dsp
        self._g2p_lock = threading.Lock()  # the G2P keeps per-call state in its tagger
        self.sample_rate = dsp.SR

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(VOICE_ID, VOICE_LABEL, self.name, language="en",
                          description="hibari neural voice (Apache-2.0), offline", honours=("speed", "seed"))]

    def _check_voice(self, voice_id: str) -> None:
        if voice_id != VOICE_ID:
            raise ValueError(f"hibari has no voice {voice_id!r}; it has {VOICE_ID!r}")

    def synthesize(self, text: str, voice_id: str, settings: SynthesisSettings) -> Iterator[Utterance]:
        """One utterance per model call (a sentence, or a budget's worth of phonemes), each as soon
        as it is spoken; a call whose words have no characters of their own joins the one before."""
        self._check_voice(voice_id)
        if not text:
            return
        with self._g2p_lock:
            lines = text_words(self._g2p, self._normalize, text)
        calls = plan_calls(lines, CALL_PHONEMES, FIRST_CALL_PHONEMES)
        if not calls:  # nothing hibari reads (emoji, other scripts, lone symbols)
            yield silence_utterance(text, self.sample_rate)
            return
        rng = np.random.default_rng(settings.seed)
        groups: list[tuple[int, list[list[Word]]]] = [(0, [calls[0]])]
        for call in calls[1:]:
            first = next((w.char_start for w in call if w.char_end > w.char_start), None)
            if first is not None and first > groups[-1][0] and any(
                    w.char_end > w.char_start for c in groups[-1][1] for w in c):
                groups.append((snap_cut(text, first, groups[-1][0]), [call]))
            else:
                groups[-1][1].append(call)
        for k, (a, members) in enumerate(groups):
            b = groups[k + 1][0] if k + 1 < len(groups) else len(text)
            audio, timings, offset = [], [], 0
            for call in members:
                pcm, spans = self._speak(call, settings.speed, rng)
                timings += [(w.char_start - a, w.char_end - a, s + offset, e + offset)
                            for w, (s, e) in zip(call, spans) if a <= w.char_start < w.char_end <= b]
                audio.append(pcm)
                offset += len(pcm)
            pcm = np.concatenate(audio)
            if not len(pcm):  # phonemes outside the model's set only
                yield silence_utterance(text[a:b], self.sample_rate)
                continue
            starts, ends = char_spans(text[a:b], len(pcm), timings)
            yield Utterance(text[a:b], pcm, starts, ends)

    def synthesize_phonemes(self, ipa: str, text: str, voice_id: str,
                            settings: SynthesisSettings) -> Iterator[Utterance]:
        """Speak IPA, mapped to hibari's symbols (:func:`.phonemes.misaki`); ``text`` spread over it."""
        self._check_voice(voice_id)
        words = [Word(0, 0, w, True) for w in misaki(ipa).split(" ") if w]
        rng = np.random.default_rng(settings.seed)
        audio = [self._speak(call, settings.speed, rng)[0] for call in plan_calls([words], CALL_PHONEMES)]
        audio = [a for a in audio if len(a)]
        yield spread_over(text, [trim_edges(np.concatenate(audio), self.sample_rate)] if audio else [],
                          self.sample_rate)

    def _speak(self, words: list[Word], speed: float, rng: np.random.Generator) -> tuple[np.ndarray, list]:
        """int16 audio of one call and each word's (start, end) samples."""
        phonemes, owned = call_phonemes(words)
        ending = "sentence" if words and words[-1].ends_paragraph else _ending(phonemes)
        return self._run(phonemes, owned, speed, rng, ending)

    def _run(self, phonemes: str, owned: list[tuple[int, int]], speed: float, rng: np.random.Generator,
             ending: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Speak a phoneme string; ``owned`` are ranges of it whose sample spans to return. ``ending``
        (a key of :data:`TAIL_SILENCE_S`) sets the silence kept after its last sound."""
        ids, id_at = [0], []  # id_at[i]: the id index of phoneme character i (or of the next one)
        for ch in phonemes:
            id_at.append(len(ids))
            if ch in self._vocab:
                ids.append(self._vocab[ch])
        id_at.append(len(ids))
        ids.append(0)
        if len(ids) < 3:
            return np.zeros(0, np.int16), [(0, 0)] * len(owned)
        outputs = run_model(self._session, {"ids": np.array([ids], np.int64), "speed": np.array([speed], np.float32)},
                            large=len(ids) - 2 > SMALL_CALL_PHONEMES)  # ids: the phonemes and two pads
        lh, th, ln, lr, phi, f0 = (o[0] for o in outputs[:6])
        audio = self._dsp.synth(lh, th, ln, lr, phi, f0, rng)
        durations = outputs[6].reshape(-1).astype(np.float64) if self._has_durations else np.ones(len(ids))
        del outputs, lh, th, ln, lr, phi, f0
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
        total = float(durations.sum()) or 1.0
        bounds = np.round(np.concatenate([[0.0], np.cumsum(durations)]) * (len(pcm) / total)).astype(np.int64)
        spans = [(int(bounds[id_at[s]]), int(bounds[id_at[e]])) for s, e in owned]
        pcm, spans = fit_silences(pcm, spans, self.sample_rate, LEAD_SILENCE_S / speed,
                                  TAIL_SILENCE_S[ending] / speed)
        return pcm, trim_trailing_silence(pcm, spans, self.sample_rate)


def _ending(phonemes: str) -> str:
    """How a call's phonemes end: a sentence, a clause, or open (cut mid-sentence). Closing quotes and
    brackets are looked past: 'fine.”' and '(mostly.)' end sentences."""
    last = phonemes.rstrip().rstrip("".join(CLOSERS)).rstrip()[-1:]
    return "sentence" if last in SENTENCE_END else "clause" if last in CLAUSE else "open"
