"""The local neural voices side by side: piper (joe) and hibari (heart).

For each engine, in fresh child processes taking turns (so load time and memory
are each engine's own): load time, resident memory once loaded, time to first
audio (the first utterance of ``synthesize``) for 9, 50 and 300 characters, and
throughput (seconds of audio per second of wall and of CPU time) on the 300.
Medians over ``--repeats`` rounds. Then, once per engine, the peak resident
memory for one 300-character message of emoji, CJK, Arabic and Latin text (the
goal: at most 500 MB), and the memory left afterwards.

    python bench/bench_engines.py [--repeats 5] [--engines piper,hibari] [--no-memory]

Prints markdown tables (with the machine and date) to paste into bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_server import TEXTS  # the same texts as the server benchmark
from bench.common import machine_line

HOSTILE = {
    "emoji": ("🎉😀👍🚀🔥 " * 60)[:300],
    "CJK": ("你好世界，这是一个测试。" * 30)[:300],
    "Arabic": ("مرحبا بالعالم، هذا اختبار للنظام. " * 12)[:300],
    "Latin": TEXTS[300],
}
MEMORY_GOAL_MB = 500


def _memory() -> dict[str, float]:
    """Resident and peak resident memory of this process (MB), from /proc (Linux)."""
    status = Path("/proc/self/status").read_text()
    return {key: int(re.search(rf"{key}:\s+(\d+)", status).group(1)) / 1024 for key in ("VmRSS", "VmHWM")}


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM starts again from VmRSS


def child(engine_name: str, memory: bool) -> dict:
    """One round in this (fresh) process; the result as a dict."""
    from eleven_nb.server.engines import load_engine
    from eleven_nb.server.engines.base import SynthesisSettings

    started = time.perf_counter()
    engine = load_engine(engine_name)
    out: dict = {"load_s": time.perf_counter() - started, "rss_loaded_mb": _memory()["VmRSS"]}
    voice = engine.voices()[0].voice_id
    list(engine.synthesize("Warm up.", voice, SynthesisSettings(seed=0)))
    for n, text in TEXTS.items():
        wall, cpu = time.perf_counter(), time.process_time()
        samples, first = 0, None
        for utterance in engine.synthesize(text, voice, SynthesisSettings(seed=1)):
            first = first if first is not None else time.perf_counter() - wall
            samples += len(utterance.audio)
        seconds = samples / engine.sample_rate
        out[f"first_ms_{n}"] = 1000 * first
        out[f"audio_s_{n}"] = seconds
        out[f"x_wall_{n}"] = seconds / (time.perf_counter() - wall)
        out[f"x_cpu_{n}"] = seconds / max(time.process_time() - cpu, 1e-9)
    out["rss_after_mb"] = _memory()["VmRSS"]
    if memory:
        for name, text in HOSTILE.items():
            _reset_peak()
            wall = time.perf_counter()
            seconds = sum(len(u.audio) for u in engine.synthesize(text, voice, SynthesisSettings(seed=1)))
            seconds /= engine.sample_rate
            mem = _memory()
            out[f"mem_{name}"] = {"peak_mb": mem["VmHWM"], "after_mb": mem["VmRSS"], "audio_s": seconds,
                                  "wall_s": time.perf_counter() - wall}
    return out


def _run_child(engine: str, memory: bool) -> dict:
    argv = [sys.executable, __file__, "--child", engine] + (["--memory"] if memory else [])
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"the {engine} round failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--engines", default="piper,hibari")
    parser.add_argument("--no-memory", action="store_true", help="skip the hostile-text memory rounds (slow for piper)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.memory)))
        return
    engines = args.engines.split(",")
    rounds: dict[str, list[dict]] = {e: [] for e in engines}
    for r in range(args.repeats):
        for e in engines:  # take turns, so that the machine's mood is shared
            rounds[e].append(_run_child(e, memory=False))
            print(f"round {r + 1}/{args.repeats} {e} done", file=sys.stderr)
    print(machine_line() + "\n")
    print(f"Medians over {args.repeats} rounds, each in a fresh process, engines taking turns. First audio = the "
          "first utterance of `synthesize` (bare engine, warm). × real time = audio seconds per wall (CPU) second "
          "on the 300 characters.\n")
    print("| engine | load (s) | RSS loaded (MB) | first audio 9 / 50 / 300 chars (ms) | × real time wall | "
          "× real time CPU | audio for 300 chars (s) |")
    print("|---|---|---|---|---|---|---|")
    for e, rs in rounds.items():
        def med(key: str, rs=rs) -> float:
            return statistics.median(r[key] for r in rs)
        firsts = " / ".join(f"{med(f'first_ms_{n}'):.0f}" for n in TEXTS)
        print(f"| {e} | {med('load_s'):.2f} | {med('rss_loaded_mb'):.0f} | {firsts} | {med('x_wall_300'):.1f} | "
              f"{med('x_cpu_300'):.1f} | {med('audio_s_300'):.1f} |")
    if args.no_memory:
        return
    print(f"\nOne 300-character message each, peak resident memory of the whole process (goal ≤ {MEMORY_GOAL_MB} MB)"
          " and what stays resident afterwards:\n")
    print("| engine | text | audio (s) | wall (s) | peak RSS (MB) | RSS after (MB) | goal |")
    print("|---|---|---|---|---|---|---|")
    for e in engines:
        result = _run_child(e, memory=True)
        for name in HOSTILE:
            m = result[f"mem_{name}"]
            ok = "met" if m["peak_mb"] <= MEMORY_GOAL_MB else "MISSED"
            print(f"| {e} | {name} | {m['audio_s']:.1f} | {m['wall_s']:.1f} | {m['peak_mb']:.0f} | "
                  f"{m['after_mb']:.0f} | {ok} |")


if __name__ == "__main__":
    main()
