"""Output formats, voice settings, generation config and the connection options (query parameters)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any, Mapping

from .limits import CHUNK_LENGTH_RANGE, DEFAULT_INACTIVITY_TIMEOUT, MAX_INACTIVITY_TIMEOUT, SEED_RANGE

__all__ = [
    'OutputFormat', 'OUTPUT_FORMATS', 'OUTPUT_FORMAT_ALIASES', 'DEFAULT_OUTPUT_FORMAT',
    'parse_output_format', 'VOICE_SETTING_RANGES', 'VoiceSettings',
    'validate_chunk_length_schedule', 'APPLY_TEXT_NORMALIZATION', 'UNAVAILABLE_MODELS', 'MODELS',
    'ConnectionOptions',
]

# --- output formats ---------------------------------------------------------------


@dataclass(frozen=True)
class OutputFormat:
    """A parsed ``output_format``: codec, sample rate and (for mp3/opus) bitrate."""

    name: str
    codec: str  # "mp3" | "pcm" | "ulaw" | "alaw" | "opus" | "wav"
    sample_rate: int
    bitrate_kbps: int | None = None

    @property
    def is_raw(self) -> bool:
        """True when chunks are headerless samples (PCM, μ-law, A-law)."""
        return self.codec in ("pcm", "ulaw", "alaw")

    @property
    def bytes_per_second(self) -> int | None:
        """Bytes of audio per second for raw formats, else ``None``."""
        return {"pcm": 2, "ulaw": 1, "alaw": 1}.get(self.codec, 0) * self.sample_rate or None


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    name: OutputFormat(name, codec, rate, kbps)
    for name, codec, rate, kbps in [
        ("mp3_22050_32", "mp3", 22050, 32),
        ("mp3_24000_48", "mp3", 24000, 48),  # the HTTP API's and the SDK's; accepted on the sockets too
        *[(f"mp3_44100_{k}", "mp3", 44100, k) for k in (32, 64, 96, 128, 192)],
        *[(f"pcm_{r}", "pcm", r, None) for r in (8000, 16000, 22050, 24000, 32000, 44100, 48000)],
        ("ulaw_8000", "ulaw", 8000, None),
        ("alaw_8000", "alaw", 8000, None),
        *[(f"opus_48000_{k}", "opus", 48000, k) for k in (32, 64, 96, 128, 192)],
        # the HTTP API's and the SDK's: one WAV header (its sizes unknown while streaming), then PCM
        *[(f"wav_{r}", "wav", r, None) for r in (8000, 16000, 22050, 24000, 32000, 44100, 48000)],
    ]
}
OUTPUT_FORMAT_ALIASES = {"mp3_44100": "mp3_44100_128"}
DEFAULT_OUTPUT_FORMAT = "mp3_44100_128"


def parse_output_format(name: str | None) -> OutputFormat:
    """Look up an ``output_format``; ``None`` gives the documented default."""
    name = OUTPUT_FORMAT_ALIASES.get(name or DEFAULT_OUTPUT_FORMAT, name or DEFAULT_OUTPUT_FORMAT)
    try:
        return OUTPUT_FORMATS[name]
    except KeyError:
        raise ValueError(
            f"output_format {name!r} is not supported; choose one of: {', '.join(OUTPUT_FORMATS)}"
        ) from None


# --- voice settings and generation config ----------------------------------------

_UNIT = (0.0, 1.0)
VOICE_SETTING_RANGES: dict[str, tuple[float, float]] = {
    "stability": _UNIT,
    "similarity_boost": _UNIT,
    "style": _UNIT,
    "speed": (0.7, 1.2),
}


@dataclass(frozen=True)
class VoiceSettings:
    """Voice settings; ``None`` means "not set" and is left out on the wire.

    Schema defaults: stability 0.5, similarity_boost 0.75, style 0.0,
    use_speaker_boost true, speed 1.0 (0.7–1.2).
    """

    stability: float | None = None
    similarity_boost: float | None = None
    style: float | None = None
    use_speaker_boost: bool | None = None
    speed: float | None = None

    DEFAULTS = {"stability": 0.5, "similarity_boost": 0.75, "style": 0.0, "use_speaker_boost": True, "speed": 1.0}

    def __post_init__(self) -> None:
        for name, (lo, hi) in VOICE_SETTING_RANGES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"voice_settings.{name} must be a number, not {value!r}")
            if not lo <= value <= hi:
                raise ValueError(f"voice_settings.{name} must be between {lo} and {hi}, not {value}")
        if self.use_speaker_boost is not None and not isinstance(self.use_speaker_boost, bool):
            raise ValueError(f"voice_settings.use_speaker_boost must be true or false, not {self.use_speaker_boost!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | "VoiceSettings" | None) -> "VoiceSettings | None":
        """Read a wire/user dict; unknown keys are ignored (the real schema may grow)."""
        if data is None or isinstance(data, VoiceSettings):
            return data
        if not isinstance(data, Mapping):
            raise ValueError(f"voice_settings must be an object, not {type(data).__name__}")
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def get(self, name: str) -> Any:
        """The value, or the schema default when unset."""
        value = getattr(self, name)
        return self.DEFAULTS[name] if value is None else value


def validate_chunk_length_schedule(schedule: Any) -> tuple[int, ...]:
    lo, hi = CHUNK_LENGTH_RANGE
    if not isinstance(schedule, (list, tuple)) or not schedule:
        raise ValueError("generation_config.chunk_length_schedule must be a non-empty list of numbers")
    out = []
    for value in schedule:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"chunk_length_schedule values must be numbers, not {value!r}")
        if not lo <= value <= hi:
            raise ValueError(f"chunk_length_schedule values must be between {lo} and {hi}, not {value}")
        out.append(int(value))
    return tuple(out)


# --- connection options (query parameters) ----------------------------------------

APPLY_TEXT_NORMALIZATION = ("auto", "on", "off")
UNAVAILABLE_MODELS = {"eleven_v3": "eleven_v3 is not available on the text-to-speech WebSockets; "
                                   "use the text-to-dialogue endpoints."}
MODELS = ("eleven_flash_v2_5", "eleven_flash_v2", "eleven_turbo_v2_5", "eleven_turbo_v2",
          "eleven_multilingual_v2", "eleven_monolingual_v1", "eleven_multilingual_v1")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class ConnectionOptions:
    """The query parameters of both endpoints, validated on construction.

    ``None`` means "leave it to the server" and is not sent. Server-side
    defaults are in :meth:`effective`.
    """

    model_id: str | None = None
    language_code: str | None = None
    enable_logging: bool | None = None
    enable_ssml_parsing: bool | None = None
    output_format: str | None = None
    inactivity_timeout: int | None = None
    sync_alignment: bool | None = None
    auto_mode: bool | None = None
    apply_text_normalization: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("enable_logging", "enable_ssml_parsing", "sync_alignment", "auto_mode"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, not {value!r}")
        if self.model_id is not None:
            if not isinstance(self.model_id, str) or not self.model_id:
                raise ValueError(f"model_id must be a non-empty string, not {self.model_id!r}")
            if self.model_id in UNAVAILABLE_MODELS:
                raise ValueError(UNAVAILABLE_MODELS[self.model_id])
        if self.language_code is not None and not (
            isinstance(self.language_code, str) and _LANGUAGE.match(self.language_code)
        ):
            raise ValueError(f"language_code must be an ISO 639-1 code such as 'en', not {self.language_code!r}")
        if self.output_format is not None:
            parse_output_format(self.output_format)
        if self.inactivity_timeout is not None:
            t = self.inactivity_timeout
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
                raise ValueError(f"inactivity_timeout must be a number of seconds, not {t!r}")
            if not 1 <= t <= MAX_INACTIVITY_TIMEOUT:
                raise ValueError(f"inactivity_timeout must be between 1 and {MAX_INACTIVITY_TIMEOUT} seconds, not {t}")
        if self.apply_text_normalization is not None and self.apply_text_normalization not in APPLY_TEXT_NORMALIZATION:
            raise ValueError(
                f"apply_text_normalization must be one of {APPLY_TEXT_NORMALIZATION}, "
                f"not {self.apply_text_normalization!r}"
            )
        if self.seed is not None:
            lo, hi = SEED_RANGE
            if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not lo <= self.seed <= hi:
                raise ValueError(f"seed must be an integer between {lo} and {hi}, not {self.seed!r}")

    def to_query(self) -> dict[str, str]:
        """Query parameters as strings; booleans lowercase, as the service expects."""
        query = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            query[f.name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return query

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> "ConnectionOptions":
        """Parse a request's query string (server side). Unknown parameters are ignored."""
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            raw = query.get(f.name)
            if raw is None:
                continue
            if f.name in ("enable_logging", "enable_ssml_parsing", "sync_alignment", "auto_mode"):
                lowered = raw.strip().lower()
                if lowered not in ("true", "false", "1", "0"):
                    raise ValueError(f"{f.name} must be true or false, not {raw!r}")
                kwargs[f.name] = lowered in ("true", "1")
            elif f.name in ("inactivity_timeout", "seed"):
                try:
                    number = float(raw)
                except ValueError:
                    raise ValueError(f"{f.name} must be a number, not {raw!r}") from None
                if f.name == "seed" or number.is_integer():
                    if not number.is_integer():
                        raise ValueError(f"seed must be an integer, not {raw!r}")
                    number = int(number)
                kwargs[f.name] = number
            else:
                kwargs[f.name] = raw
        return cls(**kwargs)

    def effective(self) -> "ConnectionOptions":
        """These options with the documented defaults filled in."""
        return ConnectionOptions(
            model_id=self.model_id,
            language_code=self.language_code,
            enable_logging=True if self.enable_logging is None else self.enable_logging,
            enable_ssml_parsing=bool(self.enable_ssml_parsing),
            output_format=parse_output_format(self.output_format).name,
            inactivity_timeout=self.inactivity_timeout or DEFAULT_INACTIVITY_TIMEOUT,
            sync_alignment=bool(self.sync_alignment),
            auto_mode=bool(self.auto_mode),
            apply_text_normalization=self.apply_text_normalization or "auto",
            seed=self.seed,
        )
