"""Chunking (and the other text code) under hostile input: every function must stay linear.

The attacks that froze the server before chunking was made linear (40,000
newlines or spaces in one message, 99,000 spaces, 8,000 characters of ", " in
small frames in auto mode), and MiB-scale texts through each function. The
goal: each well under 50 ms per MiB-scale message. Also the SSML parser, the spoken
form (normalizedAlignment's text) and captions, on large texts.

    python -m bench.bench_chunking [--repeats 3]

Prints one line per case: the best time over the repeats, in milliseconds, per MiB of
text, and per frame where the text arrives in small frames (a stream of messages: the
cost per message is what blocks the server's loop).
"""
from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable

from eleven_nb import normalize, ssml
from eleven_nb.alignment import Alignment, Timeline
from eleven_nb.chunking import (
    PhraseChunker,
    ScheduleBuffer,
    chunk_text,
    split_for_engine,
)

MIB = 1 << 20
PROSE = ("The quick brown fox jumps over the lazy dog, then naps; nobody minds. "
         "Is it late? It is! Numbers like 3.14 and e.g. abbreviations stay whole.\n")
CJK = "我们今天去公园散步，天气很好。你呢？我很喜欢这样的日子、真的！"


def _frames(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def _buffer(text: str, size: int, auto: bool) -> Callable[[], object]:
    frames = _frames(text, size)

    def run() -> object:
        buf = ScheduleBuffer(auto_mode=auto)
        out = [g for frame in frames for g in buf.append(frame)]
        return out + buf.drain()
    return run


def _chunker(text: str, size: int) -> Callable[[], object]:
    frames = _frames(text, size)

    def run() -> object:
        chunker = PhraseChunker()
        out = [p for frame in frames for p in chunker.feed(frame)]
        return out + chunker.close()
    return run


def _captions(text: str) -> Callable[[], object]:
    timeline = Timeline()
    timeline.add_chunk(Alignment(tuple(text), tuple(60.0 * i for i in range(len(text))), (60.0,) * len(text)))
    return timeline.to_vtt


def text_cases() -> list[tuple[str, int, Callable[[], object]]]:
    """SSML, the spoken form and captions."""
    prose = (PROSE * (MIB // len(PROSE) + 1))[:MIB]
    marked = ('A line of text, then a pause <break time="0.5s"/> and more text. ' * 20_000)[:MIB]
    numbers = " ".join(f"Item {i * 7919 % 100_000} costs ${i % 997}.{i % 100:02d}, up {i % 100}%."
                       for i in range(3_000))[:100_000]
    return [
        ("ssml.parse: 1 MiB prose, a break every 70 chars", MIB, lambda: ssml.parse(marked, phonemes=True)),
        ("ssml.parse: 1 MiB of '<a'", MIB, lambda: ssml.parse("<a" * (MIB // 2), phonemes=True)),
        ("ssml.parse: 1 MiB of '<'", MIB, lambda: ssml.parse("<" * MIB, phonemes=True)),
        ("normalize.spoken_form: 100,000 chars prose", 100_000, lambda: normalize.spoken_form(prose[:100_000])),
        ("normalize.spoken_form: 100,000 chars of numbers", 100_000, lambda: normalize.spoken_form(numbers)),
        ("Timeline.to_vtt: 100,000 chars prose", 100_000, _captions(prose[:100_000])),
    ]


def cases() -> list[tuple[str, int, Callable[[], object]]]:
    """(name, characters, work) for each attack."""
    prose = (PROSE * (MIB // len(PROSE) + 1))[:MIB]
    cjk = (CJK * (MIB // len(CJK) + 1))[:MIB]
    comma = ", " * (MIB // 2)
    return [
        ("split_for_engine: 40,000 spaces", 40_000, lambda: split_for_engine(" " * 40_000)),
        ("split_for_engine: 40,000 newlines", 40_000, lambda: split_for_engine("\n" * 40_000)),
        ("split_for_engine: 99,000 spaces", 99_000, lambda: split_for_engine(" " * 99_000)),
        ("split_for_engine: 1 MiB spaces", MIB, lambda: split_for_engine(" " * MIB)),
        ("split_for_engine: 1 MiB newlines", MIB, lambda: split_for_engine("\n" * MIB)),
        ("split_for_engine: 1 MiB dots", MIB, lambda: split_for_engine("." * MIB)),
        ("split_for_engine: 1 MiB ', '", MIB, lambda: split_for_engine(comma)),
        ("split_for_engine: 1 MiB prose", MIB, lambda: split_for_engine(prose)),
        ("split_for_engine: 1 MiB CJK", MIB, lambda: split_for_engine(cjk)),
        ("split_for_engine: 1 MiB one word", MIB, lambda: split_for_engine("a" * MIB)),
        ("ScheduleBuffer auto: 8,000 chars ', ' in 2-char frames", 8_000, _buffer(", " * 4_000, 2, True)),
        ("ScheduleBuffer auto: 1 MiB ', ' in 7-char frames", MIB, _buffer(comma, 7, True)),
        ("ScheduleBuffer auto: 1 MiB ', ' in one frame", MIB, _buffer(comma, MIB, True)),
        ("ScheduleBuffer auto: 1 MiB spaces in 5-char frames", MIB, _buffer(" " * MIB, 5, True)),
        ("ScheduleBuffer auto: 1 MiB prose in 5-char frames", MIB, _buffer(prose, 5, True)),
        ("ScheduleBuffer auto: 1 MiB CJK in 3-char frames", MIB, _buffer(cjk, 3, True)),
        ("ScheduleBuffer schedule: 1 MiB newlines in one frame", MIB, _buffer("\n" * MIB, MIB, False)),
        ("ScheduleBuffer schedule: 1 MiB one word in 5-char frames", MIB, _buffer("a" * MIB, 5, False)),
        ("ScheduleBuffer schedule: 1 MiB prose in 5-char frames", MIB, _buffer(prose, 5, False)),
        ("PhraseChunker: 20,000 CJK tokens in 2-char tokens", 40_000, _chunker(cjk[:40_000], 2)),
        ("PhraseChunker: 1 MiB prose in 4-char tokens", MIB, _chunker(prose, 4)),
        ("PhraseChunker: 1 MiB CJK in 2-char tokens", MIB, _chunker(cjk, 2)),
        ("PhraseChunker: 1 MiB one word in 4-char tokens", MIB, _chunker("a" * MIB, 4)),
        ("chunk_text sentence: 1 MiB prose", MIB, lambda: chunk_text(prose)),
        ("chunk_text 200: 1 MiB spaces", MIB, lambda: chunk_text(" " * MIB, 200)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'case':58} {'chars':>9} {'best ms':>9} {'ms/MiB':>8} {'µs/frame':>9}")
    for name, chars, work in cases() + text_cases():
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            work()
            best = min(best, time.perf_counter() - start)
        size = int(m.group(1)) if (m := re.search(r"in (\d+)-char", name)) else chars
        per_frame = f"{best * 1e6 * size / chars:9.1f}" if size < chars else f"{'':9}"
        print(f"{name:58} {chars:9,d} {best * 1000:9.1f} {best * 1000 * MIB / chars:8.1f} {per_frame}")


if __name__ == "__main__":
    main()
