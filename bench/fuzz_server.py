"""Fuzz the server's protocol with generated frames and report the counts and the rate.

    python bench/fuzz_server.py [--cases 20000] [--socket-cases 1000]

Uses the generators and the rule of tests/fuzzing.py (whitespace and punctuation
runs, lone surrogates, non-Latin scripts, emoji runs, context churn, malformed
frames). First it feeds the protocol state machine directly (no socket), checking
the per-socket limits after every frame; then it sends a smaller number of cases
to a real server (espeak-ng) in a background thread, and checks at the end that
the server still serves and has no task left. Writes a section of bench/RESULTS.md.
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
from bench.common import machine_line, write_section
from eleven_nb.server.app import build_state
from eleven_nb.server.thread import ServerThread as ThreadedServer
from bench.fuzzing import cases, check_outcome, run_case, run_case_direct


def fuzz(count: int, run) -> tuple[collections.Counter, list[str], float, float]:
    """Run ``count`` generated cases through ``run(multi, frames)``; (tally, violations, wall s, run s)."""
    tally: collections.Counter = collections.Counter()
    violations: list[str] = []
    spent = [0.0]

    @settings(max_examples=count, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=cases)
    def one(case):
        multi, frames = case
        started = time.perf_counter()
        try:
            outcome = run(multi, frames)
            check_outcome(outcome, multi)
        except AssertionError as exc:
            violations.append(str(exc)[:300])
            return
        finally:
            spent[0] += time.perf_counter() - started
        tally["cases"] += 1
        tally["frames"] += len(frames) + 2  # the generated ones, plus the opening and closing messages
        tally["errors"] += len(outcome.errors)
        tally["accepted"] += not outcome.errors

    started = time.perf_counter()
    one()
    return tally, violations, time.perf_counter() - started, spent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=20000, help="cases fed to the state machine")
    parser.add_argument("--socket-cases", type=int, default=1000, help="cases sent over real sockets")
    args = parser.parse_args()

    direct, direct_violations, wall, machine = fuzz(args.cases, run_case_direct)

    threaded = ThreadedServer(build_state("espeak"))
    server = threaded.server

    def over_socket(multi, frames):
        async def go():
            async with aiohttp.ClientSession() as http:
                return await run_case(http, server, multi, frames)
        return asyncio.run(go())

    sock, sock_violations, sock_wall, _ = fuzz(args.socket_cases, over_socket)

    async def healthy() -> bool:
        async with aiohttp.ClientSession() as http:
            return (await (await http.get(server.url + "/healthz")).json())["status"] == "ok"

    ok = asyncio.run(healthy())
    deadline = time.monotonic() + 10
    while server.server_tasks() and time.monotonic() < deadline:
        time.sleep(0.05)
    leaked = server.server_tasks()
    threaded.stop()
    violations = direct_violations + sock_violations
    body = (f"{machine_line()}\n\n"
            "| where | cases | frames | answered with an error | accepted | rule violations | cases/s (wall) | "
            "cases/s (state machine alone) | frames/s (state machine alone) |\n|---|---|---|---|---|---|---|---|---|\n"
            f"| state machine | {direct['cases']} | {direct['frames']} | {direct['errors']} | {direct['accepted']} | "
            f"{len(direct_violations)} | {direct['cases'] / wall:.0f} | {direct['cases'] / max(machine, 1e-9):.0f} | "
            f"{direct['frames'] / max(machine, 1e-9):.0f} |\n"
            f"| real sockets | {sock['cases']} | {sock['frames']} | {sock['errors']} | {sock['accepted']} | "
            f"{len(sock_violations)} | {sock['cases'] / sock_wall:.0f} | | |\n\n"
            f"Server healthy after: {'yes' if ok else 'NO'}; tasks left: {len(leaked)}. Wall time is mostly "
            "hypothesis generating the cases.")
    if violations:
        body += "\n\nFirst violation: " + violations[0]
    print(body)
    write_section("Fuzzing", body)
    sys.exit(1 if violations or leaked or not ok else 0)


if __name__ == "__main__":
    main()
