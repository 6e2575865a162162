"""Load: many connections, five contexts each, all speaking at once, on loopback.

    python bench/load_server.py [--connections 50] [--contexts 5] [--engine espeak]

Reports failures (goal 0), p50/p95 time to first audio per context, audio
produced, wall time, and the server's peak RSS (sampled from /proc while the
load runs). The server is a child process; the run is bounded in time.
Writes a section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line, start_server, status_mb, write_section  # noqa: E402
from eleven_nb import protocol  # noqa: E402

TEXT = "Every context on every connection says this sentence, then one more short one. Done. "



async def one_connection(http, url, contexts: int, results: list, failures: list) -> None:
    try:
        async with http.ws_connect(url, max_msg_size=protocol.CLIENT_MAX_FRAME) as ws:
            started = {}
            for n in range(contexts):
                cid = f"ctx{n}"
                await ws.send_str(protocol.dumps(protocol.initialize_connection(context_id=cid)))
                started[cid] = time.perf_counter()
                await ws.send_str(protocol.dumps(protocol.send_text(TEXT, context_id=cid)))
                await ws.send_str(protocol.dumps(protocol.close_context(cid)))
            await ws.send_str(protocol.dumps(protocol.close_socket()))
            first, finals, text = {}, set(), {}
            async for msg in ws:
                m = protocol.parse_server_message(msg.data)
                if m.error:
                    failures.append(m.error.message)
                if m.audio and m.context_id not in first:
                    first[m.context_id] = time.perf_counter() - started[m.context_id]
                if m.alignment:
                    text[m.context_id] = text.get(m.context_id, "") + m.alignment.text
                if m.is_final:
                    finals.add(m.context_id)
            if ws.close_code != 1000 or len(finals) != contexts:
                failures.append(f"close {ws.close_code}, finals {len(finals)}/{contexts}")
            lost = [c for c in started if text.get(c) != TEXT]
            if lost:
                failures.append(f"text lost or changed in {lost}")
            results.extend(first.values())
    except Exception as exc:  # a failure to count, not to crash the run
        failures.append(repr(exc))


async def run(url: str, pid: int, connections: int, contexts: int, limit_s: float) -> dict:
    results: list[float] = []
    failures: list[str] = []
    peak = status_mb("VmRSS", pid)
    start = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        load = asyncio.gather(*(one_connection(http, url, contexts, results, failures) for _ in range(connections)))
        task = asyncio.ensure_future(load)
        while not task.done():
            peak = max(peak, status_mb("VmRSS", pid))
            if time.perf_counter() - start > limit_s:
                task.cancel()
                failures.append(f"not finished within {limit_s} s")
                break
            await asyncio.sleep(0.05)
        try:
            await task
        except asyncio.CancelledError:
            pass
    return {"ttfa": results, "failures": failures, "peak_rss": peak, "wall": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--contexts", type=int, default=5)
    parser.add_argument("--engine", default="espeak")
    parser.add_argument("--limit", type=float, default=300.0, help="seconds before the run is called failed")
    args = parser.parse_args()
    proc, base = start_server(args.engine, "--max-connections", str(args.connections + 10))
    try:
        url = base.replace("http", "ws") + "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/multi-stream-input" \
              "?output_format=pcm_16000&sync_alignment=true&inactivity_timeout=180"
        idle_rss = status_mb("VmRSS", proc.pid)
        out = asyncio.run(run(url, proc.pid, args.connections, args.contexts, args.limit))
    finally:
        proc.terminate()
        proc.wait(10)
    ttfa = sorted(out["ttfa"])
    p95 = ttfa[int(0.95 * (len(ttfa) - 1))] * 1000 if ttfa else float("nan")
    p50 = statistics.median(ttfa) * 1000 if ttfa else float("nan")
    streams = args.connections * args.contexts
    body = (f"{machine_line()}\n\n"
            f"| load | engine | failures | contexts with audio | TTFA p50 (ms) | TTFA p95 (ms) | wall (s) | "
            f"server RSS idle → peak (MB) |\n|---|---|---|---|---|---|---|---|\n"
            f"| {args.connections} connections × {args.contexts} contexts | {args.engine} | {len(out['failures'])} | "
            f"{len(ttfa)}/{streams} | {p50:.0f} | {p95:.0f} | {out['wall']:.1f} | "
            f"{idle_rss:.0f} → {out['peak_rss']:.0f} |\n\n"
            "TTFA here is per context, from sending its text to its first audio frame, with every context of "
            "every connection queued at once on a 2-core machine: it measures queueing under load, "
            "not single-stream latency.")
    if out["failures"]:
        body += "\n\nFailures (first 5): " + "; ".join(out["failures"][:5])
    print(body)
    write_section("Load", body)


if __name__ == "__main__":
    main()
