"""Models' graphs optimized once into the cache, then opened as they are (real onnxruntime sessions)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eleven_nb.server.engines.memory import onnx_session
from eleven_nb.server.engines.optimized import optimized_path

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


@pytest.fixture
def model(tmp_path, monkeypatch) -> Path:
    """A Conv then a Relu (which the optimizer fuses into one node), in a fresh cache."""
    from onnx import TensorProto, helper, numpy_helper

    monkeypatch.setenv("ELEVEN_NB_CACHE", str(tmp_path / "cache"))
    weight = numpy_helper.from_array(np.random.default_rng(1).standard_normal((8, 4, 5)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[2, 2]), helper.make_node("Relu", ["y"], ["z"])],
        "conv_relu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, None])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 8, None])], [weight])
    path = tmp_path / "conv_relu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def run(session) -> np.ndarray:
    x = np.random.default_rng(2).standard_normal((1, 4, 50)).astype(np.float32)
    return session.run(None, {"x": x})[0]


def nodes(path: Path) -> list[str]:
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def test_the_first_session_writes_the_optimized_graph_and_the_next_opens_it_as_it_is(model):
    first = onnx_session(model, threads=1)
    copy = optimized_path(model, ort.__version__)
    assert copy.exists() and nodes(copy) != nodes(model) == ["Conv", "Relu"]  # fused: it was optimized
    assert first.get_session_options().graph_optimization_level != ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    stamp = copy.stat().st_mtime_ns
    second = onnx_session(model, threads=1)
    assert second.get_session_options().graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert copy.stat().st_mtime_ns == stamp  # opened, not written again
    np.testing.assert_array_equal(run(first), run(second))
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # no temporary files left


def test_a_changed_model_or_another_onnxruntime_gets_its_own_copy(model):
    before = optimized_path(model, ort.__version__)
    assert optimized_path(model, "0.0.1") != before
    os.utime(model, ns=(model.stat().st_atime_ns, model.stat().st_mtime_ns + 10**9))  # a model replaced
    assert optimized_path(model, ort.__version__) != before


def test_a_copy_that_cannot_be_opened_is_set_aside_once(model, caplog):
    """Damaged, or a model whose weights live in a file beside it (the copy points at a file that is not
    there): one warning, then that model is optimized at each start as before, not rewritten every time."""
    onnx_session(model, threads=1)
    copy = optimized_path(model, ort.__version__)
    copy.write_bytes(b"\x00 not a model" * 50)
    session = onnx_session(model, threads=1)
    assert "cannot open the optimized copy" in caplog.text
    np.testing.assert_array_equal(run(session), run(ort.InferenceSession(str(model))))
    assert not copy.exists()
    caplog.clear()
    again = onnx_session(model, threads=1)
    assert caplog.text == "" and not copy.exists()
    assert again.get_session_options().graph_optimization_level != ort.GraphOptimizationLevel.ORT_DISABLE_ALL


def test_no_room_for_the_copy_means_no_copy(model, monkeypatch, caplog):
    """A full disk would fail only after the optimizing, and then the model would be optimized twice."""
    from eleven_nb.server.engines import optimized

    real = shutil.disk_usage
    monkeypatch.setattr(optimized.shutil, "disk_usage", lambda path: real(path)._replace(free=1000))
    caplog.set_level("INFO")
    session = onnx_session(model, threads=1)
    assert "no room" in caplog.text and not optimized_path(model, ort.__version__).exists()
    np.testing.assert_array_equal(run(session), run(ort.InferenceSession(str(model))))


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root, to drop its override")
def test_a_cache_that_cannot_be_looked_into_costs_only_the_optimizing(model, tmp_path):
    """optimized/ made by another user, mode 000: Path.exists() raises there. The engine still opens."""
    onnx_session(model, threads=1)
    directory = optimized_path(model, ort.__version__).parent
    directory.chmod(0)
    try:
        script = ("import numpy as np, sys; from pathlib import Path; "
                  "from eleven_nb.server.engines.memory import onnx_session; "
                  "s = onnx_session(Path(sys.argv[1]), threads=1); "
                  "print(s.run(None, {'x': np.ones((1, 4, 9), np.float32)})[0].shape)")
        done = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps",
                               "-dac_override,-dac_read_search", sys.executable, "-c", script, str(model)],
                              capture_output=True, text=True, timeout=120, env={**os.environ})
    finally:
        directory.chmod(0o755)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(1, 8, 9)"


def test_a_read_only_cache_costs_only_the_optimizing(model, tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache would be", encoding="utf-8")
    monkeypatch.setenv("ELEVEN_NB_CACHE", str(blocked))
    session = onnx_session(model, threads=1)
    np.testing.assert_array_equal(run(session), run(ort.InferenceSession(str(model))))


@pytest.mark.parametrize("name", ["hibari", pytest.param("piper", marks=pytest.mark.piper)])
def test_a_voice_speaks_the_same_from_its_optimized_copies(name, tmp_path, monkeypatch):
    """The real voice, loaded twice in a fresh cache: optimizing, then from the copies; the same samples."""
    pytest.importorskip(name)
    from eleven_nb.server.engines import load_engine
    from eleven_nb.server.engines.base import SynthesisSettings

    monkeypatch.setenv("ELEVEN_NB_CACHE", str(tmp_path / "cache"))
    spoken = []
    for _ in range(2):
        engine = load_engine(name)
        voice = engine.voices()[0].voice_id
        spoken.append(np.concatenate([u.audio for u in engine.synthesize("The same voice, twice. And again.",
                                                                          voice, SynthesisSettings(seed=1))]))
    assert list((tmp_path / "cache" / "optimized").iterdir())
    np.testing.assert_array_equal(*spoken)
