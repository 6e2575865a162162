"""Every message of both endpoints: building and tolerant parsing, both directions."""
from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..alignment import Alignment
from .errors import CLOSE_POLICY, ProtocolError, invalid
from .limits import KEEP_ALIVE_TEXT
from .settings import VoiceSettings, validate_chunk_length_schedule

__all__ = [
    'initialize_connection', 'send_text', 'check_text', 'is_text_content', 'close_connection', 'keep_alive',
    'keep_alive_socket', 'context_id_of',
    'flush_context', 'close_context', 'close_socket', 'ClientMessage', 'load_json_object',
    'parse_client_message', 'alignment_to_wire', 'audio_message', 'final_message', 'dumps',
    'ServerMessage', 'parse_server_message',
]

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
    check_text(text)
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


def check_text(text: str) -> str:
    """``text``, or a ``ValueError`` when it cannot be sent (a lone surrogate is not valid UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"text holds a lone surrogate ({text[exc.start:exc.end]!r} at character {exc.start}), "
                         "which is not valid text; decode it with errors='replace' first") from None
    return text


def close_connection() -> dict[str, Any]:
    """End of stream on ``stream-input``: generate the rest, send the final, close."""
    return {"text": ""}


def keep_alive(context_id: str | None = None) -> dict[str, Any]:
    """Reset the inactivity timer: ``" "`` on stream-input, ``""`` with an id on multi-stream-input."""
    if context_id is None:
        return {"text": KEEP_ALIVE_TEXT}
    return {"text": "", "context_id": _check_context_id(context_id)}


def keep_alive_socket() -> dict[str, Any]:
    """multi-stream-input's keep-alive while no context is open (pipecat sends it; docs/protocol.md §4)."""
    return {"text": ""}


def flush_context(context_id: str) -> dict[str, Any]:
    return {"context_id": _check_context_id(context_id), "flush": True}


def close_context(context_id: str) -> dict[str, Any]:
    return {"context_id": _check_context_id(context_id), "close_context": True}


def close_socket() -> dict[str, Any]:
    return {"close_socket": True}


def context_id_of(message: Mapping[str, Any]) -> str | None:
    """The context a client message (as the builders above write it) is for, if any."""
    return message.get("context_id")


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
            return _check_unicode(value, key)
    return None


def _check_unicode(value: str, key: str) -> str:
    """Refuse a lone surrogate (JSON allows ``"\\ud800"``): no engine, log or encoder can take one."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise invalid(f"{key} contains a lone surrogate: not valid Unicode text") from None
    return value


def parse_client_message(raw: str | bytes | Mapping[str, Any]) -> ClientMessage:
    """Parse a client frame of either endpoint, tolerating the spellings seen in the wild."""
    data = dict(raw) if isinstance(raw, Mapping) else load_json_object(raw)
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        raise invalid("text must be a string")
    if text is not None:
        _check_unicode(text, "text")
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


def _finite_times(values: Any, name: str) -> tuple[float, ...]:
    if not isinstance(values, list):
        raise TypeError(f"alignment {name} must be a list")
    if not set(map(type, values)) <= {int, float}:  # exact types: a bool or a string is not a time
        raise TypeError(f"alignment {name} must be numbers")
    times = tuple(map(float, values))
    if times and (min(times) < 0 or not all(map(math.isfinite, times))):
        raise ValueError(f"alignment {name} must be finite and not negative")
    return times


def _alignment_from_wire(data: Any) -> Alignment | None:
    """An alignment object, checked: three lists of one length, strings and finite times >= 0."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise TypeError(f"an alignment must be an object or null, not {type(data).__name__}")
    chars = data.get("chars")
    if not isinstance(chars, list) or not set(map(type, chars)) <= {str}:
        raise TypeError("alignment chars must be a list of strings")
    starts = _finite_times(data.get("charStartTimesMs", data.get("charsStartTimesMs")), "start times")
    durations = _finite_times(data.get("charDurationsMs", data.get("charsDurationsMs")), "durations")
    return Alignment(tuple(chars), starts, durations)  # raises ValueError when the lengths differ


def _load_server_json(raw: str | bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object from the server, got {type(data).__name__}")
    return data


def _audio_from_wire(audio: Any) -> bytes | None:
    if audio is None or audio == "":
        return None
    if not isinstance(audio, str):
        raise TypeError(f"audio must be a base64 string or null, not {type(audio).__name__}")
    try:
        return base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"audio is not valid base64 ({exc})") from None


def parse_server_message(raw: str | bytes | Mapping[str, Any]) -> ServerMessage:
    """Parse a server frame of either endpoint, tolerant of spellings, strict about content.

    Raises ``ValueError`` (``TypeError`` for a wrong type) for a frame that cannot be trusted: not a JSON object, NaN,
    nesting too deep, audio that is not base64, an alignment that is not an object,
    alignment lists of different lengths, or times that are negative or not finite.
    """
    data = dict(raw) if isinstance(raw, Mapping) else _load_server_json(raw)
    context_id = data.get("contextId", data.get("context_id"))
    if context_id is not None and not isinstance(context_id, str):
        raise TypeError(f"contextId must be a string, not {type(context_id).__name__}")
    if data.get("error") is not None and data.get("audio") is None:
        code = data.get("code")
        error = ProtocolError(str(data["error"]), str(data.get("message") or data["error"]),
                              code if isinstance(code, int) else CLOSE_POLICY, context_id)
        return ServerMessage(error=error, context_id=context_id)
    audio = _audio_from_wire(data.get("audio"))
    is_final = data.get("isFinal", data.get("is_final")) is True
    kind = data.get("type")
    return ServerMessage(
        audio=audio,
        is_final=is_final,
        alignment=_alignment_from_wire(data.get("alignment")),
        normalized_alignment=_alignment_from_wire(data.get("normalizedAlignment", data.get("normalized_alignment"))),
        context_id=context_id,
        raw_type=str(kind) if kind is not None and not audio and not is_final else None,
    )
