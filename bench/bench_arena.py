"""piper with onnxruntime's arena on (shrunk after large calls) against off: first-phrase time and peak memory.

    python bench/bench_arena.py [--repeats 14]

In one process, two sessions on the same patched model: the first phrase ("Streaming speech lets ", what a
``%%speak`` cell sends first) is spoken by each in turn, alternating, and the median time to its utterance is
reported. Then, in a fresh process per way, the peak RSS (VmHWM) while one 301-character Arabic message is
spoken (espeak reads it letter by letter: the heaviest of the attack texts), and the RSS afterwards.
Writes a section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line, status_mb, write_section  # noqa: E402

FIRST = "Streaming speech lets "
ARABIC = ("مرحبا بالعالم، كيف حالك اليوم؟ " * 10)[:301]


class _TrimmedAfterEachCall:
    """A session run as before the arena: no arena, and the heap trimmed after every call."""

    def __init__(self, session) -> None:
        self._session = session

    def run(self, output_names, feeds, *_run_options):  # no arena: nothing to shrink
        from eleven_nb.server.engines.memory import release_memory

        outputs = self._session.run(output_names, feeds)
        release_memory()
        return outputs

    def __getattr__(self, name: str):
        return getattr(self._session, name)


def engine_with(arena: bool):
    """A piper engine whose session has the arena on (as the server runs it) or off (as before)."""
    import onnxruntime as ort

    from eleven_nb.server.engines import piper

    engine = piper.PiperEngine(windowed=False)  # one session, the whole model, as this was measured
    if not arena:
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.enable_cpu_mem_arena = False
        engine._session = _TrimmedAfterEachCall(ort.InferenceSession(
            engine._session._model_path, options, providers=["CPUExecutionProvider"]))
    return engine


def peak_child(arena: bool) -> None:
    """Run in a fresh process: print the idle, peak and after RSS for the Arabic message, as JSON."""
    from eleven_nb.server.engines.base import SynthesisSettings

    engine = engine_with(arena)
    list(engine.synthesize("Warm up.", "joe", SynthesisSettings()))
    idle = status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM from here
    list(engine.synthesize(ARABIC, "joe", SynthesisSettings()))
    print(json.dumps({"idle": idle, "peak": status_mb("VmHWM"), "after": status_mb("VmRSS")}))


def first_phrase(repeats: int) -> dict[bool, list[float]]:
    from eleven_nb.server.engines.base import SynthesisSettings

    engines = {arena: engine_with(arena) for arena in (True, False)}
    times: dict[bool, list[float]] = {True: [], False: []}
    for i in range(repeats + 2):
        for arena in ((True, False) if i % 2 else (False, True)):
            started = time.perf_counter()
            next(iter(engines[arena].synthesize(FIRST, "joe", SynthesisSettings())))
            if i >= 2:  # the first two are warm-up
                times[arena].append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=14)
    parser.add_argument("--child", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        peak_child(args.child == "on")
        return
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    peaks = {way: json.loads(subprocess.run([sys.executable, __file__, "--child", way], check=True,
                                            capture_output=True, text=True).stdout.strip().splitlines()[-1])
             for way in ("off", "on")}
    times = first_phrase(args.repeats)
    from eleven_nb.server.engines.piper import MAX_CALL_PHONEMES
    rows = [f"| arena {'on, shrunk after large calls' if arena else 'off'} | "
            f"{statistics.median(times[arena]):.1f} | {peaks['on' if arena else 'off']['idle']:.0f} | "
            f"{peaks['on' if arena else 'off']['peak']:.0f} | {peaks['on' if arena else 'off']['after']:.0f} |"
            for arena in (False, True)]
    body = (f"{machine_line()} Load average at start: {load}. piper (joe), {MAX_CALL_PHONEMES} phonemes per "
            f"model call. First phrase: \"{FIRST.strip()}\", median of {args.repeats} calls per way, "
            "alternating, in one process. Memory: one 301-character Arabic message, a fresh process per way "
            "(the engine alone, no server).\n\n"
            "| way | first phrase (ms) | idle MB | peak MB | after MB |\n|---|---|---|---|---|\n" + "\n".join(rows) +
            f"\n\nAll first-phrase times (ms): off {[round(t) for t in times[False]]}, "
            f"on {[round(t) for t in times[True]]}.")
    print(body)
    write_section("Engines: onnxruntime's arena (piper)", body)


if __name__ == "__main__":
    main()
