"""The silences a cell's speech begins with and is cut by, as the voices make them and as capped.

    python bench/bench_silences.py [--write]

A ``%%speak`` cell sends its text in generations: the first phrase (flushed at once), then sentences
(:func:`eleven_nb.chunking.chunk_text`, "sentence" mode, as the kernel does). Each generation is one
``synthesize`` call. For each text below this speaks every generation with hibari (heart), piper (joe) and
espeak-ng, two ways alternating, in one process, the same seed: the silences as the models make them, and as shipped
(hibari: each call's silence capped, ``hibari.LEAD_SILENCE_S`` and ``TAIL_SILENCE_S``; piper and espeak-ng:
the silence after a call cut mid-sentence, ``timing.OPEN_TAIL_S``).

It reports, as medians over the texts: the silence before the first sound (what a listener waits for on
top of the time to first audio), the hole where the first phrase meets the rest (mid-sentence), the
pauses at sentence ends and the whole duration. "Sound" is :func:`eleven_nb.server.engines.timing
.sound_bounds`: 10 ms blocks louder than 8 % of the RMS.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line, write_section  # noqa: E402
from eleven_nb.chunking import chunk_text  # noqa: E402
from eleven_nb.server.engines import hibari, load_engine, timing  # noqa: E402
from eleven_nb.server.engines.base import SynthesisSettings  # noqa: E402
from eleven_nb.server.engines.timing import sound_bounds  # noqa: E402

TEXTS = [
    "Streaming speech lets a listener hear the first words while the rest is still being made. "
    "This paragraph is about three hundred characters long, with a few sentences of ordinary prose.",
    "Good morning! Today we will look at three things: the data, the model, and the results. Ready?",
    "The kernel starts the server once, and every later cell reuses it. That is why the second cell is fast.",
    "Numbers such as 1,250 or 3.5 percent are read out in full. So are dates like March 3rd, 2024.",
    "She said, \"it works,\" and then, after a pause, \"most of the time.\" Nobody laughed.",
]
BLOCK_MS = 10


def quiet_runs(pcm: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """(start ms, length ms) of every quiet stretch between the first and the last sound."""
    block = rate * BLOCK_MS // 1000
    x = pcm[:len(pcm) // block * block].astype(np.float64).reshape(-1, block)
    loud = np.sqrt(np.mean(x ** 2, axis=1)) > max(100.0, 0.08 * float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))))
    runs, start = [], None
    for i, is_loud in enumerate(loud):
        if not is_loud and start is None:
            start = i
        elif is_loud and start is not None:
            runs.append((start * BLOCK_MS, (i - start) * BLOCK_MS))
            start = None
    return [r for r in runs if r[0] > 0]  # the first is the leading silence, counted on its own


def edges(pcm: np.ndarray, rate: int) -> tuple[float, float]:
    """ms of silence before the first sound and after the last (all of it when there is none)."""
    bounds = sound_bounds(pcm, rate)
    if bounds is None:
        return len(pcm) * 1000 / rate, 0.0
    return bounds[0] * 1000 / rate, (len(pcm) - bounds[1]) * 1000 / rate


def speak(engine, voice: str, text: str, seed: int) -> dict[str, float]:
    generations = chunk_text(text, "sentence")
    rate = engine.sample_rate
    audio = [np.concatenate([u.audio for u in engine.synthesize(g, voice, SynthesisSettings(seed=seed))])
             for g in generations]
    quiet = [edges(a, rate) for a in audio]
    # the silence where generation k meets k + 1: its tail and the next one's lead
    seams = [(generations[k], quiet[k][1] + quiet[k + 1][0]) for k in range(len(audio) - 1)]
    sentence = [ms for g, ms in seams if g.rstrip()[-1:] in ".!?\"”"]
    whole = np.concatenate(audio)
    return {"lead_ms": quiet[0][0], "seam_ms": seams[0][1] if seams else float("nan"),
            "sentence_pause_ms": statistics.median(sentence) if sentence else float("nan"),
            "longest_quiet_ms": max((length for _, length in quiet_runs(whole, rate)), default=0.0),
            "duration_s": len(whole) / rate}


def as_made(on: bool, capped: dict) -> None:
    """The engines' silences as their models make them (``on``), or capped as shipped."""
    hibari.LEAD_SILENCE_S = 60.0 if on else capped["lead"]
    hibari.TAIL_SILENCE_S.update({key: 60.0 for key in capped["tail"]} if on else capped["tail"])
    timing.OPEN_TAIL_S = 60.0 if on else capped["open"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="write the section of bench/RESULTS.md")
    args = parser.parse_args()
    engines = {"hibari": (load_engine("hibari"), "heart"), "piper": (load_engine("piper"), "joe"),
               "espeak-ng": (load_engine("espeak"), "espeak-en-us")}
    capped = {"lead": hibari.LEAD_SILENCE_S, "tail": dict(hibari.TAIL_SILENCE_S), "open": timing.OPEN_TAIL_S}
    ways: dict[str, list[dict[str, float]]] = {f"{e}, {w}": [] for e in engines for w in ("as made", "capped")}
    try:
        for k, text in enumerate(TEXTS):
            for way in (("as made", "capped") if k % 2 else ("capped", "as made")):
                as_made(way == "as made", capped)
                for name, (engine, voice) in engines.items():
                    ways[f"{name}, {way}"].append(speak(engine, voice, text, seed=k))
    finally:
        as_made(False, capped)
    columns = ("lead_ms", "seam_ms", "sentence_pause_ms", "longest_quiet_ms", "duration_s")
    table = ("| way | silence before the first sound (ms) | first phrase to the rest, silence (ms) | "
             "pause at a sentence end (ms) | longest silence (ms) | duration (s) |\n|---|---|---|---|---|---|\n")
    for way, runs in ways.items():
        cells = []
        for c in columns:
            values = [r[c] for r in runs if r[c] == r[c]]
            cells.append(f"{statistics.median(values):.2f}" if c == "duration_s" else f"{statistics.median(values):.0f}")
        table += f"| {way} | " + " | ".join(cells) + " |\n"
    raw = {way: [{c: round(r[c], 2) for c in columns} for r in runs] for way, runs in ways.items()}
    body = (f"{machine_line()}\n\n`python bench/bench_silences.py`: {len(TEXTS)} texts, each cut into generations as "
            "`%%speak` sends them (the flushed first phrase, then sentences), each generation one `synthesize` "
            "call; two ways alternating in one process, same seed; medians over the texts. Sound: 10 ms "
            "blocks above 8 % of the RMS.\n\n" + table + f"\nAll runs: {raw}\n")
    print(body)
    if args.write:
        write_section("Engines: the silences before, inside and between generations", body)


if __name__ == "__main__":
    main()
