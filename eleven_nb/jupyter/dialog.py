"""Dialog scripts: lines of the form ``Name: text`` become turns of named speakers."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..protocol import DEFAULT_VOICE_ID

_SPEAKER_LINE = re.compile(r"^\s*([A-Za-z][\w .'-]{0,39}?)\s*:\s+(.*)$")


@dataclass
class Turn:
    speaker: str
    text: str


def parse_dialog(script: str) -> list[Turn]:
    """Split a script into turns. A line without ``Name:`` continues the previous turn.

    Raises ``ValueError`` when no line names a speaker.
    """
    turns: list[Turn] = []
    for line in script.splitlines():
        match = _SPEAKER_LINE.match(line)
        if match:
            turns.append(Turn(match.group(1).strip(), match.group(2).strip()))
        elif line.strip() and turns:
            turns[-1].text += " " + line.strip()
        elif line.strip():
            raise ValueError(f"a dialog starts with a 'Name: text' line, not {line.strip()[:40]!r}")
    turns = [t for t in turns if t.text.strip()]
    if not turns:
        raise ValueError("no 'Name: text' lines found for --dialog")
    return turns


def context_id(speaker: str, index: int) -> str:
    """A context id per turn (a context per turn, as pipecat and LiveKit do)."""
    slug = re.sub(r"[^\w-]+", "_", speaker).strip("_").lower() or "speaker"
    return f"{slug}-{index}"


def rank_voices(listed: list[dict[str, Any]]) -> list[str]:
    """Voice ids of ``/v1/voices`` in the order a dialog hands them out: neural voices first.

    The local server marks each voice's engine (``eleven_nb.engine``); espeak-ng is the
    formant fallback, so piper, hibari and anything unmarked (the real service) go first,
    the endpoint's default voice leading its group. The listed order decides the rest.
    """
    def key(item: tuple[int, dict[str, Any]]) -> tuple[int, int, int]:
        index, voice = item
        extra = voice.get("eleven_nb") or {}
        return (1 if extra.get("engine") == "espeak" else 0, 0 if extra.get("default") else 1, index)

    return [v["voice_id"] for _, v in sorted(enumerate(listed), key=key)]


def assign_voices(speakers: list[str], explicit: dict[str, str], session_voice: str,
                  listed: list[dict[str, Any]]) -> dict[str, str]:
    """A voice for every speaker: the given ones as given, the others distinct ones from ``listed``.

    The first speaker without a voice gets the session voice (``--voice``, the controls),
    the next ones the ranked voices not yet in use; with more speakers than voices the
    list starts over. A speaker keeps one voice for the whole script.
    """
    session = _canonical(session_voice, listed)
    taken = set(explicit.values())
    pool = [v for v in dict.fromkeys([session, *rank_voices(listed)]) if v not in taken] or [session]
    voices: dict[str, str] = {}
    free = 0
    for name in dict.fromkeys(speakers):
        if name in explicit:
            voices[name] = explicit[name]
        else:
            voices[name] = session_voice if pool[free % len(pool)] == session else pool[free % len(pool)]
            free += 1
    return voices


def _canonical(voice: str, listed: list[dict[str, Any]]) -> str:
    """The listed id a voice stands for: the default-voice alias means the endpoint's default."""
    if any(v["voice_id"] == voice for v in listed):
        return voice
    if voice == DEFAULT_VOICE_ID:
        default = next((v["voice_id"] for v in listed if (v.get("eleven_nb") or {}).get("default")), None)
        return default or voice
    return voice
