"""How much slower an engine's first phrase is after the engine has been idle, and what warms it again.

    python bench/bench_engine_idle.py [--repeats 6] [--write]

In one process, on a server-like worker thread: hibari's and piper's first phrase ("Streaming speech ",
as a ``%%speak`` cell sends it) back to back, then after 0.2, 0.5 and 2 s of idle, then after 2 s of idle
preceded by 30 ms of busy numpy work (a hot CPU), by 64 MB of other memory touched (cold caches), or by a
tiny synthesis ("Hi."). For hibari the model call and the waveform step are also timed apart. Medians of
``--repeats`` calls each. It explains why an engine's first phrase in a notebook can take longer than the
same call in a loop; docs/latency.md ("What was tried", keeping the engine warm) has what came of it.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line, write_section  # noqa: E402
from eleven_nb.server.engines import hibari, load_engine  # noqa: E402
from eleven_nb.server.engines.base import SynthesisSettings  # noqa: E402

PHRASE = "Streaming speech "
SQUARE = np.random.default_rng(0).random((300, 300), dtype=np.float32)


def busy_cpu() -> None:
    started = time.perf_counter()
    while time.perf_counter() - started < 0.03:
        SQUARE @ SQUARE


def other_memory() -> None:
    np.ones(64 * 2**20 // 4, np.float32).sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--write", action="store_true", help="write the section of bench/RESULTS.md")
    args = parser.parse_args()
    pool = ThreadPoolExecutor(1)  # one worker thread, as the server's pool runs a call
    model_ms: list[float] = []
    run_model = hibari.run_model

    def timed_model(*a, **k):  # hibari's model call, timed apart from its waveform step
        started = time.perf_counter()
        out = run_model(*a, **k)
        model_ms.append((time.perf_counter() - started) * 1000)
        return out

    hibari.run_model = timed_model
    rows, raw = [], {}
    try:
        for name, voice in (("hibari", "heart"), ("piper", "joe")):
            engine = load_engine(name)

            def first(before: Callable[[], None] | None = None, engine=engine, voice=voice) -> float:
                if before is not None:
                    before()
                started = time.perf_counter()
                next(iter(engine.synthesize(PHRASE, voice, SynthesisSettings())))
                return (time.perf_counter() - started) * 1000

            def tiny(engine=engine, voice=voice) -> None:
                next(iter(engine.synthesize("Hi.", voice, SynthesisSettings())))

            for _ in range(3):
                pool.submit(first).result()
            ways: list[tuple[str, float, Callable[[], None] | None]] = [
                ("back to back", 0.0, None), ("after 0.2 s idle", 0.2, None), ("after 0.5 s idle", 0.5, None),
                ("after 2 s idle", 2.0, None), ("after 2 s idle, 30 ms of busy numpy first", 2.0, busy_cpu),
                ("after 2 s idle, 64 MB of other memory touched first", 2.0, other_memory),
                ("after 2 s idle, a tiny synthesis first", 2.0, tiny)]
            for label, idle, before in ways:
                times, models = [], []
                for _ in range(args.repeats):
                    time.sleep(idle)
                    model_ms.clear()
                    times.append(pool.submit(first, before).result())
                    if name == "hibari" and model_ms:
                        models.append(model_ms[-1])
                raw[f"{name}, {label}"] = [round(t, 1) for t in times]
                model = f"{statistics.median(models):.1f}" if models else ""
                rows.append(f"| {name} | {label} | {statistics.median(times):.1f} | {model} |")
                print(rows[-1], flush=True)
    finally:
        hibari.run_model = run_model
    table = "| engine | when | first phrase, median (ms) | of it, hibari's model call (ms) |\n|---|---|---|---|\n"
    body = (f"{machine_line()}\n\n`python bench/bench_engine_idle.py --repeats {args.repeats}`: the first phrase "
            f"\"{PHRASE.strip()}\" on one worker thread, in one process; the tiny synthesis before the last way is "
            "not counted.\n\n" + table + "\n".join(rows) + f"\n\nAll runs (ms): {raw}\n")
    print(body)
    if args.write:
        write_section("Engines: the first phrase after the engine has been idle", body)


if __name__ == "__main__":
    main()
