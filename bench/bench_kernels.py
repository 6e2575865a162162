"""Memory of N kernels that have each spoken once, private servers against one shared server,
and the time to first audio of the first speak in a new kernel while the shared server is up.

Real IPython kernels (jupyter_client) each run ``eleven_nb.Client()`` and stream one
sentence, after ``%load_ext eleven_nb``. "private" is the old way, one server per kernel (``ELEVEN_NB_SHARED_SERVER=0``);
"shared" is one server per user. Total RSS counts the kernels, their descendants and the
shared server, each process once. Time to first audio is measured in the kernel, from
``Client()`` to the first audio frame received (endpoint lookup, connection and synthesis).

    python -m bench.bench_kernels [--engine piper|espeak] [--kernels 1,3,6] [--write]

Prints a markdown table; ``--write`` also puts it in bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

from bench.common import Kernel, machine_line, write_section
from eleven_nb import local_server
from eleven_nb.spawn import stop_pid

LOAD = "%load_ext eleven_nb"  # what a notebook does first (it does not import the client yet)
SPEAK = """
import json, time
_t = time.perf_counter()
import eleven_nb.client  # aiohttp and the client: paid once per kernel, on its first speak
_import_ms = (time.perf_counter() - _t) * 1000
_t0 = time.perf_counter()
_client = eleven_nb.Client()
_first = None
with _client.stream_input(output_format="pcm_22050") as _stream:
    _open = time.perf_counter() - _t0
    _stream.send("Hello from a kernel, ", flush=True)  # a short first phrase, flushed, as %%speak sends
    _stream.send("speaking once. ")
    _stream.close()
    for _chunk in _stream:
        if _chunk.audio and _first is None:
            _first = time.perf_counter() - _t0
print(json.dumps({"ttfa_ms": _first * 1000, "import_ms": _import_ms, "open_ms": _open * 1000}), flush=True)
"""


def speak(kernel: Kernel) -> dict[str, float]:
    """Load the extension, then run SPEAK: time to first audio, to the open socket, client import (ms)."""
    kernel.run(LOAD)
    return {k: float(v) for k, v in json.loads(kernel.run(SPEAK).strip().splitlines()[-1]).items()}


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def total_rss_mb(roots: list[int]) -> tuple[float, int]:
    """Summed RSS of ``roots`` and all their descendants (each once), and how many processes."""
    tree, seen, todo = _children(), set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(tree.get(pid, []))
    kb = 0
    for pid in seen:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return kb / 1024, len(seen)


Timings = list[dict[str, float]]  # ttfa_ms, open_ms, import_ms of each kernel's first speak


def run_mode(shared: bool, engine: str, counts: list[int]) -> tuple[dict[int, tuple[float, int]], Timings, Timings]:
    """Start kernels one by one; after each count in ``counts``, measure.

    Returns RSS by N, the first speak's timings in each kernel, and a second speak's in three of them
    (everything warm: what the engine itself takes).
    """
    runtime = tempfile.mkdtemp(prefix="eleven_nb-bench-run-")
    env = {k: v for k, v in os.environ.items() if k not in ("ELEVENLABS_API_KEY", "ELEVEN_NB_BASE_URL")}
    env.update({local_server.RUNTIME_DIR_ENV: runtime, "ELEVEN_NB_ENGINE": engine,
                local_server.SHARED_ENV: "1" if shared else "0"})
    kernels: list[Kernel] = []
    rss: dict[int, tuple[float, int]] = {}
    ttfa: Timings = []
    os.environ[local_server.RUNTIME_DIR_ENV] = runtime  # to read the shared server's file here
    try:
        while len(kernels) < max(counts):
            kernels.append(Kernel(env))
            ttfa.append(speak(kernels[-1]))
            if len(kernels) in counts:
                servers = [info.pid for info in local_server.running()]
                rss[len(kernels)] = total_rss_mb([k.pid for k in kernels] + servers)
        again = [speak(kernel) for kernel in kernels[-3:]]
    finally:
        for kernel in kernels:
            kernel.shutdown()
        for info in local_server.running():
            stop_pid(info.pid)
    return rss, ttfa, again


def _timing_row(what: str, timings: Timings) -> str:
    if not timings:
        return f"| {what} | – | – |"
    cells = []
    for key in ("open_ms", "ttfa_ms"):
        values = [t[key] for t in timings]
        spread = f" ({min(values):.0f}–{max(values):.0f})" if len(values) > 1 else ""
        cells.append(f"{statistics.median(values):.0f}{spread}")
    return f"| {what} (n={len(timings)}) | {cells[0]} | {cells[1]} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("piper", "espeak"), default="piper")
    parser.add_argument("--kernels", default="1,3,6", help="kernel counts to measure at")
    parser.add_argument("--write", action="store_true", help="also write the table to bench/RESULTS.md")
    args = parser.parse_args()
    counts = sorted(int(n) for n in args.kernels.split(","))
    private_rss, private_ttfa, _ = run_mode(False, args.engine, counts)
    shared_rss, shared_ttfa, shared_again = run_mode(True, args.engine, counts)
    rows = ["| kernels | one server per kernel (before) | one shared server (after) |", "|---|---|---|"]
    for n in counts:
        (before, before_procs), (after, after_procs) = private_rss[n], shared_rss[n]
        rows.append(f"| {n} | {before:.0f} MB ({before_procs} processes) | {after:.0f} MB ({after_procs} processes) |")
    lines = [
        f"Engine: {args.engine}. {machine_line()}",
        "",
        "Total RSS of the kernels and servers, each kernel having spoken one sentence:",
        "",
        *rows,
        "",
        ("A kernel's first speak, from `Client()` to the socket open (endpoint lookup or server start, "
         "connection) and to the first audio frame received (plus synthesis of a short first phrase), "
         "median (min–max) in ms:"),
        "",
        "| | socket open | first audio |",
        "|---|---|---|",
        _timing_row("first kernel, shared server started cold", shared_ttfa[:1]),
        _timing_row("a later kernel, shared server already up (goal < 200)", shared_ttfa[1:]),
        _timing_row("each kernel starting its own server", private_ttfa),
        _timing_row("a second speak in a kernel, everything warm (engine time)", shared_again),
        "",
        (f"Not included above: importing the client (aiohttp) on a kernel's first speak, median "
         f"{statistics.median(t['import_ms'] for t in shared_ttfa + private_ttfa):.0f} ms "
         "(`%load_ext eleven_nb` does not import it yet)."),
    ]
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section(f"Kernels and the shared local server ({args.engine})", table)


if __name__ == "__main__":
    main()
