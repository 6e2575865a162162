"""piper's model cut in two at its decoder, so a phrase's audio can be decoded in windows.

A piper (VITS) model is a text encoder, a duration predictor and a flow, which
give a latent of 192 channels x one column per frame (256 samples), then a
HiFi-GAN decoder that turns that latent into audio. The decoder is about half
of a short phrase's time and grows with its length; it is convolutional, so a
window of the latent, with a few frames of context either side, decodes to the
same samples as the whole (:mod:`.piper_window`). Cut there:

- the *encoder* takes the model's inputs and gives the latent and the durations;
- the *decoder* takes the latent and gives the audio, and records in its metadata
  how far (in latent frames) its convolutions reach (:func:`reach_frames`).

The cut tensor is the one input of the ``/dec/`` nodes (``/Mul_7_output_0`` in the
piper voices exported by piper's trainer). A model without such nodes, or whose
decoder needs more (a speaker embedding), is not cut: the engine then runs the
whole model as before. Both parts are cached beside the patched model.
"""
from __future__ import annotations

import functools
import logging
import math
from pathlib import Path

from .cache import write_atomically

log = logging.getLogger(__name__)

SPLIT_VERSION = 2  # bump when the cut changes: the cache names include it
DECODER_PREFIX = "/dec/"
LATENT = "latent"  # the encoder's first output, the decoder's input
AUDIO = "output"  # the whole model's audio output, kept as the decoder's
REACH_KEY = "eleven_nb_reach_frames"  # decoder metadata: latent frames either side an output sample depends on
_SUBGRAPH_OPS = {"If", "Loop", "Scan"}  # their bodies may read any tensor: closures would miss them
# ops whose output sample depends only on the same sample of their inputs (or on no samples at all)
_POINTWISE = {"Add", "Sub", "Mul", "Div", "LeakyRelu", "Relu", "Tanh", "Sigmoid", "Identity", "Unsqueeze",
              "Squeeze", "Constant", "Cast", "Neg", "Clip"}


def split_paths(patched: Path) -> tuple[Path, Path, Path]:
    """Where the encoder, the decoder, and the marker of a model that cannot be cut are cached."""
    stem = patched.with_suffix("")
    return (Path(f"{stem}-split{SPLIT_VERSION}-encoder.onnx"), Path(f"{stem}-split{SPLIT_VERSION}-decoder.onnx"),
            Path(f"{stem}-split{SPLIT_VERSION}-none"))


def split_model(patched: Path) -> tuple[Path, Path] | None:
    """The (encoder, decoder) models of the patched model, cut once into the cache; None if it cannot be cut."""
    encoder, decoder, unsplittable = split_paths(patched)
    if encoder.exists() and decoder.exists():
        return encoder, decoder
    if unsplittable.exists():
        return None
    try:
        import onnx
    except ImportError:  # the patched model came from the cache; without onnx it is run whole
        log.info("%s is spoken whole: the onnx package is not installed", patched)
        return None
    proto = onnx.load(str(patched))
    try:
        parts = cut_at_decoder(proto)
    except Exception as exc:  # ValueError for the shapes foreseen; any other model is spoken whole too
        reason = str(exc)
        log.info("%s is spoken whole (not cut at its decoder): %s", patched, reason)
        _remember(unsplittable, lambda p: Path(p).write_text(f"{reason}\n", encoding="utf-8"))
        return None
    if not all(_remember(target, functools.partial(_save, part)) for target, part in zip((encoder, decoder), parts)):
        return None
    log.info("cut %s at its decoder into %s and %s (once)", patched, encoder.name, decoder.name)
    return encoder, decoder


def _remember(target: Path, write) -> bool:
    """Write ``target`` into the cache; False (the model is then run whole) if the cache is read-only."""
    try:
        write_atomically(target, write)
        return True
    except OSError as exc:
        log.warning("cannot cache %s, running the model whole: %s", target, exc)
        return False


def _save(model, path: str) -> None:
    import onnx

    onnx.save(model, path)


def decoder_input(graph) -> str:
    """The one tensor from outside the decoder that the ``/dec/`` nodes read (weights aside)."""
    inside = [n for n in graph.node if n.name.startswith(DECODER_PREFIX)]
    if not inside:
        raise ValueError(f"no {DECODER_PREFIX} nodes")
    made = {o for n in inside for o in n.output}
    weights = {i.name for i in graph.initializer}
    outer = sorted({i for n in inside for i in n.input if i and i not in made and i not in weights})
    if len(outer) != 1:
        raise ValueError(f"the decoder reads {len(outer)} outer tensors ({', '.join(outer[:4])}), not one")
    return outer[0]


def reach_frames(nodes: list, weights: dict[str, list[int]]) -> int:
    """An upper bound on how many latent frames either side one output sample depends on.

    Each convolution widens the reach by half its (dilated) kernel at its own rate, and a
    transposed convolution by half its kernel over its stride; summing every node counts
    parallel branches (HiFi-GAN's resblocks) as if in series, so this bounds the reach
    (joe: 13.4 frames; windows match the whole from 10). ``weights`` are the initializers' shapes.
    """
    from onnx import helper

    reach, rate = 0.0, 1  # in latent frames; output samples per latent frame so far
    for node in nodes:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type in ("Conv", "ConvTranspose"):
            kernel = (attrs.get("kernel_shape") or weights.get(node.input[1], [1])[2:] or [1])
            if len(kernel) != 1:
                raise ValueError(f"{node.name}: a {len(kernel)}-D convolution")
            if node.op_type == "Conv":
                reach += (kernel[0] - 1) * (attrs.get("dilations") or [1])[0] / 2 / rate
            else:
                stride = (attrs.get("strides") or [1])[0]
                reach += kernel[0] / stride / 2 / rate
                rate *= stride
        elif node.op_type not in _POINTWISE:
            raise ValueError(f"cannot bound the decoder's reach through {node.op_type} ({node.name})")
    return math.ceil(reach)


def _closure(graph, wanted: list[str], stop: set[str]) -> list:
    """The nodes needed for ``wanted`` (not looking past ``stop``), in the graph's order."""
    producers = {o: n for n in graph.node for o in n.output}
    keep: set[int] = set()
    pending = list(wanted)
    while pending:
        tensor = pending.pop()
        node = producers.get(tensor)
        if tensor in stop or node is None or id(node) in keep:
            continue
        keep.add(id(node))
        pending.extend(i for i in node.input if i)
    return [n for n in graph.node if id(n) in keep]


def _part(model, nodes: list, inputs: list, outputs: list, name: str):
    """A model of ``nodes`` (with the weights they read) from ``model``'s opsets and metadata."""
    from onnx import helper

    read = {i for n in nodes for i in n.input}
    graph = helper.make_graph(nodes, name, inputs, outputs,
                              initializer=[w for w in model.graph.initializer if w.name in read])
    part = helper.make_model(graph, opset_imports=list(model.opset_import), producer_name="eleven_nb")
    part.ir_version = model.ir_version
    for prop in model.metadata_props:
        part.metadata_props.add(key=prop.key, value=prop.value)
    return part


def cut_at_decoder(model) -> tuple:
    """(encoder, decoder) models cut from ``model`` at its decoder's input; ``ValueError`` if it cannot be cut."""
    from onnx import NodeProto, TensorProto, helper

    graph = model.graph
    if any(n.op_type in _SUBGRAPH_OPS for n in graph.node):
        raise ValueError("the graph has control flow")
    if not graph.output or graph.output[0].name != AUDIO:
        raise ValueError(f"the first output is not {AUDIO!r}")
    cut = decoder_input(graph)
    decoder_nodes = _closure(graph, [AUDIO], {cut})
    graph_inputs = {i.name for i in graph.input}
    made = {o for n in decoder_nodes for o in n.output} | {w.name for w in graph.initializer}
    needs = {i for n in decoder_nodes for i in n.input if i and i not in made}
    if needs != {cut} or graph_inputs & {i for n in decoder_nodes for i in n.input}:
        raise ValueError(f"the decoder needs {sorted(needs)}, not only the latent")
    # the encoder gives the latent under a plain name, then whatever else the model gave (the durations)
    rest = list(graph.output[1:])
    encoder_nodes = _closure(graph, [cut, *(o.name for o in rest)], set())
    encoder_nodes.append(helper.make_node("Identity", [cut], [LATENT], name="/eleven_nb/split/latent"))
    latent = helper.make_tensor_value_info(LATENT, TensorProto.FLOAT, ["batch", "channels", "frames"])
    encoder = _part(model, encoder_nodes, list(graph.input), [latent, *rest], "encoder")
    renamed = []
    for node in decoder_nodes:  # the same nodes, reading the latent by its new name
        copy = NodeProto()
        copy.CopyFrom(node)
        for k, name in enumerate(copy.input):
            if name == cut:
                copy.input[k] = LATENT
        renamed.append(copy)
    decoder = _part(model, renamed, [latent], [graph.output[0]], "decoder")
    shapes = {w.name: list(w.dims) for w in graph.initializer}
    decoder.metadata_props.add(key=REACH_KEY, value=str(reach_frames(decoder_nodes, shapes)))
    return encoder, decoder
