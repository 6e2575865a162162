"""``%%speak`` and ``%speak``: speak a cell (or a line) as it streams."""
from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .options import DEFAULTS, SpeakOptions, parse_speakers


def _bool_flag(args, on: str, off: str) -> bool | None:
    if getattr(args, on) and getattr(args, off):
        raise UsageError(f"--{on.replace('_', '-')} and --{off.replace('_', '-')} contradict each other")
    return True if getattr(args, on) else False if getattr(args, off) else None


def options_from_args(args, base: SpeakOptions) -> SpeakOptions:
    """Turn parsed flags into options on top of the session defaults."""
    speakers = parse_speakers(args.voices) if args.voices else None
    return base.updated(
        voice=args.voice, model=args.model, output_format=args.format, speed=args.speed,
        stability=args.stability, similarity_boost=args.similarity, style=args.style,
        use_speaker_boost=_bool_flag(args, "speaker_boost", "no_speaker_boost"),
        auto_mode=_bool_flag(args, "auto_mode", "no_auto_mode"), chunk=args.chunk, context=args.context,
        dialog=args.dialog or None, speakers=speakers, wait=args.wait or None, interrupt=args.interrupt or None,
        timeline=False if args.no_timeline else None, save=args.save, captions=args.captions,
    )


@magics_class
class SpeakMagics(Magics):
    """Registers ``%%speak`` / ``%speak``."""

    @magic_arguments()
    @argument("--voice", help="voice id (default: the session's; 21m00Tcm4TlvDq8ikWAM is the local voice)")
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
    @argument("--dialog", action="store_true", help="lines 'Name: text' are speakers, one context per turn")
    @argument("--voices", help="dialog voices: 'Alice=voice[:speed=1.1],Bob=voice2'")
    @argument("--wait", action="store_true", help="block until the audio is complete (scripts, nbconvert)")
    @argument("--interrupt", action="store_true", help="stop what is playing and speak now")
    @argument("--no-timeline", action="store_true", help="transcript only, no timeline")
    @argument("--save", help="write the audio to this file (.wav, .mp3, .ogg, ...)")
    @argument("--captions", help="write captions to this file (.vtt or .srt)")
    @argument("text", nargs="*", help="(line magic) the text to speak")
    @line_cell_magic
    def speak(self, line: str = "", cell: str | None = None):
        """Speak the cell (or the rest of the line) as it streams, with a synchronized transcript.

        The cell returns at once and the audio streams in the background; a
        second ``%%speak`` queues after the first unless ``--interrupt``.
        """
        args = parse_argstring(self.speak, line)
        text = cell if cell is not None else " ".join(args.text)
        if not text.strip():
            raise UsageError("nothing to speak: give the text in the cell (%%speak) or after %speak")
        try:
            options = options_from_args(args, DEFAULTS.options)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        from .speaker import speak_text

        return speak_text(text, options)


def load_ipython_extension(ipython) -> None:
    ipython.register_magics(SpeakMagics)
