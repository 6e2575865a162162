"""How soon a freshly started local server speaks: its first engine's voice, and another engine's.

Each start is a new ``python -m eleven_nb server`` process (what a kernel starts when no shared
server is running). Measured from the spawn: the announce line (listening), the first audio frame
of a short sentence in the first engine's voice, then the first audio frame in a voice of another
engine (which, since the other engines load in the background, may wait for its engine).

``--src`` runs the server from another source tree (for example a ``git worktree`` of an older
commit) beside this one; the trees alternate, so the machine's drift hits both alike.

    python bench/bench_server_start.py [--engine piper] [--repeats 6] [--src OLD_TREE] [--write]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine_line, write_section  # noqa: E402
from eleven_nb.spawn import spawn_server  # noqa: E402

OTHER_VOICE = {"piper": "heart", "hibari": "joe"}  # a voice of the engine loaded after the first
FIRST_VOICE = {"piper": "joe", "hibari": "heart"}
TEXT = "Streaming speech starts here. "


async def first_audio_ms(url: str, voice: str, t0: float) -> float:
    """ms from ``t0`` to the first audio frame of ``TEXT`` in ``voice``."""
    ws_url = url.replace("http://", "ws://") + f"/v1/text-to-speech/{voice}/stream-input?output_format=pcm_22050"
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(ws_url, timeout=aiohttp.ClientWSTimeout(ws_close=30)) as ws:
            await ws.send_str(json.dumps({"text": " "}))
            await ws.send_str(json.dumps({"text": TEXT, "flush": True}))
            async with asyncio.timeout(60):
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data).get("audio"):
                        return 1000 * (time.perf_counter() - t0)
    raise RuntimeError(f"no audio from {voice}")


def one_start(engine: str, src: Path) -> dict[str, float]:
    env = {"PYTHONPATH": str(src)}  # the tree's eleven_nb comes first on the child's path
    here = os.getcwd()
    os.chdir(src)  # ``python -m`` puts the working directory before PYTHONPATH
    try:
        t0 = time.perf_counter()
        server = spawn_server(engine, env=env, timeout=120)
    finally:
        os.chdir(here)
    try:
        listening = 1000 * (time.perf_counter() - t0)
        first = asyncio.run(first_audio_ms(server.url, FIRST_VOICE[engine], t0))
        other = asyncio.run(first_audio_ms(server.url, OTHER_VOICE[engine], t0))
    finally:
        server.stop()
    return {"listening": listening, "first voice's first audio": first, "other engine's first audio": other}


def commit_of(tree: Path) -> str:
    """The tree's commit as a column name (``+`` when it has uncommitted changes, results aside)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or str(tree)
    return head + ("+" if git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/RESULTS.md") else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=sorted(FIRST_VOICE), default="piper")
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--src", type=Path, help="another source tree to compare with, alternating")
    parser.add_argument("--write", action="store_true", help="also put the table in bench/RESULTS.md")
    args = parser.parse_args()
    trees = {commit_of(ROOT): ROOT, **({commit_of(args.src): args.src.resolve()} if args.src else {})}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    for i in range(args.repeats):
        for name in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
            runs[name].append(one_start(args.engine, trees[name]))
            print(name, {k: round(v) for k, v in runs[name][-1].items()}, flush=True)
    measures = list(next(iter(runs.values()))[0])
    lines = ["| ms after the spawn (median) | " + " | ".join(trees) + " |", "|---" * (len(trees) + 1) + "|"]
    for m in measures:
        lines.append(f"| {m} | " + " | ".join(f"{statistics.median(r[m] for r in runs[n]):.0f}" for n in trees) + " |")
    body = (f"{machine_line()} Load average at start: {load}.\n\n"
            f"`python bench/bench_server_start.py --engine {args.engine} --repeats {args.repeats}`: a new server "
            f"process each time, first engine {args.engine} ({FIRST_VOICE[args.engine]}), then a voice of "
            f"another engine ({OTHER_VOICE[args.engine]}); the trees alternate.\n\n" + "\n".join(lines) +
            "\n\nAll runs: " + json.dumps({n: [{k: round(v) for k, v in r.items()} for r in rs]
                                           for n, rs in runs.items()}) + ".")
    print(body)
    if args.write:
        write_section(f"Server start: the first audio of a freshly started server ({args.engine} first)", body)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
