"""piper's first phrase decoded in windows (the head first) against whole: first utterance, total, seam, memory.

    python bench/bench_piper_window.py [--repeats 14]

In one process, two engines on the same voice: ``PiperEngine()`` (the model cut at its decoder, the first
sentence's head decoded alone, eleven_nb/server/engines/piper_window.py) and ``PiperEngine(windowed=False)``
(the whole model, as before). Each text is spoken by each in turn, alternating which goes first, with the
same seed per round; reported: the time from the ``synthesize()`` call to its first utterance, and to its
last. Texts: the brief's sentence, and the notebook's 20-character first phrase. Then the seam: the
phrase's latent decoded in two windows against whole (float SNR), and the two engines' int16 audio for
the same seed (SNR after matching levels, and the level difference). Then, in a fresh process per way,
the peak RSS (VmHWM) while a 300-character English text is spoken. Writes a section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line, status_mb, write_section  # noqa: E402

SENTENCE = "Streaming speech lets a notebook read aloud as it writes."
FIRST = "Streaming speech lets "
LONG = ("Streaming speech lets a notebook read aloud as it writes. The server speaks each sentence as soon as "
        "it is ready, and the player schedules the audio without gaps. Local voices run offline on the CPU, so "
        "the first words should come quickly, even on a small laptop with two cores and little memory to spare.")[:300]


def engines():
    from eleven_nb.server.engines.piper import PiperEngine

    return {"windowed": PiperEngine(), "whole": PiperEngine(windowed=False)}


def timed(engines, text: str, repeats: int) -> dict[str, dict[str, list[float]]]:
    """Per way: ms to the first utterance and to the last, ``repeats`` alternating rounds after two warm-ups."""
    from eleven_nb.server.engines.base import SynthesisSettings

    times: dict[str, dict[str, list[float]]] = {way: {"first": [], "total": []} for way in engines}
    for i in range(repeats + 2):
        for way in (("windowed", "whole") if i % 2 else ("whole", "windowed")):
            started = time.perf_counter()
            steps = engines[way].synthesize(text, "joe", SynthesisSettings(seed=i))
            next(steps)
            first = time.perf_counter()
            for _ in steps:
                pass
            if i >= 2:
                times[way]["first"].append((first - started) * 1000)
                times[way]["total"].append((time.perf_counter() - started) * 1000)
    return times


def split_cost(engines, repeats: int) -> dict[str, list[float]]:
    """ms of one model call on the sentence: the whole model against its encoder then its decoder
    (what the windowed engine runs for every later sentence), alternating, after two warm-ups."""
    from eleven_nb.server.engines.base import SynthesisSettings

    windowed, whole = engines["windowed"], engines["whole"]
    phonemes = [p for p in windowed._voice.phonemize(SENTENCE) if p][0]
    feeds, _ = windowed._feeds(phonemes, windowed._scales(SynthesisSettings()), np.random.default_rng(0))
    ways = {"whole": lambda: whole._session.run(None, feeds),
            "encoder + decoder": lambda: windowed._split.decoder.run(
                None, {"latent": windowed._split.encoder.run(None, feeds)[0]})}
    times: dict[str, list[float]] = {way: [] for way in ways}
    for i in range(repeats + 2):
        for way in (list(ways) if i % 2 else list(ways)[::-1]):
            started = time.perf_counter()
            ways[way]()
            if i >= 2:
                times[way].append((time.perf_counter() - started) * 1000)
    return times


def snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    error = other.astype(np.float64) - reference
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / max(np.sum(error ** 2), 1e-30)))


def seam(engines) -> dict[str, float]:
    """The windows against the whole decode (float), and the engines' int16 audio for five seeds."""
    from eleven_nb.server.engines.base import SynthesisSettings

    windowed = engines["windowed"]
    heads, floats, pcms, levels, seams = [], [], [], [], []
    for seed in range(5):
        utterances = list(windowed.synthesize(SENTENCE, "joe", SynthesisSettings(seed=seed)))
        heads.append(len(utterances[0].audio))
        cut = len(utterances[0].audio) // 256
        feeds, _ = windowed._feeds([p for p in windowed._voice.phonemize(SENTENCE) if p][0],
                                   windowed._scales(SynthesisSettings()), np.random.default_rng(seed))
        latent, _ = windowed._split.encode(feeds, large=False)
        one = windowed._split.decode(latent, 0, latent.shape[-1])
        two = np.concatenate([windowed._split.decode(latent, 0, cut), windowed._split.decode(latent, cut, latent.shape[-1])])
        floats.append(snr_db(one, two))
        around = slice((cut - 4) * 256, (cut + 4) * 256)
        seams.append(float(np.max(np.abs(one[around] - two[around])) / np.max(np.abs(one))))
        a = np.concatenate([u.audio for u in utterances]).astype(np.float64)
        b = np.concatenate([u.audio for u in engines["whole"].synthesize(SENTENCE, "joe", SynthesisSettings(seed=seed))])
        gain = float(np.dot(a, b) / np.dot(a, a))
        pcms.append(snr_db(b.astype(np.float64), a * gain))
        levels.append(-20 * np.log10(gain))
    return {"head_ms": statistics.median(heads) / 22.05, "float_snr": min(floats), "seam": max(seams),
            "pcm_snr": min(pcms), "level_min": min(levels), "level_max": max(levels)}


def peak_child(way: str) -> None:
    """Run in a fresh process: idle, peak and after RSS while the 300-character text is spoken, as JSON."""
    from eleven_nb.server.engines.base import SynthesisSettings
    from eleven_nb.server.engines.piper import PiperEngine

    engine = PiperEngine(windowed=way == "windowed")
    list(engine.synthesize("Warm up, then speak.", "joe", SynthesisSettings()))
    idle = status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM from here
    list(engine.synthesize(LONG, "joe", SynthesisSettings()))
    print(json.dumps({"idle": idle, "peak": status_mb("VmHWM"), "after": status_mb("VmRSS")}))


def row(name: str, runs: list[float]) -> str:
    return f"{name} {statistics.median(runs):.0f} ({', '.join(str(round(t)) for t in runs)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=14)
    parser.add_argument("--child", choices=("windowed", "whole"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        peak_child(args.child)
        return
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    peaks = {way: json.loads(subprocess.run([sys.executable, __file__, "--child", way], check=True,
                                            capture_output=True, text=True).stdout.strip().splitlines()[-1])
             for way in ("whole", "windowed")}
    both = engines()
    runs = {text: timed(both, text, args.repeats) for text in (SENTENCE, FIRST)}
    quality = seam(both)
    cost = split_cost(both, args.repeats)
    table = ["| text | way | first utterance, median ms | all utterances, median ms |", "|---|---|---|---|"]
    for text, times in runs.items():
        for way in ("whole", "windowed"):
            table.append(f"| \"{text.strip()}\" | {way} | {statistics.median(times[way]['first']):.0f} | "
                         f"{statistics.median(times[way]['total']):.0f} |")
    memory = ["| way | idle MB | peak MB | after MB |", "|---|---|---|---|"]
    memory += [f"| {way} | {peaks[way]['idle']:.0f} | {peaks[way]['peak']:.0f} | {peaks[way]['after']:.0f} |"
               for way in ("whole", "windowed")]
    all_runs = "\n".join(f"- \"{text.strip()}\", {kind}: " + "; ".join(row(way, times[way][kind])
                                                                        for way in ("whole", "windowed"))
                         for text, times in runs.items() for kind in ("first", "total"))
    body = (f"{machine_line()} Load average at start: {load}. piper (joe). `PiperEngine()` (the model cut at "
            "its decoder; the first sentence's head, its words up to a word start in 0.3-0.8 s, decoded alone "
            f"with {both['windowed']._split.context} frames of context) against `PiperEngine(windowed=False)` "
            "(the whole model, as before): "
            f"{args.repeats} calls per way and text, alternating, in one process, the same seed per round.\n\n"
            + "\n".join(table) + "\n\nAll runs (ms, in order):\n\n" + all_runs +
            f"\n\nSeam (\"{SENTENCE}\", seeds 0-4; the head is {quality['head_ms']:.0f} ms of audio): the latent "
            f"decoded in two windows against whole, SNR >= {quality['float_snr']:.0f} dB, largest difference "
            f"within 4 frames of the seam {quality['seam']:.1e} of the peak. The two engines' int16 audio for "
            f"the same seed: SNR >= {quality['pcm_snr']:.0f} dB once levels are matched; the windowed phrase is "
            f"{quality['level_min']:+.1f} to {quality['level_max']:+.1f} dB against the whole call's (its gain "
            "comes from the head's peak, floored).\n\n"
            "One model call on the sentence (what every later sentence costs), the whole model against its "
            "encoder then its decoder, median ms (runs): " + "; ".join(row(way, runs) for way, runs in cost.items())
            + ".\n\n"
            f"Memory: one {len(LONG)}-character English text, a fresh process per way (the engine alone):\n\n"
            + "\n".join(memory))
    print(body)
    write_section("Engines: piper's first phrase decoded in windows", body)


if __name__ == "__main__":
    main()
