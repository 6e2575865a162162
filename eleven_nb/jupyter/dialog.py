"""Dialog scripts: lines of the form ``Name: text`` become turns of named speakers."""
from __future__ import annotations

import re
from dataclasses import dataclass

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
