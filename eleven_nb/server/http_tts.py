"""The HTTP text-to-speech endpoints, as the official SDK, LiveKit and pipecat call them.

- ``POST /v1/text-to-speech/{voice_id}``: the whole audio;
- ``POST /v1/text-to-speech/{voice_id}/stream``: the same;
- ``POST /v1/text-to-speech/{voice_id}/with-timestamps``: one JSON object with
  ``audio_base64``, ``alignment`` and ``normalized_alignment`` (times in seconds);
- ``POST /v1/text-to-speech/{voice_id}/stream/with-timestamps``: one such object per line;
- ``GET /v2/voices``: the voices, as the SDK's ``voices.search`` reads them.

Every response is sent as it is made (chunked), even the whole-audio and the one-object
ones: a 100,000-character text is minutes of audio, which is never held whole, and a
client that leaves, or stops reading for :data:`~.session.SEND_TIMEOUT`, stops its
synthesis. The body must arrive within :data:`~.state.REQUEST_TIMEOUT`.

``output_format`` is a query parameter, the rest a JSON body (``text``, ``model_id``,
``voice_settings``, ``seed``, ``language_code``, ``apply_text_normalization``;
``previous_text``/``next_text`` and the request-id lists are accepted and not used).
They share the engines, the streaming encoders and the alignment with the WebSocket path.
Errors follow the real API: ``422`` with a ``detail`` list for a malformed body,
``401`` for a missing or wrong key, ``404`` for an unknown voice, ``408`` for a body too
slow, ``429`` past the server's connections.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .. import normalize, protocol, ssml
from ..protocol import OutputFormat, VoiceSettings
from .engines.base import SynthesisSettings, Utterance
from .memory import trim_memory
from .session import SEND_TIMEOUT
from .state import REQUEST_TIMEOUT, STATE, ServerState, VoiceChoice
from .synthesis import LARGE_TEXT, spoken_function, utterances
from .voices import listed_voices

log = logging.getLogger(__name__)

PATH = "/v1/text-to-speech/{voice_id}"
ACCEPTED_UNUSED = ("previous_text", "next_text", "previous_request_ids", "next_request_ids",
                   "pronunciation_dictionary_locators", "use_pvc_as_ivc", "apply_language_text_normalization",
                   "audio_effects", "language_code", "model_id")
QUERY_FIELDS = ("output_format", "page_size", "next_page_token")  # the rest of a request is its JSON body
CONTENT_TYPES = {"mp3": "audio/mpeg", "pcm": "audio/pcm", "ulaw": "audio/basic", "alaw": "audio/basic",
                 "opus": "audio/ogg", "wav": "audio/wav"}


def add_routes(app: web.Application) -> None:
    """Register the HTTP text-to-speech routes on ``app``."""
    app.add_routes([
        web.post(PATH, _audio),
        web.post(PATH + "/stream", _audio),
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
    where = "query" if field in QUERY_FIELDS else "body"
    body = {"detail": [{"loc": [where, field], "msg": message, "type": kind}]}
    return web.HTTPUnprocessableEntity(text=json.dumps(body), content_type="application/json")


def status_error(cls: type[web.HTTPException], status: str, message: str, **kwargs: Any) -> web.HTTPException:
    """An error as the real API words it: ``{"detail": {"status": ..., "message": ...}}``."""
    return cls(text=json.dumps({"detail": {"status": status, "message": message}}), content_type="application/json",
               **kwargs)


async def _read(request: web.Request) -> _Request:
    """Validate the path, query and body, in that order (the app checks keys before this)."""
    state = request.app[STATE]
    voice_id = request.match_info["voice_id"]
    voice = await state.find(voice_id)
    if voice is None:
        raise status_error(web.HTTPNotFound, "voice_not_found", f"A voice with the voice_id {voice_id!r} was "
                           f"not found. Voices here: {', '.join(sorted(state.voices))}.")
    try:
        fmt = protocol.parse_output_format(request.query.get("output_format"))
    except ValueError as exc:
        raise _unprocessable("output_format", str(exc)) from None
    if request.content_length is not None and request.content_length > protocol.MAX_INPUT_FRAME:
        raise web.HTTPRequestEntityTooLarge(max_size=protocol.MAX_INPUT_FRAME, actual_size=request.content_length)
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):  # a body sent a byte at a time must not hold the server
            data = await request.read()
    except TimeoutError:
        raise status_error(web.HTTPRequestTimeout, "request_timeout", f"the request body did not arrive within "
                           f"{REQUEST_TIMEOUT:.0f} s", headers={"Connection": "close"}) from None
    try:
        body = protocol.load_json_object(data)
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
        raise status_error(web.HTTPBadRequest, "max_character_limit_exceeded",
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
    loop = asyncio.get_running_loop()
    speech = utterances(engine, req.voice.engine_voice_id, req.text, req.settings, state.pool)
    try:
        async for utterance in speech:
            if len(utterance.text) > LARGE_TEXT:  # minutes of audio: encoded in the pool, off the event loop
                audio = await loop.run_in_executor(state.pool, encoder.encode, utterance.audio)
            else:
                audio = encoder.encode(utterance.audio)
            yield _piece(audio, utterance, offset, engine.sample_rate)
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


def _alignments(chars: list[str], starts: list[float], ends: list[float], normalization: str,
                lead: str = " ") -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``alignment`` (the text sent) and ``normalized_alignment`` (the text as spoken: numbers written
    out unless normalization is off, tags silent, led by one space per request); None without characters."""
    if not chars:
        return None, None
    spans = spoken_function(normalization)("".join(chars))
    durations = [e - s for s, e in zip(starts, ends)]
    spoken, spoken_starts, spoken_durations = normalize.normalized_alignment(spans, starts, durations, lead)
    return (_alignment(chars, starts, ends),
            _alignment(spoken, spoken_starts, [s + d for s, d in zip(spoken_starts, spoken_durations)]))


def _timestamped(piece: _Piece, normalization: str, lead: str = " ") -> dict[str, Any]:
    """The JSON of a piece, as one line of ``/stream/with-timestamps``."""
    alignment, normalized = _alignments(piece.chars, piece.starts, piece.ends, normalization, lead)
    return {"audio_base64": base64.b64encode(piece.audio).decode("ascii"), "alignment": alignment,
            "normalized_alignment": normalized}


@dataclass
class _WholeTimestamped:
    """``/with-timestamps``' one JSON object, written as the audio is made: the base64 in pieces of
    whole 3-byte groups (they join into one valid string), the timing, known only at the end, last."""

    normalization: str
    chars: list[str] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    _rest: bytes = b""  # the last 0-2 bytes of audio, not yet encoded

    def piece(self, piece: _Piece) -> bytes:
        self.chars += piece.chars
        self.starts += piece.starts
        self.ends += piece.ends
        audio = self._rest + piece.audio
        whole = len(audio) // 3 * 3
        self._rest = audio[whole:]
        return base64.b64encode(audio[:whole])

    def end(self) -> bytes:
        alignment, normalized = _alignments(self.chars, self.starts, self.ends, self.normalization)
        return (base64.b64encode(self._rest) + b'", "alignment": ' + json.dumps(alignment).encode()
                + b', "normalized_alignment": ' + json.dumps(normalized).encode() + b"}")


# --- handlers ------------------------------------------------------------------------------------


async def _audio(request: web.Request) -> web.StreamResponse:
    req = await _read(request)
    return await _send_stream(request, req, CONTENT_TYPES[req.fmt.codec], lambda piece: piece.audio)


async def _convert_with_timestamps(request: web.Request) -> web.StreamResponse:
    req = await _read(request)
    whole = _WholeTimestamped(req.normalization)

    async def end() -> bytes:  # the timing of a long text is serialised in the pool, off the event loop
        return await asyncio.get_running_loop().run_in_executor(request.app[STATE].pool, whole.end)

    return await _send_stream(request, req, "application/json", whole.piece, head=b'{"audio_base64": "', end=end)


async def _stream_with_timestamps(request: web.Request) -> web.StreamResponse:
    req = await _read(request)
    leads = iter([" "])  # the spoken text of the request starts with one space, as a generation's does

    def line(piece: _Piece) -> bytes:
        lead = next(leads, "") if piece.chars else ""
        return (json.dumps(_timestamped(piece, req.normalization, lead)) + "\n").encode()

    return await _send_stream(request, req, "application/x-ndjson", line)


class _StoppedReading(Exception):
    """The client took more than SEND_TIMEOUT to take one piece of the answer."""


async def _send_stream(request: web.Request, req: _Request, content_type: str, render: Callable[[_Piece], bytes],
                       head: bytes = b"", end: Callable[[], Awaitable[bytes]] | None = None) -> web.StreamResponse:
    """Chunked transfer as the audio is made: ``head``, each piece rendered, then what ``end`` gives.

    The status goes out with the first piece, so a synthesis that fails at once is still a 500; one
    that fails later cuts the connection (the client sees an incomplete answer, never a complete one).
    A client that goes away, or stops reading for SEND_TIMEOUT, stops the synthesis. Syntheses and
    WebSockets together are bounded by the server's ``max_connections``; past it, 429."""
    state = request.app[STATE]
    if state.speaking >= state.max_connections:
        raise status_error(web.HTTPTooManyRequests, "too_many_concurrent_requests",
                           f"this server speaks for at most {state.max_connections} requests and sockets at once")
    response = web.StreamResponse(headers={"Content-Type": content_type})
    state.http_syntheses += 1
    pieces = _pieces(request, req)
    try:
        first = await anext(pieces, None)
        await response.prepare(request)
        await _write(response, head)
        if first is not None:
            await _write(response, render(first))
        async for piece in pieces:
            await _write(response, render(piece))
        await _write(response, await end() if end is not None else b"")
        await response.write_eof()
    except ConnectionError as exc:  # the client left: stop quietly
        log.info("HTTP response ended early: %s", exc.__class__.__name__)
    except _StoppedReading:
        log.info("dropping an HTTP client that stopped reading for %.0f s", SEND_TIMEOUT)
        _cut(request)
    except Exception:
        if not response.prepared:
            raise  # nothing sent yet: aiohttp answers 500
        log.exception("HTTP synthesis failed after its first bytes; the connection is cut")
        _cut(request)
    finally:
        state.http_syntheses -= 1
        await pieces.aclose()
        if len(req.text) > LARGE_TEXT:  # minutes of audio went through: give the memory back
            asyncio.get_running_loop().run_in_executor(None, trim_memory, False)
    return response


def _cut(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


async def _write(response: web.StreamResponse, data: bytes) -> None:
    if data:
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await response.write(data)
        except TimeoutError:
            raise _StoppedReading from None


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
        start = max(0, int(request.query.get("next_page_token") or 0))
    except ValueError:
        raise _unprocessable("page_size", "page_size and next_page_token must be whole numbers") from None
    page = voices[start:start + size]
    more = start + size < len(voices)
    return web.json_response({"voices": page, "has_more": more, "total_count": len(voices),
                              "next_page_token": str(start + size) if more else None})
