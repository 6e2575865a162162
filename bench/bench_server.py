"""Server overhead: time to first audio and throughput, local server vs the bare engine.

Same texts (9, 50, 300 characters), same engine, 1/4/8 concurrent streams,
measured side by side in one run. The server runs as a child process (as the
notebook uses it) and is asked for ``pcm_22050`` so no resampling or codec
work is counted against it beyond what a PCM stream needs.

    python bench/bench_server.py [--engine piper|espeak] [--repeats 5]

Appends a dated section to bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line, start_server, write_section  # noqa: E402
from eleven_nb import protocol  # noqa: E402
from eleven_nb.server.engines import load_engine  # noqa: E402
from eleven_nb.server.engines.base import SynthesisSettings  # noqa: E402

TEXTS = {
    9: "Hi there.",
    50: "The quick brown fox jumps over the lazy dog today.",
    300: ("Streaming speech lets a listener hear the first words while the rest is still being made. "
          "This paragraph is about three hundred characters long, with a few sentences of ordinary prose, "
          "so that both engines and the server have some real work to do."),
}


def bare_stream(engine, voice_id, text) -> tuple[float, float, float]:
    """(first utterance seconds, total seconds, audio seconds) for one synthesis."""
    start = time.perf_counter()
    first, samples = None, 0
    for utterance in engine.synthesize(text, voice_id, SynthesisSettings()):
        if first is None:
            first = time.perf_counter() - start
        samples += len(utterance.audio)
    return first, time.perf_counter() - start, samples / engine.sample_rate


def bare_round(engine, voice_id, text, streams) -> tuple[list[float], float, float]:
    barrier = threading.Barrier(streams)

    def one(_):
        barrier.wait()
        return bare_stream(engine, voice_id, text)

    start = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        results = list(pool.map(one, range(streams)))
    wall = time.perf_counter() - start
    return [r[0] for r in results], sum(r[2] for r in results), wall


async def server_stream(http, url, text, gate) -> tuple[float, float]:
    """(first audio seconds, audio seconds), timed from sending the text on an open socket."""
    async with http.ws_connect(url, max_msg_size=protocol.CLIENT_MAX_FRAME) as ws:
        await ws.send_str(protocol.dumps(protocol.initialize_connection()))
        await gate.wait()
        start = time.perf_counter()
        await ws.send_str(protocol.dumps(protocol.send_text(text + " ")))
        await ws.send_str(protocol.dumps(protocol.close_connection()))
        first, nbytes = None, 0
        async for msg in ws:
            message = protocol.parse_server_message(msg.data)
            if message.audio:
                first = first if first is not None else time.perf_counter() - start
                nbytes += len(message.audio)
        return first, nbytes / 2 / 22050


async def server_round(url, text, streams) -> tuple[list[float], float, float]:
    gate = asyncio.Event()
    async with aiohttp.ClientSession() as http:
        tasks = [asyncio.create_task(server_stream(http, url, text, gate)) for _ in range(streams)]
        await asyncio.sleep(0.3)  # all sockets open and initialised
        start = time.perf_counter()
        gate.set()
        results = await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    return [r[0] for r in results], sum(r[1] for r in results), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", default="piper")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    engine = load_engine(args.engine)
    voice_id = engine.voices()[0].voice_id
    bare_stream(engine, voice_id, TEXTS[50])  # warm up
    proc, base = start_server(args.engine)
    url = base.replace("http", "ws") + "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream-input?output_format=pcm_22050"
    rows = []
    try:
        asyncio.run(server_round(url, TEXTS[50], 1))  # warm up
        for streams in (1, 4, 8):
            for size, text in TEXTS.items():
                bare_first, srv_first, bare_tp, srv_tp = [], [], [], []
                for _ in range(args.repeats):  # alternate, so drift hits both alike
                    firsts, audio, wall = bare_round(engine, voice_id, text, streams)
                    bare_first += firsts
                    bare_tp.append(audio / wall)
                    firsts, audio, wall = asyncio.run(server_round(url, text, streams))
                    srv_first += firsts
                    srv_tp.append(audio / wall)
                b, s = statistics.median(bare_first) * 1000, statistics.median(srv_first) * 1000
                bt, st = statistics.median(bare_tp), statistics.median(srv_tp)
                rows.append(f"| {streams} | {size} | {b:.1f} | {s:.1f} | {s - b:+.1f} | {bt:.1f} | {st:.1f} | "
                            f"{st / bt:.2f} |")
                print(rows[-1], flush=True)
    finally:
        proc.terminate()
        proc.wait(10)

    table = "\n".join([
        "| streams | chars | bare first (ms) | server first (ms) | added (ms) | bare × real time | "
        "server × real time | server/bare |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ])
    write_section(
        f"Server overhead ({args.engine})",
        f"{machine_line()}\n\nMedians over {args.repeats} rounds, bare engine and server alternating in one run. "
        "First = first audio of each stream (from sending the text on an open socket; bare: from calling "
        "synthesize). × real time = aggregate audio seconds per wall second over all streams. "
        "Goals: added ≤ 25 ms; server/bare ≥ 0.90 at 4 streams.\n\n" + table,
    )


if __name__ == "__main__":
    main()
