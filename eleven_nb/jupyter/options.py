"""What one ``%%speak`` (or ``eleven_nb.speak``) asks for, validated.

The magic's flags, ``speak(**options)`` and the voice-controls panel all end
up as a :class:`SpeakOptions`; bad values raise ``ValueError`` with a one-line
message naming the option. The session defaults are a ``SpeakOptions`` held
by the extension object (:mod:`.extension`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..audio import SAVE_EXTENSIONS
from ..chunking import CHUNK_MODES
from ..protocol import (
    DEFAULT_VOICE_ID,
    ConnectionOptions,
    VoiceSettings,
    parse_output_format,
)

NOTEBOOK_FORMAT = "pcm_22050"  # the browser schedules PCM directly; piper's native rate
# A cell listened to live is made at most this far ahead of the listener (--ahead): a long cell's synthesis
# is spread over its playback instead of filling both cores while the page draws (see SpeechJob.paced)
DEFAULT_AHEAD_S = 10.0
MAX_AHEAD_S = 3600.0


@dataclass(frozen=True)
class SpeakOptions:
    """Everything that shapes one spoken cell."""

    voice: str = DEFAULT_VOICE_ID
    model: str | None = None
    output_format: str = NOTEBOOK_FORMAT
    voice_settings: VoiceSettings = field(default_factory=VoiceSettings)
    auto_mode: bool = True
    chunk: str | int = "sentence"
    context: str | None = None
    dialog: bool = False
    speakers: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"voice", **voice settings}
    wait: bool = False
    interrupt: bool = False
    timeline: bool = True
    save: str | None = None
    captions: str | None = None
    ahead: float = DEFAULT_AHEAD_S

    def __post_init__(self) -> None:
        parse_output_format(self.output_format)
        ahead = self.ahead
        if isinstance(ahead, bool) or not isinstance(ahead, (int, float)) or not 0 <= ahead <= MAX_AHEAD_S:
            raise ValueError(f"--ahead must be a number of seconds from 0 (as fast as the voice can) to "
                             f"{MAX_AHEAD_S:.0f}, not {self.ahead!r}")
        ConnectionOptions(model_id=self.model)
        chunk = self.chunk
        size = int(chunk) if isinstance(chunk, str) and chunk.isdigit() else chunk
        if not (isinstance(size, int) and not isinstance(size, bool) and size > 0 or chunk in CHUNK_MODES):
            raise ValueError(f"--chunk must be one of {', '.join(CHUNK_MODES)} or a number of characters, "
                             f"not {chunk!r}")
        if self.context is not None and not re.fullmatch(r"[\w.-]{1,64}", self.context):
            raise ValueError(f"--context must be a short name of letters, digits, '.', '-' or '_', "
                             f"not {self.context!r}")
        if self.captions and not self.captions.lower().endswith((".vtt", ".srt")):
            raise ValueError(f"--captions must end in .vtt or .srt, not {self.captions!r}")
        if self.save and Path(self.save).suffix.lower() not in SAVE_EXTENSIONS:
            raise ValueError(f"--save must end in one of {', '.join(SAVE_EXTENSIONS)}, not {self.save!r}")
        for flag, path in (("--save", self.save), ("--captions", self.captions)):
            # checked before speaking: a typo must not cost the whole synthesis
            if path and not Path(path).expanduser().resolve().parent.is_dir():
                raise ValueError(f"{flag}: the folder of {path!r} does not exist")

    def connection_options(self) -> ConnectionOptions:
        return ConnectionOptions(model_id=self.model, output_format=self.output_format, sync_alignment=True,
                                 auto_mode=self.auto_mode)

    def with_settings(self, **settings: Any) -> SpeakOptions:
        """A copy with some voice settings changed (``None`` leaves one as it is)."""
        current = self.voice_settings.to_dict()
        current.update({k: v for k, v in settings.items() if v is not None})
        return replace(self, voice_settings=VoiceSettings(**current))

    def updated(self, **changes: Any) -> SpeakOptions:
        """A copy with option changes; unknown names are an error, ``None`` keeps the value."""
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names - set(VoiceSettings.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sorted(names | set(VoiceSettings.DEFAULTS)))}")
        settings = {k: changes.pop(k) for k in list(changes) if k in VoiceSettings.DEFAULTS}
        out = replace(self, **{k: v for k, v in changes.items() if v is not None})
        return out.with_settings(**settings) if settings else out


def parse_speakers(spec: str) -> dict[str, dict[str, Any]]:
    """``"Alice=joe,Bob=espeak-en-gb:speed=1.1:stability=0.3"`` → per-speaker voice and settings."""
    speakers: dict[str, dict[str, Any]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, rest = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--voices entries look like Name=voice[:setting=value...], not {item!r}")
        voice, *settings = rest.split(":")
        entry: dict[str, Any] = {"voice": voice.strip()} if voice.strip() else {}
        for setting in settings:
            key, sep, value = setting.partition("=")
            if not sep or key not in VoiceSettings.DEFAULTS:
                raise ValueError(f"unknown speaker setting {setting!r}; use one of "
                                 f"{', '.join(VoiceSettings.DEFAULTS)}")
            entry[key] = value.lower() in ("1", "true", "yes") if key == "use_speaker_boost" else float(value)
        VoiceSettings.from_dict({k: v for k, v in entry.items() if k != "voice"})  # validate now
        speakers[name.strip()] = entry
    return speakers
