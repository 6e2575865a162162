"""Fuzz the local server with many generated frames and report the count.

    python bench/fuzz_server.py [--cases 5000]

Uses the same generators and rule as tests/server/test_fuzz.py (tests/fuzzing.py),
against a server in this process's background thread (espeak-ng engine). Counts
frames sent, answers by kind, and checks at the end that the server still serves
and has no task left. Writes a section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import time
from pathlib import Path

import aiohttp
from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line, write_section  # noqa: E402
from eleven_nb.server.app import build_state  # noqa: E402
from tests.conftest import ThreadedServer  # noqa: E402
from tests.fuzzing import cases, check_outcome, run_case  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=5000)
    args = parser.parse_args()
    threaded = ThreadedServer(build_state("espeak"))
    server = threaded.server
    tally: collections.Counter = collections.Counter()
    violations: list[str] = []
    started = time.perf_counter()

    @settings(max_examples=args.cases, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=cases)
    def fuzz(case):
        multi, frames = case

        async def go():
            async with aiohttp.ClientSession() as http:
                return await run_case(http, server, multi, frames)

        outcome = asyncio.run(go())
        tally["cases"] += 1
        tally["frames"] += len(frames) + 2  # the generated ones, plus the opening and closing messages
        tally["errors"] += len(outcome.errors)
        tally["accepted"] += not outcome.errors
        try:
            check_outcome(outcome, multi)
        except AssertionError as exc:
            violations.append(str(exc)[:300])

    fuzz()
    elapsed = time.perf_counter() - started

    async def healthy() -> bool:
        async with aiohttp.ClientSession() as http:
            return (await (await http.get(server.url + "/healthz")).json())["status"] == "ok"

    ok = asyncio.run(healthy())
    deadline = time.monotonic() + 10
    while server.server_tasks() and time.monotonic() < deadline:
        time.sleep(0.05)
    leaked = server.server_tasks()
    threaded.stop()
    body = (f"{machine_line()}\n\n| cases | frames sent | answered with an error | accepted | rule violations | "
            f"server healthy after | tasks left | time (s) |\n|---|---|---|---|---|---|---|---|\n"
            f"| {tally['cases']} | {tally['frames']} | {tally['errors']} | {tally['accepted']} | {len(violations)} | "
            f"{'yes' if ok else 'NO'} | {len(leaked)} | {elapsed:.0f} |")
    if violations:
        body += "\n\nFirst violation: " + violations[0]
    print(body)
    write_section("Fuzzing", body)
    sys.exit(1 if violations or leaked or not ok else 0)


if __name__ == "__main__":
    main()
