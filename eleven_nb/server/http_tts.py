"""The HTTP text-to-speech endpoints, as the official SDK, LiveKit and pipecat call them.

- ``POST /v1/text-to-speech/{voice_id}``: the whole audio;
- ``POST /v1/text-to-speech/{voice_id}/stream``: chunked audio as it is made;
- ``POST /v1/text-to-speech/{voice_id}/with-timestamps``: one JSON object with
  ``audio_base64``, ``alignment`` and ``normalized_alignment`` (times in seconds);
- ``POST /v1/text-to-speech/{voice_id}/stream/with-timestamps``: one such object per line;
- ``GET /v2/voices``: the voices, as the SDK's ``voices.search`` reads them.

``output_format`` is a query parameter, the rest a JSON body (``text``, ``model_id``,
``voice_settings``, ``seed``, ``language_code``, ``apply_text_normalization``;
``previous_text``/``next_text`` and the request-id lists are accepted and not used).
They share the engines, the streaming encoders and the alignment with the WebSocket path.
Errors follow the real API: ``422`` with a ``detail`` list for a malformed body,
``401`` for a missing or wrong key, ``404`` for an unknown voice.
"""
from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .. import normalize, protocol, ssml
from ..protocol import OutputFormat, VoiceSettings
from .engines.base import SynthesisSettings, Utterance
from .state import STATE, ServerState, VoiceChoice
from .synthesis import spoken_function, utterances
from .voices import listed_voices

log = logging.getLogger(__name__)

PATH = "/v1/text-to-speech/{voice_id}"
ACCEPTED_UNUSED = ("previous_text", "next_text", "previous_request_ids", "next_request_ids",
                   "pronunciation_dictionary_locators", "use_pvc_as_ivc", "apply_language_text_normalization",
                   "audio_effects", "language_code", "model_id")
CONTENT_TYPES = {"mp3": "audio/mpeg", "pcm": "audio/pcm", "ulaw": "audio/basic", "alaw": "audio/basic",
                 "opus": "audio/ogg"}


def add_routes(app: web.Application) -> None:
    """Register the HTTP text-to-speech routes on ``app``."""
    app.add_routes([
        web.post(PATH, _convert),
        web.post(PATH + "/stream", _stream),
        web.post(PATH + "/with-timestamps", _convert_with_timestamps),
        web.post(PATH + "/stream/with-timestamps", _stream_with_timestamps),
        web.get("/v2/voices", _voices_v2),
    ])


# --- requests ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    """A validated text-to-speech request."""

    voice: VoiceChoice
    text: str
    fmt: OutputFormat
    settings: SynthesisSettings
    normalization: str = "auto"  # apply_text_normalization: what normalized_alignment shows


def _unprocessable(field: str, message: str, kind: str = "value_error") -> web.HTTPUnprocessableEntity:
    body = {"detail": [{"loc": ["body" if field != "output_format" else "query", field], "msg": message,
                        "type": kind}]}
    return web.HTTPUnprocessableEntity(text=json.dumps(body), content_type="application/json")


def _status_error(cls: type[web.HTTPException], status: str, message: str) -> web.HTTPException:
    return cls(text=json.dumps({"detail": {"status": status, "message": message}}), content_type="application/json")


async def _read(request: web.Request) -> _Request:
    """Validate the path, query and body, in that order (the app checks keys before this)."""
    state = request.app[STATE]
    voice_id = request.match_info["voice_id"]
    voice = await state.find(voice_id)
    if voice is None:
        raise _status_error(web.HTTPNotFound, "voice_not_found", f"A voice with the voice_id {voice_id!r} was "
                            f"not found. Voices here: {', '.join(sorted(state.voices))}.")
    try:
        fmt = protocol.parse_output_format(request.query.get("output_format"))
    except ValueError as exc:
        raise _unprocessable("output_format", str(exc)) from None
    if request.content_length is not None and request.content_length > protocol.MAX_INPUT_FRAME:
        raise web.HTTPRequestEntityTooLarge(max_size=protocol.MAX_INPUT_FRAME, actual_size=request.content_length)
    try:
        body = protocol.load_json_object(await request.read())
    except protocol.ProtocolError:
        raise _unprocessable("body", "the body must be a JSON object", "json_invalid") from None
    return _Request(voice, _text(body, state), fmt, *_settings(body))


def _text(body: dict[str, Any], state: ServerState) -> str:
    text = body.get("text")
    if text is None:
        raise _unprocessable("text", "Field required", "missing")
    if not isinstance(text, str):
        raise _unprocessable("text", "Input should be a valid string", "string_type")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _unprocessable("text", "text holds a lone surrogate, which is not valid text") from None
    if not text.strip():
        raise _unprocessable("text", "text must contain something to speak")
    if ssml.has_markup(text):  # unreadable markup is refused before any audio, as on the WebSockets
        try:
            ssml.parse(text, phonemes=False)
        except ssml.SsmlError as exc:
            raise _unprocessable("text", f"The text holds SSML that cannot be read: {exc}", "invalid_ssml") from None
    if len(text) > state.max_buffered_chars:
        raise _status_error(web.HTTPBadRequest, "max_character_limit_exceeded",
                            f"text has {len(text)} characters; the limit here is {state.max_buffered_chars}.")
    return text


def _settings(body: dict[str, Any]) -> tuple[SynthesisSettings, str]:
    try:
        voice = VoiceSettings.from_dict(body.get("voice_settings")) or VoiceSettings()
        options = protocol.ConnectionOptions(seed=body.get("seed"),
                                             apply_text_normalization=body.get("apply_text_normalization"))
    except (TypeError, ValueError) as exc:
        field = "voice_settings" if "voice_settings" in str(exc) else "seed" if "seed" in str(exc) else \
            "apply_text_normalization"
        raise _unprocessable(field, str(exc)) from None
    settings = SynthesisSettings(speed=voice.get("speed"), stability=voice.get("stability"), seed=options.seed)
    return settings, options.apply_text_normalization or "auto"


# --- synthesis -----------------------------------------------------------------------------------


@dataclass
class _Piece:
    """Audio encoded for one utterance, and its characters' times in seconds from the start."""

    audio: bytes
    chars: list[str]
    starts: list[float]
    ends: list[float]


async def _pieces(request: web.Request, req: _Request) -> AsyncGenerator[_Piece, None]:
    """Encoded audio and absolute character times, an utterance at a time; the encoder's tail last."""
    state = request.app[STATE]
    engine = req.voice.engine
    encoder = state.encoder_factory(req.fmt, engine.sample_rate)
    offset = 0  # engine samples spoken before this utterance
    speech = utterances(engine, req.voice.engine_voice_id, req.text, req.settings, state.pool)
    try:
        async for utterance in speech:
            yield _piece(encoder.encode(utterance.audio), utterance, offset, engine.sample_rate)
            offset += len(utterance.audio)
    finally:
        await speech.aclose()
    tail = encoder.flush()
    if tail:
        yield _Piece(tail, [], [], [])


def _piece(audio: bytes, utterance: Utterance, offset: int, rate: int) -> _Piece:
    starts = [(offset + int(s)) / rate for s in utterance.char_starts]
    ends = [(offset + int(e)) / rate for e in utterance.char_ends]
    return _Piece(audio, list(utterance.text), starts, ends)


def _alignment(chars: list[str], starts: list[float], ends: list[float]) -> dict[str, Any]:
    return {"characters": chars, "character_start_times_seconds": [round(s, 3) for s in starts],
            "character_end_times_seconds": [round(e, 3) for e in ends]}


def _timestamped(piece: _Piece, normalization: str, lead: str = " ") -> dict[str, Any]:
    """The JSON of a piece: ``alignment`` is the text sent, ``normalized_alignment`` the text as spoken
    (numbers written out unless normalization is off, tags silent), led by one space per request."""
    if not piece.chars:
        return {"audio_base64": base64.b64encode(piece.audio).decode("ascii"), "alignment": None,
                "normalized_alignment": None}
    spans = spoken_function(normalization)("".join(piece.chars))
    durations = [e - s for s, e in zip(piece.starts, piece.ends)]
    chars, starts, spoken_durations = normalize.normalized_alignment(spans, piece.starts, durations, lead)
    return {"audio_base64": base64.b64encode(piece.audio).decode("ascii"),
            "alignment": _alignment(piece.chars, piece.starts, piece.ends),
            "normalized_alignment": _alignment(chars, starts, [s + d for s, d in zip(starts, spoken_durations)])}


# --- handlers ------------------------------------------------------------------------------------


async def _convert(request: web.Request) -> web.Response:
    req = await _read(request)
    audio = b"".join([piece.audio async for piece in _pieces(request, req)])
    return web.Response(body=audio, content_type=CONTENT_TYPES[req.fmt.codec])


async def _convert_with_timestamps(request: web.Request) -> web.Response:
    req = await _read(request)
    whole = _Piece(b"", [], [], [])
    async for piece in _pieces(request, req):
        whole.audio += piece.audio
        whole.chars += piece.chars
        whole.starts += piece.starts
        whole.ends += piece.ends
    return web.json_response(_timestamped(whole, req.normalization))


async def _stream(request: web.Request) -> web.StreamResponse:
    req = await _read(request)
    return await _send_stream(request, req, CONTENT_TYPES[req.fmt.codec], lambda piece: piece.audio)


async def _stream_with_timestamps(request: web.Request) -> web.StreamResponse:
    req = await _read(request)
    leads = iter([" "])  # the spoken text of the request starts with one space, as a generation's does

    def line(piece: _Piece) -> bytes:
        lead = next(leads, "") if piece.chars else ""
        return (json.dumps(_timestamped(piece, req.normalization, lead)) + "\n").encode()

    return await _send_stream(request, req, "application/x-ndjson", line)


async def _send_stream(request: web.Request, req: _Request, content_type: str, render: Any) -> web.StreamResponse:
    """Chunked transfer as the audio is made; a client that goes away stops the synthesis."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    pieces = _pieces(request, req)
    try:
        async for piece in pieces:
            data = render(piece)
            if data:
                await response.write(data)
        await response.write_eof()
    except (ConnectionError, RuntimeError) as exc:  # the client left: stop quietly
        log.info("HTTP stream ended early: %s", exc.__class__.__name__)
    finally:
        await pieces.aclose()
    return response


async def _voices_v2(request: web.Request) -> web.Response:
    """``GET /v2/voices``: search, page_size and next_page_token as the SDK sends them."""
    state = request.app[STATE]
    await state.all_loaded()
    voices = listed_voices(state)
    search = (request.query.get("search") or "").strip().lower()
    if search:
        voices = [v for v in voices if search in v["name"].lower() or search in v["voice_id"].lower()]
    try:
        size = min(100, max(1, int(request.query.get("page_size") or 10)))
        start = int(request.query.get("next_page_token") or 0)
    except ValueError:
        raise _unprocessable("page_size", "page_size and next_page_token must be whole numbers") from None
    page = voices[start:start + size]
    more = start + size < len(voices)
    return web.json_response({"voices": page, "has_more": more, "total_count": len(voices),
                              "next_page_token": str(start + size) if more else None})
