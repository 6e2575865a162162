"""Each model's graph optimized once per machine and onnxruntime version, then opened as it is.

Opening an onnxruntime session optimizes the model's graph (constant folding, fusions, the CPU's
memory layouts) every time, and for piper's encoder that is most of a server's start: 1169 ms to open
on a 2-core AMD EPYC host, 244 ms from its optimized copy (hibari's model: 360 → 66 ms). So the first
session of a model has onnxruntime write the optimized graph (``optimized_model_filepath``) into the
cache, and later sessions open that copy with optimizations off: the same outputs, the same speed.

The copy is named by the model's file stamp, onnxruntime's version and the CPU, since the layouts
chosen are the CPU's own and another version may optimize differently. A cache that cannot be looked
into or written (permissions, no room for twice the model) costs only the optimizing; a copy onnxruntime
cannot open (damaged, or a model whose weights live in a file beside it) is set aside once, and that
model is then optimized at each start, as before.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import platform
import shutil
from pathlib import Path
from typing import Any

from .cache import cache_dir, write_atomically

log = logging.getLogger(__name__)

PROVIDERS = ["CPUExecutionProvider"]


def open_session(model: Path, options: Any) -> Any:
    """An ``InferenceSession`` of ``model`` with ``options``, from its optimized copy when there is one."""
    import onnxruntime as ort

    action, copy = _plan(model, ort.__version__)
    if action == "open":
        level = options.graph_optimization_level
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(copy), options, providers=PROVIDERS)
        except Exception as exc:  # onnxruntime's own error types: damaged, or weights kept in another file
            log.warning("cannot open the optimized copy %s; %s is optimized at each start from now on (delete "
                        "%s to try again): %s", copy, model.name, _unusable(copy), exc)
            options.graph_optimization_level = level
            _remember_unusable(copy)
    elif action == "write":
        opened: list[Any] = []

        def optimize(partial: str) -> None:
            options.optimized_model_filepath = partial
            opened.append(ort.InferenceSession(str(model), options, providers=PROVIDERS))

        try:
            write_atomically(copy, optimize)
            return opened[0]
        except Exception as exc:  # OSError for the cache; onnxruntime's error if it could not write the graph
            if opened:  # the session is good, only its copy is missing: the next start optimizes again
                log.info("cannot cache the optimized %s: %s", model.name, exc)
                return opened[0]
            log.info("cannot cache the optimized %s, optimizing it again without: %s", model.name, exc)
    options.optimized_model_filepath = ""  # a model onnxruntime cannot open fails here as it always did
    return ort.InferenceSession(str(model), options, providers=PROVIDERS)


def _plan(model: Path, ort_version: str) -> tuple[str, Path]:
    """("open", the copy), ("write", where it goes), or ("optimize", the model): no copy to use or make."""
    try:
        copy = optimized_path(model, ort_version)
        if _unusable(copy).exists():
            return "optimize", model
        if copy.exists():
            return "open", copy
        size = model.stat().st_size
        if _free_bytes(copy.parent) < 2 * size:  # a full disk would fail only after the optimizing
            log.info("no room in %s for the optimized %s (%d MB)", copy.parent, model.name, size >> 20)
            return "optimize", model
        return "write", copy
    except OSError as exc:  # a cache that cannot even be looked into (permissions): optimize as before
        log.info("cannot look for the optimized %s in the cache: %s", model.name, exc)
        return "optimize", model


def _free_bytes(directory: Path) -> int:
    """Free space where ``directory`` is or would be made."""
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return shutil.disk_usage(directory).free


def _unusable(copy: Path) -> Path:
    return copy.with_name(f"{copy.name}.unusable")


def _remember_unusable(copy: Path) -> None:
    try:
        _unusable(copy).write_text("onnxruntime could not open this optimized copy\n", encoding="utf-8")
        copy.unlink(missing_ok=True)
    except OSError as exc:
        log.debug("cannot mark %s unusable: %s", copy, exc)


def optimized_path(model: Path, ort_version: str) -> Path:
    """Where the optimized copy of ``model`` is cached: by its file stamp, onnxruntime's version and the CPU."""
    stat = model.stat()
    stamp = f"{model.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{ort_version}|{_cpu()}"
    digest = hashlib.sha256(stamp.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return cache_dir() / "optimized" / f"{model.stem}-{digest}.onnx"


@functools.cache
def _cpu() -> str:
    """The processor's model and instruction set flags (Linux), or what the platform module knows."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        info = ""
    lines = sorted({line for line in info.splitlines() if line.startswith(("model name", "flags", "Features"))})
    return "|".join([platform.machine(), platform.processor(), *lines])
