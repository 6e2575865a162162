"""What one large HTTP text-to-speech request costs the local server.

    python bench/bench_http.py [--chars 25000 100000] [--before SOURCE_TREE] [--write]

For each endpoint (convert, ``/with-timestamps``) and text length, one request for
``pcm_48000`` (the largest raw answer) to an espeak-ng server in a child process,
read to its end, while a second client asks ``/healthz`` every 20 ms: the longest
``/healthz`` answer is how long the event loop was held. Reported: time to the first
byte and to the end, the server's CPU time, the longest ``/healthz``, and the server's
RSS before, at its peak (sampled every 100 ms) and after. Bounded in time; the
server is stopped by PID.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line, status_mb, write_section  # noqa: E402
from eleven_nb.spawn import spawn_server  # noqa: E402

SENTENCE = "The quick brown fox jumps over the lazy dog. "
ENDPOINTS = {"convert": "", "/with-timestamps": "/with-timestamps"}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 1/100 s


async def one(url: str, pid: int, endpoint: str, chars: int) -> dict:
    text = (SENTENCE * (chars // len(SENTENCE) + 1))[:chars]
    done = asyncio.Event()
    pings: list[float] = []
    peak = [status_mb("VmRSS", pid)]

    async def ping(http: aiohttp.ClientSession) -> None:
        while not done.is_set():
            began = time.perf_counter()
            async with http.get(f"{url}/healthz") as response:
                await response.read()
            pings.append(time.perf_counter() - began)
            await asyncio.sleep(0.02)

    async def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], status_mb("VmRSS", pid))
            await asyncio.sleep(0.1)

    async with aiohttp.ClientSession() as http, aiohttp.ClientSession() as pinger:
        before, cpu = status_mb("VmRSS", pid), cpu_seconds(pid)
        tasks = [asyncio.create_task(ping(pinger)), asyncio.create_task(watch())]
        began, first, size = time.perf_counter(), None, 0
        async with http.post(f"{url}/v1/text-to-speech/espeak-en-us{endpoint}", params={"output_format": "pcm_48000"},
                             json={"text": text}, timeout=aiohttp.ClientTimeout(total=900)) as response:
            assert response.status == 200, await response.text()
            async for chunk in response.content.iter_any():
                first = first or time.perf_counter() - began
                size += len(chunk)
        total = time.perf_counter() - began
        done.set()
        await asyncio.gather(*tasks)
    await asyncio.sleep(1.5)  # the memory handed back after a long request (a trim, off the loop)
    return {"first byte (s)": first, "total (s)": total, "server CPU (s)": cpu_seconds(pid) - cpu,
            "longest /healthz (ms)": 1000 * max(pings), "answer (MB)": size / 1e6, "RSS before (MB)": before,
            "RSS peak (MB)": peak[0], "RSS after (MB)": status_mb("VmRSS", pid)}


async def run_server(way: str, chars: list[int], env: dict[str, str] | None = None) -> list[tuple[str, str, int, dict]]:
    child = spawn_server("espeak", env=env)
    try:
        async with aiohttp.ClientSession() as http:  # warm the engine and the encoder
            async with http.post(f"{child.url}/v1/text-to-speech/espeak-en-us", json={"text": "Warm up."}) as response:
                await response.read()
        rows = []
        for n in chars:
            for name, endpoint in ENDPOINTS.items():
                row = await asyncio.wait_for(one(child.url, child.proc.pid, endpoint, n), 900)
                print(way, name, n, {k: round(v, 2) for k, v in row.items()})
                rows.append((way, name, n, row))
        return rows
    finally:
        child.proc.terminate()
        child.proc.wait(10)
        child.drop_empty_log()


async def main_async(chars: list[int], before: str | None) -> list[tuple[str, str, int, dict]]:
    rows = await run_server("before", chars[:1], {"PYTHONPATH": before}) if before else []
    return rows + await run_server("now", chars)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, nargs="+", default=[25_000, 100_000])
    parser.add_argument("--before", metavar="SOURCE_TREE", help="also run a server from this source tree")
    parser.add_argument("--write", action="store_true", help="write the section of bench/RESULTS.md")
    args = parser.parse_args()
    rows = asyncio.run(main_async(args.chars, args.before))
    if args.write:
        keys = list(rows[0][3])
        lines = ["| code | endpoint | characters | " + " | ".join(keys) + " |", "|---|---|---|" + "---|" * len(keys)]
        lines += [f"| {way} | {name} | {n:,} | " + " | ".join(f"{v:,.2f}" if v < 10 else f"{v:,.0f}"
                                                          for v in row.values()) + " |" for way, name, n, row in rows]
        write_section("Server: one large HTTP request", f"{machine_line()}\n\n`python bench/bench_http.py"
                      f"{' --before ...' if args.before else ''}`: espeak-ng, `pcm_48000`, one request at a time, "
                      "`/healthz` asked every 20 ms meanwhile. \"before\": the code before the HTTP answers were "
                      "streamed (commit 0e50d33), in the same run.\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
