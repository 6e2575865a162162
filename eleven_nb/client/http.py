"""Whole-text synthesis over HTTP (``/with-timestamps``), for users who do not need streaming.

:func:`convert` posts the text once and returns a :class:`Speech`: the audio in the
requested format and its timeline (words, SRT, WebVTT), as the streaming paths give.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from .. import protocol
from ..alignment import Alignment, Timeline
from ..protocol import OutputFormat, VoiceSettings
from .endpoint import Endpoint
from .errors import ElevenError, ServerError

HTTP_TIMEOUT = 300.0  # seconds for one whole text (a long text takes a while on a local engine)


@dataclass
class Speech:
    """The audio of a whole text, in ``format``, and its absolute timeline."""

    audio: bytes
    format: OutputFormat
    timeline: Timeline = field(default_factory=Timeline)

    def save(self, path: str | Path) -> Path:
        """Write the audio: ``.wav``, ``.mp3``, ``.ogg``, ``.pcm``, ``.ulaw`` … (see ``eleven_nb.audio.save_audio``)."""
        from ..audio import save_audio

        return save_audio(path, self.audio, self.format)


def request_body(text: str, *, model_id: str | None, voice_settings: VoiceSettings | Mapping[str, Any] | None,
                 seed: int | None, language_code: str | None, apply_text_normalization: str | None) -> dict[str, Any]:
    """The JSON body, validated the way the connection options are (a bad value is a ``ValueError``)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must be a non-empty string")
    protocol.ConnectionOptions(model_id=model_id, seed=seed, language_code=language_code,
                               apply_text_normalization=apply_text_normalization)
    settings = VoiceSettings.from_dict(voice_settings)
    body: dict[str, Any] = {"text": text, "model_id": model_id, "seed": seed, "language_code": language_code,
                            "apply_text_normalization": apply_text_normalization,
                            "voice_settings": settings.to_dict() if settings else None}
    return {k: v for k, v in body.items() if v is not None}


def _timeline(alignment: Any) -> Timeline:
    timeline = Timeline()
    if not alignment:
        return timeline
    try:
        starts = [float(s) * 1000 for s in alignment["character_start_times_seconds"]]
        ends = [float(e) * 1000 for e in alignment["character_end_times_seconds"]]
        chars = tuple(str(c) for c in alignment["characters"])
        timeline.add_chunk(Alignment(chars, tuple(starts), tuple(e - s for s, e in zip(starts, ends))))
    except (KeyError, TypeError, ValueError) as exc:
        raise ElevenError(f"the server sent a malformed alignment: {exc}") from None
    return timeline


async def convert(endpoint: Endpoint, voice_id: str, body: Mapping[str, Any], output_format: str) -> Speech:
    """POST ``/v1/text-to-speech/{voice_id}/with-timestamps`` and decode the answer."""
    fmt = protocol.parse_output_format(output_format)
    protocol.endpoint_path(voice_id)  # validates the id
    url = endpoint.url(f"/v1/text-to-speech/{voice_id}/with-timestamps")
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT, sock_connect=10)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http, \
                http.post(url, json=dict(body), params={"output_format": fmt.name},
                          headers=endpoint.headers()) as response:
            answer = await response.json(content_type=None)
            status = response.status
    except TimeoutError:
        raise ElevenError(f"{endpoint.http_url} did not answer within {HTTP_TIMEOUT:.0f} s") from None
    except (aiohttp.ClientError, ValueError) as exc:
        raise ElevenError(f"POST {url} failed: {exc}") from None
    if status != 200:
        detail = answer.get("detail") if isinstance(answer, dict) else None
        if isinstance(detail, dict):
            raise ServerError(str(detail.get("status", "http_error")), status, str(detail.get("message", "")))
        raise ServerError("http_error", status, json.dumps(detail if detail is not None else answer)[:300])
    try:
        audio = base64.b64decode(answer["audio_base64"], validate=True)
    except (KeyError, TypeError, binascii.Error) as exc:
        raise ElevenError(f"the server sent no readable audio: {exc}") from None
    return Speech(audio, fmt, _timeline(answer.get("alignment")))

