"""Client overhead: messages parsed per second, and added latency per chunk against bare aiohttp.

    python bench/bench_client.py [--messages 20000] [--chunks 2000]

1. Parse rate: realistic audio messages (0.5 s of pcm_22050 with alignment, as the local server sends)
   through the client's whole receive path (parse, base64, alignment, timeline, queue), in process.
2. Latency: a sender process streams the same messages, each stamped (in its first audio bytes) with
   CLOCK_MONOTONIC (shared by processes on Linux), every 2 ms. Side by side in one run, alternating: a bare aiohttp loop
   (``json.loads`` only) and the eleven_nb client (``async for chunk in stream``). Latency = arrival
   in user code − stamp.

Writes a section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import socket
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line, write_section
from eleven_nb import protocol
from eleven_nb.alignment import Alignment
from eleven_nb.client.endpoint import Endpoint
from eleven_nb.client.socket import Socket
from eleven_nb.client.tracks import Track
from eleven_nb.protocol import ConnectionOptions

_TEXT = "Streaming speech, word by word. "
_PCM = (np.sin(np.arange(11021) / 7) * 8000).astype("<i2").tobytes()  # with the stamp: 0.5 s at 22050 Hz
_ALIGNMENT = Alignment(tuple(_TEXT), tuple(i * 15.0 for i in range(len(_TEXT))), (15.0,) * len(_TEXT))


def sample_message(seq: int = 0, stamp: float = 0.0) -> dict:
    """0.5 s of pcm_22050 with alignment; its first 8 bytes of audio carry ``stamp`` (the send time)."""
    return protocol.audio_message(struct.pack("<d", stamp) + _PCM, _ALIGNMENT, _ALIGNMENT) | {"seq": seq}


def parse_rate(count: int) -> float:
    raw = json.dumps(sample_message())
    track = Track(None, protocol.parse_output_format("pcm_22050"), decode=False, use_normalized=False)
    start = time.perf_counter()
    for _ in range(count):
        data = json.loads(raw)
        track.feed(protocol.parse_server_message(data))
    return count / (time.perf_counter() - start)


# --- the sender (a child process) -----------------------------------------------------------


async def sender(port: int, chunks: int) -> None:
    from aiohttp import web


    async def stream(request):
        ws = web.WebSocketResponse(max_msg_size=protocol.MAX_INPUT_FRAME)
        await ws.prepare(request)
        await ws.receive()  # the first message
        for seq in range(chunks):
            await ws.send_str(json.dumps(sample_message(seq, time.monotonic())))
            await asyncio.sleep(0.002)
        await ws.send_str(json.dumps(protocol.final_message()))
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/v1/text-to-speech/{voice}/stream-input", stream)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.sleep(3600)


async def bare(url: str) -> list[float]:
    lat = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=protocol.CLIENT_MAX_FRAME) as ws:
        await ws.send_str(protocol.dumps(protocol.initialize_connection()))
        async for msg in ws:
            data = json.loads(msg.data)
            if data.get("audio"):
                stamp = struct.unpack("<d", base64.b64decode(data["audio"])[:8])[0]
                lat.append((time.monotonic() - stamp) * 1000)
    return lat


async def client_side(base_url: str) -> list[float]:
    """The client's whole receive path: a socket and its stream's queue (what ``async for`` reads)."""
    socket = Socket(Endpoint("custom", base_url), "v", protocol.STREAM_INPUT,
                    ConnectionOptions(output_format="pcm_22050"), keepalive=False)
    await socket.open()
    lat = []
    try:
        await socket.send(protocol.initialize_connection())
        queue = socket.track(None).queue
        with contextlib.suppress(StopAsyncIteration):
            while chunk := await queue.get():
                if chunk.audio:
                    lat.append((time.monotonic() - struct.unpack("<d", chunk.audio[:8])[0]) * 1000)
    finally:
        await socket.aclose()
    return lat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(sender(args.serve, args.chunks))
        return

    rates = [parse_rate(args.messages) for _ in range(3)]
    with socket.socket() as probe:  # a free loopback port for the sender
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--chunks", str(args.chunks)],
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    base = f"http://127.0.0.1:{port}"
    url = f"ws://127.0.0.1:{port}/v1/text-to-speech/v/stream-input"
    bare_lat, client_lat = [], []
    try:
        for _ in range(args.rounds):
            bare_lat += asyncio.run(bare(url))
            client_lat += asyncio.run(client_side(base))
    finally:
        proc.terminate()
        proc.wait(10)

    def p(values, q):
        return float(np.percentile(values, q))

    b50, c50 = statistics.median(bare_lat), statistics.median(client_lat)
    body = (f"{machine_line()}\n\n"
            f"| measure | value |\n|---|---|\n"
            f"| messages parsed per second (full client receive path, median of 3 × {args.messages}) | "
            f"{statistics.median(rates):,.0f} (goal ≥ 5,000) |\n"
            f"| per-chunk latency, bare aiohttp loop: median / p95 (ms) | {b50:.2f} / {p(bare_lat, 95):.2f} |\n"
            f"| per-chunk latency, eleven_nb client: median / p95 (ms) | {c50:.2f} / {p(client_lat, 95):.2f} |\n"
            f"| added by the client, median (ms) | {c50 - b50:+.2f} |\n\n"
            f"Messages: 0.5 s of pcm_22050 with 33-character alignment (~30 KB of JSON), as the local server "
            f"sends them. Latency: {args.rounds} alternating rounds of {args.chunks} chunks each, sent every 2 ms "
            f"by a separate process.")
    print(body)
    write_section("Client overhead", body)


if __name__ == "__main__":
    main()
