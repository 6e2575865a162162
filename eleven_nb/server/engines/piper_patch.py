"""piper's model, patched once into the cache (keyed by its sha256; ``onnx`` is needed only then).

- piper's own patch exposes each phoneme id's duration, whence per-phoneme sample spans;
- durations are rounded cumulatively, so that speed x gives 1/x of the length;
- the graph's ``RandomNormalLike`` nodes become inputs, fed from a numpy generator
  per request: a ``seed`` repeats exactly without touching onnxruntime's
  process-wide seed, and one shared session serves every thread.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .cache import cache_dir, model_sha256, write_atomically

log = logging.getLogger(__name__)

PATCH_VERSION = 2  # bump when the patch changes: the cache key includes it
NOISE_PREFIX = "eleven_nb_noise_"
SEEDABLE_KEY = "eleven_nb_seedable"


def _noise_as_inputs(model) -> bool:
    """Replace every ``RandomNormalLike`` node by a graph input ``eleven_nb_noise_<k>`` (1-D float),
    tiled and cut to the node's shape. Return whether no other random node is left (then a
    seed fully determines the output)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    nodes = []
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        k = sum(1 for i in graph.input if i.name.startswith(NOISE_PREFIX))
        noise, x, out, p = f"{NOISE_PREFIX}{k}", node.input[0], node.output[0], f"/eleven_nb/noise{k}/"
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        graph.input.append(helper.make_tensor_value_info(noise, TensorProto.FLOAT, [f"noise{k}"]))
        for name, value in (("one", np.array(1, np.int64)), ("axis0", np.array([0], np.int64)),
                            ("zero", np.array([0], np.int64))):
            graph.initializer.append(numpy_helper.from_array(value, p + name))
        # out = reshape(tile(noise, ceil(size(x) / size(noise)))[:size(x)], shape(x)) * scale + mean
        nodes += [
            helper.make_node("Size", [x], [p + "want"]),
            helper.make_node("Size", [noise], [p + "have"]),
            helper.make_node("Sub", [p + "have", p + "one"], [p + "have-1"]),
            helper.make_node("Add", [p + "want", p + "have-1"], [p + "sum"]),
            helper.make_node("Div", [p + "sum", p + "have"], [p + "reps"]),
            helper.make_node("Unsqueeze", [p + "reps", p + "axis0"], [p + "reps1"]),
            helper.make_node("Unsqueeze", [p + "want", p + "axis0"], [p + "want1"]),
            helper.make_node("Tile", [noise, p + "reps1"], [p + "tiled"]),
            helper.make_node("Slice", [p + "tiled", p + "zero", p + "want1"], [p + "flat"]),
            helper.make_node("Shape", [x], [p + "shape"]),
        ]
        scale, mean = float(attrs.get("scale", 1.0)), float(attrs.get("mean", 0.0))
        dtype = int(attrs.get("dtype", TensorProto.FLOAT))
        steps = [("Reshape", [p + "flat", p + "shape"])]
        if scale != 1.0:
            graph.initializer.append(numpy_helper.from_array(np.array(scale, np.float32), p + "scale"))
            steps.append(("Mul", [p + "scale"]))
        if mean != 0.0:
            graph.initializer.append(numpy_helper.from_array(np.array(mean, np.float32), p + "mean"))
            steps.append(("Add", [p + "mean"]))
        if dtype != TensorProto.FLOAT:
            steps.append(("Cast", []))
        previous = None
        for i, (op, inputs) in enumerate(steps):  # chain the steps; the last one writes the node's output
            target = out if i == len(steps) - 1 else f"{p}step{i}"
            step = helper.make_node(op, ([previous] if previous else []) + inputs, [target])
            if op == "Cast":
                step.attribute.append(helper.make_attribute("to", dtype))
            nodes.append(step)
            previous = target
    del graph.node[:]
    graph.node.extend(nodes)
    random_ops = {"RandomNormal", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"}
    return not any(n.op_type in random_ops for n in graph.node)


def _faithful_speed(model) -> bool:
    """Replace ``ceil(w * length_scale)`` by durations rounded cumulatively from ``(w + 1/2) * length_scale``.

    A ceiling per phoneme (1-3 frames each here) does not follow 1/speed: it adds half
    a frame per phoneme whatever the scale, and clustered durations round alike
    (speed 1.2 gave 1.09/1.2 of the length). Rounding the running total instead makes
    the total proportional to the length scale, each phoneme within a frame of the
    old at scale 1. Return whether the graph had the expected ``Ceil(Mul(w, Gather(scales)))``.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    producers = {o: n for n in graph.node for o in n.output}
    ceils = [n for n in graph.node if n.op_type == "Ceil"]
    if len(ceils) != 1 or producers.get(ceils[0].input[0]) is None:
        return False
    ceil, product = ceils[0], producers[ceils[0].input[0]]
    scale = [i for i in product.input if (producers.get(i) is not None and producers[i].op_type == "Gather"
                                          and producers[i].input[0] == "scales")]
    if product.op_type != "Mul" or len(scale) != 1:
        return False
    p = "/eleven_nb/speed/"
    graph.initializer.extend([numpy_helper.from_array(np.array(0.5, np.float32), p + "half"),
                              numpy_helper.from_array(np.array(-1, np.int64), p + "last_axis")])
    replacement = [
        helper.make_node("Mul", [scale[0], p + "half"], [p + "half_scale"]),
        helper.make_node("Add", [ceil.input[0], p + "half_scale"], [p + "scaled"]),
        helper.make_node("CumSum", [p + "scaled", p + "last_axis"], [p + "end"]),
        helper.make_node("Sub", [p + "end", p + "scaled"], [p + "start"]),
        helper.make_node("Round", [p + "end"], [p + "end_r"]),
        helper.make_node("Round", [p + "start"], [p + "start_r"]),
        helper.make_node("Sub", [p + "end_r", p + "start_r"], [ceil.output[0]]),
    ]
    nodes = list(graph.node)
    at = nodes.index(ceil)
    del graph.node[:]
    graph.node.extend(nodes[:at] + replacement + nodes[at + 1:])
    return True


def patched_model(model: Path) -> Path:
    """The model with alignment output and noise inputs, patched once into the cache."""
    target = cache_dir() / "piper" / f"{model_sha256(model)[:24]}-v{PATCH_VERSION}.onnx"
    if target.exists():
        return target
    import onnx
    from piper.patch_voice_with_alignment import add_alignment_output

    proto = onnx.load(str(model))
    try:
        add_alignment_output(proto)
    except ValueError as exc:  # already exposed (a model the user patched), or no durations to expose
        log.debug("alignment output not added: %s", exc)
    if not _faithful_speed(proto):
        log.warning("%s: no ceil(durations x length scale) found; speed will not follow 1/speed exactly", model)
    seedable = _noise_as_inputs(proto)
    proto.metadata_props.add(key=SEEDABLE_KEY, value="1" if seedable else "0")
    write_atomically(target, lambda p: onnx.save(proto, p))
    log.info("patched %s for alignment into %s (once)", model, target)
    return target
