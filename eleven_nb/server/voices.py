"""Voices as ``/v1/voices`` and ``/v2/voices`` list them (the shape the official SDK parses)."""
from __future__ import annotations

from typing import Any

from .. import protocol
from .state import NOT_HONOURED_BY_LOCAL, ServerState, VoiceChoice


def voice_json(voice_id: str, choice: VoiceChoice, default: bool) -> dict[str, Any]:
    info = choice.info
    return {
        "voice_id": voice_id,
        "name": info.name,
        "category": "premade",
        "description": info.description,
        "labels": {"engine": info.engine, "language": info.language, "local": "true"},
        "preview_url": None,
        "settings": None,
        "verified_languages": [{"language": info.language, "model_id": "local"}],
        "eleven_nb": {
            "engine": info.engine,
            "engine_voice_id": info.voice_id,
            "default": default,
            "honours": list(info.honours),
            "accepted_not_honoured": [*(s for s in protocol.VoiceSettings.DEFAULTS if s not in info.honours),
                                      *NOT_HONOURED_BY_LOCAL],
        },
    }


def listed_voices(state: ServerState) -> list[dict[str, Any]]:
    listed, default = [], state.resolve(state.default_voice)
    for voice_id, choice in state.voices.items():
        if voice_id == choice.info.voice_id:  # aliases are not listed twice
            listed.append(voice_json(voice_id, choice, choice is default))
    return listed
