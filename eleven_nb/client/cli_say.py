"""``eleven-nb say``: stream text through the client into an audio file (and captions)."""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from .. import protocol
from ..chunking import chunk_text

# the output format that suits each file type, when --format is not given
FORMAT_FOR_SUFFIX = {".mp3": "mp3_44100_128", ".ogg": "opus_48000_64", ".opus": "opus_48000_64",
                     ".ulaw": "ulaw_8000", ".alaw": "alaw_8000"}
DEFAULT_FORMAT = "pcm_22050"


def add_parser(subparsers) -> argparse.ArgumentParser:
    say = subparsers.add_parser("say", help="speak text into an audio file, with optional captions")
    say.add_argument("text", nargs="?", help="the text ('-' reads standard input)")
    say.add_argument("-f", "--file", help="read the text from this file")
    say.add_argument("-o", "--output", default="speech.wav", help="audio file (.wav .mp3 .ogg .pcm .ulaw)")
    say.add_argument("--captions", help="captions file (.vtt or .srt)")
    say.add_argument("--voice", default=protocol.DEFAULT_VOICE_ID, help="voice id")
    say.add_argument("--model", help="model id")
    say.add_argument("--format", help="output_format to request (default: suits the output file)")
    say.add_argument("--speed", type=float, help="0.7-1.2")
    say.add_argument("--stability", type=float, help="0-1")
    say.add_argument("--base-url", help="server to use (default: resolved as the client does)")
    say.set_defaults(func=run)
    return say


def _read_text(args: argparse.Namespace) -> str:
    if args.file:
        return Path(args.file).read_text(encoding="utf-8")
    if args.text == "-" or (args.text is None and not sys.stdin.isatty()):
        return sys.stdin.read()
    if args.text:
        return args.text
    raise ValueError("give the text, -f FILE, or - for standard input")


async def _speak(args: argparse.Namespace, text: str) -> tuple[float, str]:
    from . import Client

    client = Client(base_url=args.base_url)
    fmt = args.format or FORMAT_FOR_SUFFIX.get(Path(args.output).suffix.lower(), DEFAULT_FORMAT)
    settings = {k: v for k, v in (("speed", args.speed), ("stability", args.stability)) if v is not None}
    progress = sys.stderr.isatty()
    async with client.stream_input(args.voice, voice_settings=settings or None, model_id=args.model,
                                   output_format=fmt, sync_alignment=True, auto_mode=True) as stream:
        for piece in chunk_text(text, "sentence"):
            await stream.send(piece)
        await stream.close()
        async for chunk in stream:
            if progress:
                done = len(stream.timeline.chars)
                print(f"\r{done}/{len(text)} characters spoken", end="", file=sys.stderr, flush=True)
        if progress:
            print(file=sys.stderr)
        stream.save(args.output)
        if args.captions:
            captions = stream.timeline.to_srt() if args.captions.lower().endswith(".srt") else stream.timeline.to_vtt()
            Path(args.captions).write_text(captions, encoding="utf-8")
        return stream.timeline.end_ms / 1000, fmt


def run(args: argparse.Namespace) -> int:
    from ..audio import SAVE_EXTENSIONS
    from .errors import ElevenError

    try:
        if Path(args.output).suffix.lower() not in SAVE_EXTENSIONS:
            raise ValueError(f"cannot save audio as {args.output!r}; use one of {', '.join(SAVE_EXTENSIONS)}")
        if args.captions and not args.captions.lower().endswith((".vtt", ".srt")):
            raise ValueError(f"captions must be .vtt or .srt, not {args.captions!r}")
        text = _read_text(args)
        if not text.strip():
            raise ValueError("there is no text to speak")
        seconds, fmt = asyncio.run(_speak(args, text))
    except (ValueError, OSError, ElevenError) as exc:
        print(f"eleven-nb say: {exc}", file=sys.stderr)
        return 1
    extra = f" and {args.captions}" if args.captions else ""
    print(f"wrote {args.output}{extra} ({seconds:.1f} s of speech, {fmt})", file=sys.stderr)
    return 0
