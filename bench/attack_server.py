"""Rerun the hostile-input attacks against a real server process on loopback and print the figures.

    python bench/attack_server.py [--skip-piper] [--contexts 1000]

Each attack is bounded in time. Figures (goals in brackets):
- peak server RSS for one 300-character message, piper and espeak-ng [piper <= 500 MB];
- memory after the attacks against idle [within 20 %];
- /healthz latency while the attacks run [p99 <= 50 ms];
- contexts generating at once on one socket [never above 5];
- slowloris connections closed within the handshake deadline;
- keyless sockets, with keys configured, cannot lock out a keyed client;
- a client that stops reading loses its connection.
Writes a section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine_line, start_server, status_mb, write_section
from eleven_nb import protocol

MESSAGES = {  # 301 characters each: the inputs that took gigabytes
    "English": ("The quick brown fox jumps over the lazy dog. " * 7)[:301],
    "CJK": ("日本語の文章を読み上げます。中文句子也在这里。" * 14)[:301],
    "emoji": "🎉😀👍🙂🚀" * 60 + "🎉",
    "Arabic": ("مرحبا بالعالم، كيف حالك اليوم؟ " * 10)[:301],
}
PLAIN = "Hello there, this is a short sentence. "



def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def ws_url(url: str, endpoint: str = "stream-input", **query: str) -> str:
    q = "&".join(f"{k}={v}" for k, v in {"output_format": "pcm_16000", **query}.items())
    return url.replace("http://", "ws://") + f"/v1/text-to-speech/{protocol.DEFAULT_VOICE_ID}/{endpoint}?{q}"


async def read_until_closed(ws: aiohttp.ClientWebSocketResponse, timeout: float) -> list[dict]:
    """Every text frame until the server closes (TimeoutError past ``timeout`` seconds)."""
    async with asyncio.timeout(timeout):
        return [json.loads(msg.data) async for msg in ws if msg.type == aiohttp.WSMsgType.TEXT]


async def speak(http: aiohttp.ClientSession, url: str, messages: list[dict], timeout: float = 120,
                **query: str) -> tuple[list[dict], int | None]:
    async with http.ws_connect(ws_url(url, **query), max_msg_size=protocol.CLIENT_MAX_FRAME) as ws:
        for message in messages:
            await ws.send_str(protocol.dumps(message))
        frames = await read_until_closed(ws, timeout)
        return frames, ws.close_code


class Probe:
    """Polls /healthz every 20 ms and keeps the latencies."""

    def __init__(self, url: str):
        self.url, self.latencies, self._task = url, [], None

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        async with aiohttp.ClientSession() as http:
            while True:
                started = time.perf_counter()
                async with http.get(self.url + "/healthz") as response:
                    await response.read()
                self.latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.02)

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")


# --- the attacks -------------------------------------------------------------------------------


async def peak_per_message(engine: str) -> list[str]:
    proc, url = start_server(engine)
    rows = []
    try:
        async with aiohttp.ClientSession() as http:
            await speak(http, url, [protocol.initialize_connection(), protocol.send_text(PLAIN), {"text": ""}])
            idle = status_mb("VmRSS", proc.pid)
            for label, text in MESSAGES.items():
                reset_peak(proc.pid)
                started = time.perf_counter()
                try:
                    _, code = await speak(http, url, [protocol.initialize_connection(), protocol.send_text(text),
                                                      {"text": ""}], timeout=90)
                except TimeoutError:
                    code = "timeout"
                rows.append(f"| {engine} | {label} | {idle:.0f} | {status_mb('VmHWM', proc.pid):.0f} | "
                            f"{time.perf_counter() - started:.1f} | {code} |")
            await asyncio.sleep(1)
            rows.append(f"| {engine} | after all four | {idle:.0f} | {status_mb('VmRSS', proc.pid):.0f} (now) | | |")
    finally:
        stop(proc)
    return rows


async def loop_attacks(http: aiohttp.ClientSession, timeout: float) -> list[str]:
    """Big or many frames that used to hold the event loop: each one's outcome and /healthz meanwhile.
    Runs on a server of its own: a synthesis that outlives its client still occupies a pool thread."""
    init, send = protocol.initialize_connection, protocol.send_text
    attacks = {
        "1 MiB frame of words": [init(), send("ab " * 340_000)],
        "99,000 spaces": [init(), send(" " * 99_000 + "end. ", flush=True), {"text": ""}],
        "4,000 frames of ', ' in auto mode": [init()] + [send(", ")] * 4000 + [{"text": ""}],
        "40,000 newlines": [init(), send("\n" * 40_000 + "end. ", flush=True), {"text": ""}],
    }
    rows = []
    proc, url = start_server("espeak")
    try:
        for label, messages in attacks.items():
            started = time.perf_counter()
            async with Probe(url) as probe:
                try:
                    frames, code = await speak(http, url, messages, timeout=timeout,
                                               **({"auto_mode": "true"} if "auto" in label else {}))
                    error = next((f["error"] for f in frames if "error" in f), "")
                except TimeoutError:
                    code, error = "-", f"not done in {timeout:.0f} s"
            rows.append(f"| {label} | {code} {error} | {time.perf_counter() - started:.1f} | {probe.p99():.0f} | "
                        f"{max(probe.latencies, default=float('nan')):.0f} |")
    finally:
        stop(proc)
    return rows


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:  # a synthesis still running in the pool holds the exit: the attack outlived its client
        proc.kill()
        proc.wait(10)


async def churn(url: str, http: aiohttp.ClientSession, count: int) -> tuple[int, str]:
    """``count`` contexts opened and closed as fast as they can be sent; the most generating at once."""
    async with http.ws_connect(ws_url(url, "multi-stream-input")) as ws:
        for i in range(count):
            await ws.send_str(protocol.dumps(protocol.initialize_connection(context_id=f"c{i}")))
            await ws.send_str(protocol.dumps(protocol.send_text(PLAIN, context_id=f"c{i}")))
            await ws.send_str(protocol.dumps(protocol.close_context(f"c{i}")))
        frames = await read_until_closed(ws, 60)
    return _most_at_once(frames), next((f["error"] for f in frames if "error" in f), "none")


def _most_at_once(frames: list[dict]) -> int:
    live, most = set(), 0
    for f in frames:
        if f.get("audio"):
            live.add(f.get("contextId"))
        elif f.get("isFinal"):
            live.discard(f.get("contextId"))
        most = max(most, len(live))
    return most


async def many_contexts(url: str, http: aiohttp.ClientSession, count: int) -> int:
    """``count`` contexts on one socket, five in flight at a time; returns the most generating at once."""
    frames: list[dict] = []
    async with http.ws_connect(ws_url(url, "multi-stream-input")) as ws:
        for start in range(0, count, 5):
            ids = [f"c{i}" for i in range(start, min(count, start + 5))]
            for cid in ids:
                await ws.send_str(protocol.dumps(protocol.initialize_connection(context_id=cid)))
                await ws.send_str(protocol.dumps(protocol.send_text("Hi. ", context_id=cid)))
                await ws.send_str(protocol.dumps(protocol.close_context(cid)))
            finals = 0
            async with asyncio.timeout(30):
                while finals < len(ids):
                    frame = json.loads((await ws.receive()).data)
                    frames.append(frame)
                    finals += bool(frame.get("isFinal"))
        await ws.send_str(protocol.dumps(protocol.close_socket()))
        await read_until_closed(ws, 10)
    return _most_at_once(frames)


def slowloris(url: str, count: int, deadline: float) -> tuple[int, float]:
    """``count`` connections that never finish their request; how many are closed, and when the last."""
    host, port = url.removeprefix("http://").split(":")
    socks = []
    for _ in range(count):
        s = socket.create_connection((host, int(port)))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        s.setblocking(False)
        socks.append(s)
    started, closed, last = time.monotonic(), set(), 0.0
    while len(closed) < count and time.monotonic() - started < deadline:
        for i, s in enumerate(socks):
            if i in closed:
                continue
            try:
                if s.recv(1) == b"":
                    closed.add(i)
                    last = time.monotonic() - started
            except BlockingIOError:
                pass
            except OSError:
                closed.add(i)
                last = time.monotonic() - started
        time.sleep(0.1)
    for s in socks:
        s.close()
    return len(closed), last


async def keyless_lockout(http: aiohttp.ClientSession) -> tuple[int, str]:
    """With a key required and 40 connections allowed: 40 keyless sockets, then a keyed client."""
    proc, url = start_server("espeak", "--api-key", "attack-key", "--max-connections", "40")
    try:
        held, refused = [], 0
        for _ in range(40):
            ws = await http.ws_connect(ws_url(url))
            held.append(ws)
        for ws in held:
            try:
                msg = await ws.receive(timeout=0.05)
                refused += msg.type == aiohttp.WSMsgType.TEXT and "too_many_connections" in msg.data
            except TimeoutError:
                pass
        async with http.ws_connect(ws_url(url), headers={"xi-api-key": "attack-key"}) as ws:  # as the SDK sends it
            for message in [protocol.initialize_connection(), protocol.send_text(PLAIN), {"text": ""}]:
                await ws.send_str(protocol.dumps(message))
            frames, code = await read_until_closed(ws, 30), ws.close_code
        for ws in held:
            await ws.close()
        return refused, f"{code}, final: {bool(frames and frames[-1].get('isFinal'))}"
    finally:
        stop(proc)


async def stalled_reader(url: str, http: aiohttp.ClientSession) -> float:
    """A client that stops reading: seconds until the server drops it."""
    before = (await (await http.get(url + "/healthz")).json())["connections"]
    ws = await http.ws_connect(ws_url(url, output_format="pcm_48000"))
    await ws.send_str(protocol.dumps(protocol.initialize_connection()))
    await ws.send_str(protocol.dumps(protocol.send_text("Never read. " * 2000, flush=True)))
    started = time.monotonic()
    while time.monotonic() - started < 60:
        if (await (await http.get(url + "/healthz")).json())["connections"] <= before:
            break
        await asyncio.sleep(0.2)
    await ws.close()
    return time.monotonic() - started


async def main(args: argparse.Namespace) -> None:
    rows = {"peak": [], "loop": []}
    for engine in ("espeak",) + (() if args.skip_piper else ("piper",)):
        rows["peak"] += await peak_per_message(engine)
    async with aiohttp.ClientSession() as http:
        rows["loop"] = await loop_attacks(http, args.timeout)
        proc, url = start_server("espeak")
        try:
            await speak(http, url, [protocol.initialize_connection(), protocol.send_text(PLAIN), {"text": ""}])
            idle = status_mb("VmRSS", proc.pid)
            async with Probe(url) as probe:
                churn_most, churn_end = await churn(url, http, 3000)
                most = max(await asyncio.gather(*(many_contexts(url, http, args.contexts) for _ in range(4))))
                stalled = await stalled_reader(url, http)
            await asyncio.sleep(2)
            after = status_mb("VmRSS", proc.pid)
            closed, last = slowloris(url, 300, 20)
        finally:
            stop(proc)
        refused, keyed = await keyless_lockout(http)
    body = "\n".join([
        machine_line(), "",
        "Peak RSS for one 301-character message (VmHWM, reset before each):", "",
        "| engine | message | idle MB | peak MB | seconds | close |", "|---|---|---|---|---|---|", *rows["peak"], "",
        "Event-loop attacks (espeak-ng; /healthz polled every 20 ms during each):", "",
        "| attack | close, error | seconds | /healthz p99 ms | /healthz max ms |", "|---|---|---|---|---|",
        *rows["loop"], "",
        "| figure | value | goal |", "|---|---|---|",
        (f"| /healthz p99 during churn, contexts and a stalled reader | {probe.p99():.1f} ms "
         f"({len(probe.latencies)} probes, max {max(probe.latencies, default=float('nan')):.0f} ms) | <= 50 ms |"),
        (f"| 3,000 contexts sent at once on one socket: most generating at once | {churn_most} "
         f"(ended: {churn_end}) | <= 5 |"),
        f"| 4 sockets x {args.contexts} contexts: most generating at once on one socket | {most} | <= 5 |",
        (f"| memory after the attacks (espeak) | {after:.0f} MB against {idle:.0f} MB idle "
         f"({(after / idle - 1) * 100:+.0f} %) | within 20 % |"),
        f"| slowloris: 300 unfinished requests closed | {closed}, the last after {last:.1f} s | all, <= 10 s + 1 |",
        (f"| keyless sockets refused at the handshake / keyed client | {refused} refused; keyed client: {keyed} "
         "| keyed client served (1000) |"),
        f"| a client that stops reading is dropped after | {stalled:.1f} s | send timeout 10 s |",
    ])
    print(body)
    write_section("Attacks (hardening)", body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-piper", action="store_true")
    parser.add_argument("--contexts", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=30, help="seconds each event-loop attack may take")
    asyncio.run(main(parser.parse_args()))
