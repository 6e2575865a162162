"""The ElevenLabs text-to-speech WebSocket protocol, with no I/O.

One place for every wire fact of both endpoints (``stream-input`` and
``multi-stream-input``): field names, query parameters with their defaults and
limits, output formats, voice settings, error ids, messages and close codes.
The client and the local server both import it; tests feed it dicts and strings.

Reading is tolerant of the spellings seen in the wild (``isFinal``/``is_final``,
``contextId``/``context_id``, ``charDurationsMs``/``charsDurationsMs``,
``xi_api_key``/``xi-api-key``); writing uses the spelling the real service uses.
See ``shared/protocol/PROTOCOL.md`` §2–§5 and §10.
"""
from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from .alignment import Alignment

# --- endpoints -----------------------------------------------------------------

REAL_SERVICE_URL = "wss://api.elevenlabs.io"
STREAM_INPUT = "stream-input"
MULTI_STREAM_INPUT = "multi-stream-input"
ENDPOINTS = (STREAM_INPUT, MULTI_STREAM_INPUT)
DEFAULT_VOICE_ID = "21m00Tcm4TlvDq8ikWAM"  # the voice id used throughout ElevenLabs' docs


def endpoint_path(voice_id: str, endpoint: str = STREAM_INPUT) -> str:
    """``/v1/text-to-speech/{voice_id}/{endpoint}``."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {ENDPOINTS}, not {endpoint!r}")
    if not voice_id or "/" in voice_id:
        raise ValueError(f"voice_id must be a non-empty id without '/', not {voice_id!r}")
    return f"/v1/text-to-speech/{voice_id}/{endpoint}"


# --- limits ----------------------------------------------------------------------

MAX_CONTEXTS = 5
MAX_INACTIVITY_TIMEOUT = 180
DEFAULT_INACTIVITY_TIMEOUT = 20
DEFAULT_CHUNK_LENGTH_SCHEDULE = (120, 160, 250, 290)
CHUNK_LENGTH_RANGE = (50, 500)
SEED_RANGE = (0, 4_294_967_295)
MAX_INPUT_FRAME = 1 << 20  # the server accepts client frames up to 1 MiB
MAX_OUTPUT_FRAME = 1 << 20  # the official SDK reads with a 1 MiB limit: stay well under it
CLIENT_MAX_FRAME = 16 << 20  # clients accept up to 16 MiB, as pipecat does
KEEP_ALIVE_TEXT = " "  # stream-input keep-alive (and the initial text); "" would end the stream

# --- errors ------------------------------------------------------------------------

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013

_TIMEOUT_MESSAGE = (
    "Have not received a new text input within the timeout of {timeout:.1f} seconds. "
    "Streaming input terminated. Please make sure to either feed the input in the timely manner, "
    'or to send the end of input text (empty string "") when done.'
)
_INVALID_MESSAGE = (
    "Could not parse input message, make sure it is a json and follows the schema outlined in protocol."
)
_MAX_CONTEXTS_MESSAGE = (
    f"Maximum simultaneous contexts per WebSocket connection exceeded ({MAX_CONTEXTS}). "
    "Please close an existing context before opening a new one."
)
_VOICE_SETTINGS_MESSAGE = (
    "voice_settings field must be provided in the first message and then either be not provided or not change."
)

# error id -> (close code, message template). Ids the real service documents come
# first; the rest are the local server's own, named in the same style.
ERRORS: dict[str, tuple[int, str]] = {
    "input_timeout_exceeded": (CLOSE_POLICY, _TIMEOUT_MESSAGE),
    "invalid_input_message": (CLOSE_POLICY, _INVALID_MESSAGE + "{detail}"),
    "max_active_conversations": (CLOSE_POLICY, _MAX_CONTEXTS_MESSAGE),
    "voice_settings_changed": (CLOSE_POLICY, _VOICE_SETTINGS_MESSAGE),
    "authentication_required": (CLOSE_POLICY, "An API key is required: send it in the xi-api-key header, "
                                "the authorization query parameter, or xi_api_key in the first message."),
    "invalid_api_key": (CLOSE_POLICY, "Invalid API key."),
    "voice_not_found": (CLOSE_POLICY, "Voice {voice_id!r} was not found. Voices available here: {voices}."),
    "model_not_supported": (CLOSE_POLICY, "{detail}"),
    "invalid_query_parameter": (CLOSE_POLICY, "{detail}"),
    "message_too_big": (CLOSE_TOO_BIG, "Message too big: frames are limited to {limit} bytes."),
    "text_buffer_exceeded": (CLOSE_POLICY, "Too much text buffered ({size} characters, at most {limit}). "
                             "Send flush or wait for audio before sending more."),
    "too_many_connections": (CLOSE_TRY_AGAIN, "The server is at its connection limit ({limit}). Try again later."),
    "generation_failed": (CLOSE_POLICY, "We are sorry, something went wrong. You are not charged for this request."),
}


class ProtocolError(Exception):
    """A protocol-level error: the server's ``error`` id, close ``code`` and ``message``."""

    def __init__(self, error: str, message: str, code: int = CLOSE_POLICY, context_id: str | None = None):
        super().__init__(message)
        self.error = error
        self.message = message
        self.code = code
        self.context_id = context_id

    @classmethod
    def of(cls, error: str, context_id: str | None = None, **params: Any) -> "ProtocolError":
        """Build the documented error ``error`` with its message filled from ``params``."""
        code, template = ERRORS[error]
        params.setdefault("detail", "")
        return cls(error, template.format(**params), code, context_id)

    def to_message(self) -> dict[str, Any]:
        """The JSON error frame the server sends before closing with ``code``."""
        return {"message": self.message, "error": self.error, "code": self.code}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(error={self.error!r}, code={self.code}, message={self.message!r})"


def invalid(detail: str) -> ProtocolError:
    """``invalid_input_message`` with a short explanation appended."""
    return ProtocolError.of("invalid_input_message", detail=f" ({detail})")


# --- output formats ---------------------------------------------------------------


@dataclass(frozen=True)
class OutputFormat:
    """A parsed ``output_format``: codec, sample rate and (for mp3/opus) bitrate."""

    name: str
    codec: str  # "mp3" | "pcm" | "ulaw" | "alaw" | "opus"
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
        *[(f"mp3_44100_{k}", "mp3", 44100, k) for k in (32, 64, 96, 128, 192)],
        *[(f"pcm_{r}", "pcm", r, None) for r in (8000, 16000, 22050, 24000, 32000, 44100, 48000)],
        ("ulaw_8000", "ulaw", 8000, None),
        ("alaw_8000", "alaw", 8000, None),
        *[(f"opus_48000_{k}", "opus", 48000, k) for k in (32, 64, 96, 128, 192)],
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


# --- client -> server messages: building ----------------------------------------


def _settings_dict(voice_settings: VoiceSettings | Mapping[str, Any] | None) -> dict[str, Any] | None:
    settings = VoiceSettings.from_dict(voice_settings)
    return None if settings is None else settings.to_dict()


def initialize_connection(
    text: str = KEEP_ALIVE_TEXT,
    voice_settings: VoiceSettings | Mapping[str, Any] | None = None,
    generation_config: Mapping[str, Any] | None = None,
    api_key: str | None = None,
    pronunciation_dictionary_locators: list[Mapping[str, str]] | None = None,
    context_id: str | None = None,
) -> dict[str, Any]:
    """The first message of a socket (or, with ``context_id``, of a context)."""
    message: dict[str, Any] = {"text": text}
    if context_id is not None:
        message["context_id"] = _check_context_id(context_id)
    if voice_settings is not None:
        message["voice_settings"] = _settings_dict(voice_settings)
    if generation_config is not None:
        config = dict(generation_config)
        if "chunk_length_schedule" in config:
            config["chunk_length_schedule"] = list(validate_chunk_length_schedule(config["chunk_length_schedule"]))
        message["generation_config"] = config
    if pronunciation_dictionary_locators:
        message["pronunciation_dictionary_locators"] = list(pronunciation_dictionary_locators)
    if api_key:
        message["xi_api_key"] = api_key
    return message


def send_text(text: str, try_trigger_generation: bool = False, flush: bool = False,
              context_id: str | None = None) -> dict[str, Any]:
    """Text to speak. Text should end with a space; ``""`` is reserved (end of stream / keep-alive)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    message: dict[str, Any] = {"text": text}
    if context_id is not None:
        message["context_id"] = _check_context_id(context_id)
    if try_trigger_generation:
        message["try_trigger_generation"] = True
    if flush:
        message["flush"] = True
    return message


def is_text_content(text: str | None, first: bool = False) -> bool:
    """Whether a message's ``text`` is text to speak.

    ``""`` never is (end of stream; a keep-alive on multi-stream-input), nor is
    the ``" "`` of the first message of a socket or context (the initial
    message). Every other text is, keep-alive spaces included: alignment then
    covers exactly the content text sent, which is how clients judge what was
    spoken.
    """
    return bool(text) and not (first and text == KEEP_ALIVE_TEXT)


def close_connection() -> dict[str, Any]:
    """End of stream on ``stream-input``: generate the rest, send the final, close."""
    return {"text": ""}


def keep_alive(context_id: str | None = None) -> dict[str, Any]:
    """Reset the inactivity timer: ``" "`` on stream-input, ``""`` with an id on multi-stream-input."""
    if context_id is None:
        return {"text": KEEP_ALIVE_TEXT}
    return {"text": "", "context_id": _check_context_id(context_id)}


def flush_context(context_id: str) -> dict[str, Any]:
    return {"context_id": _check_context_id(context_id), "flush": True}


def close_context(context_id: str) -> dict[str, Any]:
    return {"context_id": _check_context_id(context_id), "close_context": True}


def close_socket() -> dict[str, Any]:
    return {"close_socket": True}


def _check_context_id(context_id: Any) -> str:
    if not isinstance(context_id, str) or not context_id:
        raise ValueError(f"context_id must be a non-empty string, not {context_id!r}")
    return context_id


# --- client -> server messages: parsing (server side) ----------------------------


@dataclass
class ClientMessage:
    """A parsed client frame. ``text is None`` when the frame had no ``text`` field."""

    text: str | None = None
    context_id: str | None = None
    flush: bool = False
    try_trigger_generation: bool = False
    close_context: bool = False
    close_socket: bool = False
    voice_settings: VoiceSettings | None = None
    has_voice_settings: bool = False  # present and not null
    chunk_length_schedule: tuple[int, ...] | None = None
    api_key: str | None = None
    authorization: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_json_object(raw: str | bytes) -> dict[str, Any]:
    """Decode one JSON object frame; ``ProtocolError`` (invalid_input_message) otherwise."""
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise invalid(f"not JSON: {str(exc)[:80]}") from None
    if not isinstance(data, dict):
        raise invalid(f"expected a JSON object, got {type(data).__name__}")
    return data


def _opt_bool(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(f"{key} must be true or false")
    return value


def _opt_str(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise invalid(f"{key} must be a string")
            return value
    return None


def parse_client_message(raw: str | bytes | Mapping[str, Any]) -> ClientMessage:
    """Parse a client frame of either endpoint, tolerating the spellings seen in the wild."""
    data = dict(raw) if isinstance(raw, Mapping) else load_json_object(raw)
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        raise invalid("text must be a string")
    context_id = _opt_str(data, "context_id", "contextId")
    message = ClientMessage(
        text=text,
        context_id=context_id,
        flush=_opt_bool(data, "flush"),
        try_trigger_generation=_opt_bool(data, "try_trigger_generation"),
        close_context=_opt_bool(data, "close_context"),
        close_socket=_opt_bool(data, "close_socket"),
        api_key=_opt_str(data, "xi_api_key", "xi-api-key"),
        authorization=_opt_str(data, "authorization"),
    )
    if data.get("voice_settings") is not None:
        try:
            message.voice_settings = VoiceSettings.from_dict(data["voice_settings"])
        except (TypeError, ValueError) as exc:
            raise invalid(str(exc)) from None
        message.has_voice_settings = True
    config = data.get("generation_config", data.get("generator_config"))  # the schema's misspelling too
    if config is not None:
        if not isinstance(config, dict):
            raise invalid("generation_config must be an object")
        if config.get("chunk_length_schedule") is not None:
            try:
                message.chunk_length_schedule = validate_chunk_length_schedule(config["chunk_length_schedule"])
            except ValueError as exc:
                raise invalid(str(exc)) from None
    known = {"text", "context_id", "contextId", "flush", "try_trigger_generation", "close_context",
             "close_socket", "xi_api_key", "xi-api-key", "authorization", "voice_settings",
             "generation_config", "generator_config"}
    message.extra = {k: v for k, v in data.items() if k not in known}
    return message


# --- server -> client messages: building (server side) ---------------------------


def alignment_to_wire(alignment: Alignment | None) -> dict[str, Any] | None:
    if alignment is None:
        return None
    return {
        "chars": list(alignment.chars),
        "charStartTimesMs": [int(round(t)) for t in alignment.starts_ms],
        "charDurationsMs": [int(round(t)) for t in alignment.durations_ms],
    }


def audio_message(audio: bytes, alignment: Alignment | None = None,
                  normalized_alignment: Alignment | None = None,
                  context_id: str | None = None) -> dict[str, Any]:
    """An audio chunk: base64 audio, ``isFinal: null``, both alignments (or ``null``)."""
    message: dict[str, Any] = {
        "audio": base64.b64encode(audio).decode("ascii"),
        "isFinal": None,
        "normalizedAlignment": alignment_to_wire(normalized_alignment),
        "alignment": alignment_to_wire(alignment),
    }
    if context_id is not None:
        message["contextId"] = context_id
    return message


def final_message(context_id: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"audio": None, "isFinal": True, "normalizedAlignment": None, "alignment": None}
    if context_id is not None:
        message["contextId"] = context_id
    return message


def dumps(message: Mapping[str, Any]) -> str:
    """Serialise a message compactly."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


# --- server -> client messages: parsing (client side) ----------------------------


@dataclass(frozen=True)
class ServerMessage:
    """A parsed server frame. Exactly one of: audio chunk, final, error, or other."""

    audio: bytes | None = None
    is_final: bool = False
    alignment: Alignment | None = None
    normalized_alignment: Alignment | None = None
    context_id: str | None = None
    error: ProtocolError | None = None
    raw_type: str | None = None  # e.g. "flush_done": frames that carry no audio and no final


def _alignment_from_wire(data: Any) -> Alignment | None:
    if not isinstance(data, Mapping):
        return None
    chars = data.get("chars")
    starts = data.get("charStartTimesMs", data.get("charsStartTimesMs"))
    durations = data.get("charDurationsMs", data.get("charsDurationsMs"))
    if chars is None or starts is None or durations is None:
        return None
    try:
        return Alignment(tuple(str(c) for c in chars), tuple(float(s) for s in starts),
                         tuple(float(d) for d in durations))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"malformed alignment: {exc}") from None


def parse_server_message(raw: str | bytes | Mapping[str, Any]) -> ServerMessage:
    """Parse a server frame of either endpoint; raises ``ValueError`` on non-JSON."""
    if isinstance(raw, Mapping):
        data = dict(raw)
    else:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object from the server, got {type(data).__name__}")
    context_id = data.get("contextId", data.get("context_id"))
    if data.get("error") is not None and data.get("audio") is None:
        code = data.get("code")
        error = ProtocolError(str(data["error"]), str(data.get("message") or data["error"]),
                              code if isinstance(code, int) else CLOSE_POLICY, context_id)
        return ServerMessage(error=error, context_id=context_id)
    audio = data.get("audio")
    is_final = data.get("isFinal", data.get("is_final")) is True
    return ServerMessage(
        audio=base64.b64decode(audio) if audio else None,
        is_final=is_final,
        alignment=_alignment_from_wire(data.get("alignment")),
        normalized_alignment=_alignment_from_wire(data.get("normalizedAlignment", data.get("normalized_alignment"))),
        context_id=context_id,
        raw_type=data.get("type") if not audio and not is_final else None,
    )
