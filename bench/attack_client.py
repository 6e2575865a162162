"""Client hardening figures: memory on long streams, pacing past the server's buffer, and waits
against misbehaving servers.

    python bench/attack_client.py [--chars 60000] [--long-chars 200000]

1. Client peak RSS for a ``--chars`` stream with ``max_buffered_chunks=10`` against the local
   espeak-ng server, measured in a fresh child process per way of consuming it: iterating the
   stream, event handlers (listeners) only, and nobody reading until the end. Goal ≤ 150 MB.
2. A ``--long-chars`` text (over the server's 100,000-character buffer) sent with ``send()``:
   it must speak to the end; client and server peak RSS.
3. Every client wait against a silent, garbage-sending or mute server ends with a typed error
   within its deadline (short deadlines here; the defaults are 30 s).

Writes a section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line, start_server, write_section
from eleven_nb import protocol
from eleven_nb.client import socket as socket_module
from eleven_nb.client.endpoint import Endpoint
from eleven_nb.client.socket import Socket
from eleven_nb.protocol import ConnectionOptions

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "again"]


def long_text(chars: int) -> list[str]:
    """Sentences of short words, about 80 characters each, ``chars`` in all."""
    pieces, total, i = [], 0, 0
    while total < chars:
        sentence = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(14)).capitalize() + ". "
        pieces.append(sentence)
        total += len(sentence)
        i += 1
    return pieces


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def server_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- 1 and 2: a long stream in a child process ----------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.messages = 0

    def on_message(self, data, parsed) -> None:
        self.messages += 1


async def stream_child(url: str, chars: int, mode: str, fmt: str) -> dict:
    socket = Socket(Endpoint("custom", url), protocol.DEFAULT_VOICE_ID, protocol.STREAM_INPUT,
                    ConnectionOptions(output_format=fmt, sync_alignment=True), max_buffered_chunks=10)
    counter = Counter()
    if mode == "handlers":
        socket.listeners.append(counter)
    pieces = long_text(chars)
    started = time.perf_counter()
    await socket.open()
    track = socket.track(None)  # what `async for chunk in stream` reads
    got = 0

    async def read() -> None:
        nonlocal got
        with contextlib.suppress(StopAsyncIteration):
            while await track.queue.get():
                got += 1

    reader = asyncio.create_task(read()) if mode == "iterate" else None
    await socket.send(protocol.initialize_connection())
    for piece in pieces:
        await socket.send(protocol.send_text(piece))  # paced by the alignment
    await socket.send(protocol.close_connection())
    await wait_final(track, 3600)
    if reader is not None:
        await reader
    await socket.aclose()
    spoken = track.timeline.text == "".join(pieces)
    return {"mode": mode, "chars": sum(map(len, pieces)), "spoken": spoken, "chunks": got or counter.messages,
            "audio_s": track.timeline.audio_ms / 1000, "seconds": time.perf_counter() - started,
            "peak_mb": peak_rss_mb(), "kept": len(track.audio_chunks)}


async def wait_final(track, timeout: float) -> None:
    """What ``stream.wait()`` does: the final (or the end), then the stream's error if it failed."""
    await asyncio.wait_for(track.final.wait(), timeout)
    if track.error is not None:
        raise track.error


def run_child(url: str, chars: int, mode: str, fmt: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", url, "--chars", str(chars), "--mode", mode,
                          "--format", fmt], capture_output=True, text=True, timeout=1800, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- 3: misbehaving servers -----------------------------------------------------------------


async def silent(request):
    ws = web.WebSocketResponse(autoping=False)
    await ws.prepare(request)
    await asyncio.sleep(60)
    return ws


def sends(frame: str):
    async def handler(request):
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        await ws.receive()
        await ws.send_str(frame)
        await asyncio.sleep(60)
        return ws
    return handler


async def mute_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.read(65536)  # the upgrade request; no answer, ever
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        writer.close()


async def attack(name: str, handler, deadline: float, *, close: bool, **socket_args) -> tuple:
    if handler is None:
        server = await asyncio.start_server(mute_tcp, "127.0.0.1", 0)
        port, cleanup = server.sockets[0].getsockname()[1], server.close
    else:
        app = web.Application()
        app.router.add_get("/v1/text-to-speech/{voice}/stream-input", handler)
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port, cleanup = site._server.sockets[0].getsockname()[1], runner.cleanup
    socket = Socket(Endpoint("custom", f"http://127.0.0.1:{port}"), protocol.DEFAULT_VOICE_ID,
                    protocol.STREAM_INPUT, ConnectionOptions(output_format="pcm_16000"), keepalive=False,
                    **socket_args)
    started = time.perf_counter()
    try:
        await socket.open()
        await socket.send(protocol.initialize_connection())
        await socket.send(protocol.send_text("Is anybody there? "))
        if close:
            await socket.send(protocol.close_connection())
        await wait_final(socket.track(None), deadline * 2 + 10)  # a hang shows as asyncio's own timeout
        outcome = "no error (!)"
    except Exception as exc:  # noqa: BLE001 - the point is to see what the wait ended with
        outcome = f"{type(exc).__module__.split('.')[0]}.{type(exc).__qualname__}"
    elapsed = time.perf_counter() - started
    await socket.aclose()
    result = cleanup()
    if asyncio.iscoroutine(result):
        await result
    return name, deadline, elapsed, outcome


async def attacks() -> list[tuple]:
    socket_module.CLOSE_GRACE = 1.0
    error = json.dumps(protocol.ProtocolError.of("invalid_api_key").to_message())
    return [
        await attack("silent after end of stream (receive deadline)", silent, 2.0, close=True,
                     receive_timeout=2.0, heartbeat=None),
        await attack("silent, nothing owed (heartbeat)", silent, 1.5, close=False, heartbeat=1.0),
        await attack("not JSON", sends("not json"), 0.0, close=False),
        await attack("JSON nested 100,000 deep", sends("[" * 100_000 + "]" * 100_000), 0.0, close=False),
        await attack("invalid base64 audio", sends('{"audio": "@@@", "isFinal": null}'), 0.0, close=False),
        await attack("NaN alignment time", sends('{"audio": "AAAA", "alignment": {"chars": ["a"], '
                                                 '"charStartTimesMs": [NaN], "charDurationsMs": [1]}}'),
                     0.0, close=False),
        await attack("error frame, never closes", sends(error), 1.0, close=False),
        await attack("handshake never answered", None, 2.0, close=False, connect_timeout=2.0),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chars", type=int, default=60_000)
    parser.add_argument("--long-chars", type=int, default=200_000)
    parser.add_argument("--format", default="pcm_16000")
    parser.add_argument("--mode", default="iterate")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(stream_child(args.child, args.chars, args.mode, args.format))))
        return

    proc, url = start_server("espeak")
    try:
        memory = [run_child(url, args.chars, mode, args.format) for mode in ("iterate", "handlers", "nobody")]
        long = run_child(url, args.long_chars, "iterate", "ulaw_8000")
        server_mb = server_peak_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    waits = asyncio.run(attacks())

    rows = "\n".join(f"| {m['mode']} | {m['chars']:,} | {m['audio_s']:,.0f} s | {m['chunks']:,} | {m['kept']} | "
                     f"{'yes' if m['spoken'] else 'NO'} | {m['peak_mb']:.0f} MB |" for m in memory)
    wait_rows = "\n".join(f"| {name} | {deadline:g} s | {elapsed:.2f} s | {outcome} |"
                          for name, deadline, elapsed, outcome in waits)
    body = (f"{machine_line()}\n\n"
            f"Long stream, `max_buffered_chunks=10`, {args.format}, espeak-ng server, one child process each "
            f"(goal: peak RSS ≤ 150 MB):\n\n"
            f"| consumer | characters | audio | chunks | audio chunks kept | spoken to the end | client peak RSS |\n"
            f"|---|---|---|---|---|---|---|\n{rows}\n\n"
            f"Paced sending: {long['chars']:,} characters (ulaw_8000, {long['audio_s'] / 3600:.1f} h of audio) "
            f"{'spoke to the end' if long['spoken'] else 'did NOT speak to the end'} in {long['seconds']:.0f} s; "
            f"client peak RSS {long['peak_mb']:.0f} MB, server peak RSS {server_mb:.0f} MB over the whole run.\n\n"
            f"Waits against misbehaving loopback servers (goal: each ends with a typed error within its "
            f"deadline; 0 s = at once):\n\n"
            f"| server | deadline | ended after | error |\n|---|---|---|---|\n{wait_rows}\n")
    print(body)
    write_section("Client hardening", body)


if __name__ == "__main__":
    main()
