"""``%%speak`` and ``%speak``: speak a cell (or a line) as it streams.

The magic line is split as a shell would split it (quotes group and are removed),
so ``--voices "Alice=joe,Bob=espeak-en-gb"`` and ``--save "my out.wav"`` mean what
they mean in a terminal. IPython's own ``parse_argstring`` keeps the quotes.
"""
from __future__ import annotations

import argparse
import difflib
import re
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .. import trace
from .dialog import parse_dialog
from .options import SpeakOptions, parse_speakers

# one shell word: unquoted runs and quoted strings, glued (a"b c"d is one word)
_WORD = re.compile(r"""(?:[^\s'"\\]|\\.|'[^']*'|"(?:[^"\\]|\\.)*")+""")

EXAMPLES = [  # (magic line, cell) — the help prints these and a test runs each of them
    ("%%speak", "Hello! The first sentence plays while the rest is still being made."),
    ("%%speak --voice espeak-en-gb --speed 1.1 --stability 0.3", "A little faster, a little livelier."),
    ("%%speak --wait --save \"my speech.wav\" --captions 'my speech.vtt'",
     "Saved to a file, with captions."),
    ("%%speak --dialog", "Alice: Hello, I am Alice.\nBob: And I am Bob, with another voice."),
    ("%%speak --dialog --voices \"Alice=espeak-en-us:speed=1.1,Bob=espeak-en-gb\"",
     "Alice: I chose my voice.\nBob: So did I."),
    ("%%speak --interrupt", "Stop that, and listen to me."),
    ("%speak --wait Hello from a line magic, it's short.", None),
]


def _examples_text() -> str:
    blocks = []
    for line, cell in EXAMPLES:
        blocks.append("    " + line + "".join("\n    " + row for row in (cell or "").splitlines()))
    return "\n\n".join(blocks)


def split_magic_line(line: str, parser: argparse.ArgumentParser, *, cell: bool) -> tuple[list[str], str]:
    """Split ``line`` into shell words for the options, and (line magic) the text after them.

    The text of ``%speak`` starts at the first word that is neither an option nor an
    option's value, and is kept as typed (an apostrophe in it is not a quote).
    """
    takes_value = {flag for action in parser._actions if action.nargs != 0 for flag in action.option_strings}
    known = [flag for action in parser._actions for flag in action.option_strings]
    argv: list[str] = []
    pos, expecting_value, previous = 0, False, ""
    while True:
        while pos < len(line) and line[pos].isspace():
            pos += 1
        if pos >= len(line):
            return argv, ""
        if not (expecting_value or line[pos] == "-"):
            if cell:
                after = f" after {previous} (it takes no value)" if previous else ""
                raise UsageError(f"unexpected {line[pos:].split()[0]!r}{after} on the %%speak line: "
                                 "the text goes in the cell below it")
            return argv, line[pos:].rstrip()
        match = _WORD.match(line, pos)
        end = match.end() if match else pos
        if end == pos or (end < len(line) and not line[end].isspace()):
            raise UsageError(f"unbalanced quote in {line[pos:]!r}")
        word = line[pos:end]
        try:
            argv.extend(shlex.split(word))
        except ValueError as exc:
            raise UsageError(f"cannot read {word!r}: {exc}") from None
        if not expecting_value and word.startswith("-"):
            option = _known_option(word, known)
            inline = "=" in word  # --speed=1.1 carries its value
            previous = option if option not in takes_value else ""
            expecting_value = option in takes_value and not inline
        else:
            expecting_value = False
        pos = end


def _known_option(word: str, known: list[str]) -> str:
    """The option ``word`` names (argparse takes a unique prefix), or a UsageError naming the word:
    a mistyped option must not make its value look like misplaced text."""
    name = word.split("=", 1)[0]
    if name in known or name == "--":
        return name
    matches = [flag for flag in known if flag.startswith(name) and name.startswith("--")]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UsageError(f"{name} is ambiguous: {', '.join(matches)}")
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else "; %%speak? lists the options"
    raise UsageError(f"unknown option {name}{hint}")


def _bool_flag(args: argparse.Namespace, on: str, off: str) -> bool | None:
    if getattr(args, on) and getattr(args, off):
        raise UsageError(f"--{on.replace('_', '-')} and --{off.replace('_', '-')} contradict each other")
    return True if getattr(args, on) else False if getattr(args, off) else None


def options_from_args(args: argparse.Namespace, base: SpeakOptions) -> SpeakOptions:
    """Turn parsed flags into options on top of the session defaults."""
    speakers = parse_speakers(args.voices) if args.voices else None
    return base.updated(
        voice=args.voice, model=args.model, output_format=args.format, speed=args.speed,
        stability=args.stability, similarity_boost=args.similarity, style=args.style,
        use_speaker_boost=_bool_flag(args, "speaker_boost", "no_speaker_boost"),
        auto_mode=_bool_flag(args, "auto_mode", "no_auto_mode"), chunk=args.chunk, context=args.context,
        dialog=args.dialog or None, speakers=speakers, wait=args.wait or None, interrupt=args.interrupt or None,
        timeline=False if args.no_timeline else None, save=args.save, captions=args.captions, ahead=args.ahead,
    )


@magics_class
class SpeakMagics(Magics):
    """Registers ``%%speak`` / ``%speak`` for one extension object (its client, defaults and queue)."""

    def __init__(self, shell: Any, extension: Any):
        super().__init__(shell)
        self.extension = extension

    @magic_arguments()
    @argument("--voice", help="voice id (default: the session's; see eleven_nb.voice_controls())")
    @argument("--model", help="model id, e.g. eleven_flash_v2_5")
    @argument("--format", help="output format, e.g. pcm_22050, mp3_44100_128 (decoded in the kernel)")
    @argument("--speed", type=float, help="0.7-1.2")
    @argument("--stability", type=float, help="0-1; lower varies more")
    @argument("--similarity", type=float, help="similarity_boost, 0-1")
    @argument("--style", type=float, help="style exaggeration, 0-1")
    @argument("--speaker-boost", action="store_true", help="use_speaker_boost on")
    @argument("--no-speaker-boost", action="store_true", help="use_speaker_boost off")
    @argument("--auto-mode", action="store_true", help="server generates at sentence/phrase ends (default)")
    @argument("--no-auto-mode", action="store_true", help="server follows its chunk_length_schedule")
    @argument("--chunk", help="how the text is sent: sentence | phrase | word | N characters")
    @argument("--context", help="speak as this named context (multi-stream-input)")
    @argument("--dialog", action="store_true",
              help="lines 'Name: text' are speakers, one context per turn; each speaker gets its own voice")
    @argument("--voices", help="dialog voices, quoted: \"Alice=voice[:speed=1.1],Bob=voice2\"")
    @argument("--wait", action="store_true",
              help="block until synthesis is complete (scripts, nbconvert); a failure fails the cell")
    @argument("--interrupt", action="store_true", help="stop everything queued or playing and speak now")
    @argument("--no-timeline", action="store_true", help="transcript only, no timeline")
    @argument("--save", help="write the audio to this file (.wav, .mp3, .ogg, ...); quote names with spaces")
    @argument("--captions", help="write captions to this file (.vtt or .srt)")
    @argument("--ahead", type=float, help="make the audio at most this many seconds ahead of the listener "
              "(default 10; 0: as fast as the voice can; --wait, --save and --captions never hold back)")
    @line_cell_magic
    def speak(self, line: str = "", cell: str | None = None) -> None:
        """Speak the cell (or the rest of the line) as it streams, with a synchronized transcript.

        The cell returns at once and the audio streams in the background. Players
        play one after another in the order their cells ran; ``--interrupt`` stops
        what is queued or playing. ``--wait`` waits until synthesis (not playback)
        is complete. The options line is read like a shell command: quote values
        with spaces or commas.

        Examples::

        {examples}
        """
        argv, text = split_magic_line(line, self.speak.parser, cell=cell is not None)
        args = self.speak.parser.parse_args(argv)  # raises UsageError, one line
        text = cell if cell is not None else text
        if not text.strip():
            raise UsageError("nothing to speak: give the text in the cell (%%speak) or after %speak")
        try:
            options = options_from_args(args, self.extension.defaults)
            if options.dialog:
                parse_dialog(text)  # a script without 'Name: text' lines fails here, not in the player
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        trace.start("kernel: magic parsed")  # (a no-op unless ELEVEN_NB_TRACE=1)
        self.extension.speak_cell(text, options)


SpeakMagics.speak.__doc__ = (SpeakMagics.speak.__doc__ or "").replace("{examples}", _examples_text())
