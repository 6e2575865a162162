"""``eleven-nb say``: stream text through the client into an audio file (and captions).

The paths are checked before anything is spoken, and the audio and captions are
written under temporary names and renamed together: both files, or neither.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from . import protocol
from .audio import has_sound, save_audio
from .chunking import chunk_text
from .protocol import check_text

# the output format that suits each file type, when --format is not given
FORMAT_FOR_SUFFIX = {".mp3": "mp3_44100_128", ".ogg": "opus_48000_64", ".opus": "opus_48000_64",
                     ".ulaw": "ulaw_8000", ".alaw": "alaw_8000"}
DEFAULT_FORMAT = "pcm_22050"
DEFAULT_OUTPUT = "speech.wav"
CAPTION_SUFFIXES = (".vtt", ".srt")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    say = subparsers.add_parser("say", help="speak text into an audio file, with optional captions")
    say.add_argument("text", nargs="?", help="the text ('-' reads standard input)")
    say.add_argument("-f", "--file", help="read the text from this file")
    say.add_argument("-o", "--output", default=DEFAULT_OUTPUT,
                     help=f"audio file (.wav .mp3 .ogg .pcm .ulaw); without -o: ./{DEFAULT_OUTPUT}")
    say.add_argument("--captions", help="captions file (.vtt or .srt)")
    say.add_argument("--voice", default=protocol.DEFAULT_VOICE_ID, help="voice id (eleven-nb voices lists them)")
    say.add_argument("--model", help="model id")
    say.add_argument("--format", help="output_format to request (default: suits the output file)")
    say.add_argument("--speed", type=float, help="0.7-1.2")
    say.add_argument("--stability", type=float, help="0-1 (voices that honour it: see eleven-nb voices)")
    say.add_argument("--base-url", help="server to use (default: resolved as the client does)")
    say.set_defaults(func=run)
    return say


def _read_text(args: argparse.Namespace) -> str:
    if args.file:
        if args.text is not None:
            raise ValueError("give the text or -f FILE, not both")
        path = Path(args.file).expanduser()
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{args.file!r} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if args.text == "-" or (args.text is None and not sys.stdin.isatty()):
        return sys.stdin.read()
    if args.text:
        return args.text
    raise ValueError("give the text, -f FILE, or - for standard input")


def check_paths(output: str, captions: str | None) -> None:
    """Raise ValueError for a path that could not be written, before anything is spoken."""
    from .audio import SAVE_EXTENSIONS

    if Path(output).suffix.lower() not in SAVE_EXTENSIONS:
        raise ValueError(f"cannot save audio as {output!r}; use one of {', '.join(SAVE_EXTENSIONS)}")
    if captions and Path(captions).suffix.lower() not in CAPTION_SUFFIXES:
        raise ValueError(f"captions must be .vtt or .srt, not {captions!r}")
    for path in filter(None, (output, captions)):
        target = Path(path)
        if target.is_dir():
            raise ValueError(f"{path!r} is a directory")
        folder = target.parent
        if not folder.is_dir():
            raise ValueError(f"cannot write {path!r}: the folder {str(folder)!r} does not exist")
        if not os.access(folder, os.W_OK):
            raise ValueError(f"cannot write {path!r}: the folder {str(folder)!r} is not writable")
    if captions and Path(captions).resolve() == Path(output).resolve():
        raise ValueError("the audio and the captions must be different files")


def _temporary_beside(path: str) -> str:
    """A new empty file in ``path``'s folder with its suffix (the suffix picks the format)."""
    target = Path(path)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=target.suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)  # the mode a plain open() would give, not mkstemp's 0600
    return name


async def _speak(args: argparse.Namespace, text: str, audio_path: str) -> tuple[float, str, str | None]:
    """Speak ``text`` into ``audio_path``; return (seconds, format, captions text)."""
    from .client import AsyncClient

    client = AsyncClient(base_url=args.base_url)
    fmt = args.format or FORMAT_FOR_SUFFIX.get(Path(args.output).suffix.lower(), DEFAULT_FORMAT)
    settings = {k: v for k, v in (("speed", args.speed), ("stability", args.stability)) if v is not None}
    progress = sys.stderr.isatty()
    async with client.stream_input(args.voice, voice_settings=settings or None, model_id=args.model,
                                   output_format=fmt, sync_alignment=True, auto_mode=True) as stream:
        async def send_all() -> None:
            for piece in chunk_text(text, "sentence"):
                await stream.send(piece)  # paced by what has been spoken
            await stream.close()

        sender = asyncio.create_task(send_all())
        heard = False
        # every chunk's audio goes to disk as it arrives: the stream keeps only the last
        # max_buffered_chunks in memory, and a long text has many more
        with tempfile.TemporaryFile() as audio:
            try:
                async for chunk in stream:
                    if chunk.audio:
                        audio.write(chunk.audio)
                        heard = heard or has_sound(chunk.pcm)  # decodes MP3/Opus only until it is True
                    if progress:
                        done = min(len(stream.timeline.chars), len(text))  # the close's space is not the user's
                        print(f"\r{done}/{len(text)} characters spoken", end="", file=sys.stderr, flush=True)
            finally:
                sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            if progress:
                print(file=sys.stderr)
            audio.seek(0)
            save_audio(audio_path, audio.read(), protocol.parse_output_format(fmt))
        captions = None
        if args.captions:
            timeline = stream.timeline
            captions = timeline.to_srt() if args.captions.lower().endswith(".srt") else timeline.to_vtt()
        if not heard:  # the file is written, but the user should know it holds nothing to hear
            who = "the default voice" if args.voice == protocol.DEFAULT_VOICE_ID else f"the voice {args.voice!r}"
            print(f"eleven-nb say: warning: the audio is silent: {who} could read none of this text (a "
                  "language or symbols it does not speak; eleven-nb voices lists the voices)", file=sys.stderr)
        return stream.timeline.end_ms / 1000, fmt, captions


def _speak_to_files(args: argparse.Namespace, text: str) -> tuple[float, str]:
    """Write both files under temporary names, then rename them: both appear, or neither."""
    temporary = [_temporary_beside(args.output)]
    try:
        seconds, fmt, captions = asyncio.run(_speak(args, text, temporary[0]))
        if args.captions and captions is not None:
            temporary.append(_temporary_beside(args.captions))
            Path(temporary[1]).write_text(captions, encoding="utf-8")
            os.replace(temporary[1], args.captions)
        os.replace(temporary[0], args.output)
    finally:
        for name in temporary:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
    return seconds, fmt


def run(args: argparse.Namespace) -> int:
    from .client.errors import ElevenError

    args.output = str(Path(args.output).expanduser())
    args.captions = args.captions and str(Path(args.captions).expanduser())
    try:
        check_paths(args.output, args.captions)
        text = check_text(_read_text(args))
        if not text.strip():
            raise ValueError("there is no text to speak")
        seconds, fmt = _speak_to_files(args, text)
    except (ValueError, OSError, ElevenError) as exc:
        print(f"eleven-nb say: {exc}", file=sys.stderr)
        return 1
    extra = f" and {args.captions}" if args.captions else ""
    print(f"wrote {args.output}{extra} ({seconds:.1f} s of speech, {fmt})", file=sys.stderr)
    return 0
