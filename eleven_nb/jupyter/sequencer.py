"""Put audio of parallel contexts on one timeline, turn after turn.

In a dialog every turn is its own context and the server generates them at
the same time; the listener hears them one after another. The sequencer
releases a turn's chunks as soon as every earlier turn is complete, each with
its place (``at_ms``) on the global timeline and absolute character times.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..alignment import Alignment, Timeline


@dataclass
class Placed:
    """A chunk ready for the player."""

    lane: str
    at_ms: float
    pcm: np.ndarray  # int16 mono
    alignment: Alignment | None  # absolute on the global timeline


@dataclass
class _Turn:
    lane: str
    chunks: list[tuple[np.ndarray, Alignment | None]] = field(default_factory=list)
    final: bool = False


class Sequencer:
    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        self.timeline = Timeline()  # the global one: every released chunk, in play order
        self._turns: dict[str, _Turn] = {}
        self._order: list[str] = []
        self._cursor = 0  # index of the turn playing now

    def add_turn(self, turn_id: str, lane: str) -> None:
        self._turns[turn_id] = _Turn(lane)
        self._order.append(turn_id)

    def add_chunk(self, turn_id: str, pcm: np.ndarray, alignment: Alignment | None) -> list[Placed]:
        self._turns[turn_id].chunks.append((pcm, alignment))
        return self._release()

    def finish_turn(self, turn_id: str) -> list[Placed]:
        self._turns[turn_id].final = True
        return self._release()

    @property
    def done(self) -> bool:
        return self._cursor >= len(self._order)

    def _release(self) -> list[Placed]:
        out: list[Placed] = []
        while self._cursor < len(self._order):
            turn = self._turns[self._order[self._cursor]]
            for pcm, alignment in turn.chunks:
                audio_ms = len(pcm) * 1000.0 / self.sample_rate
                at = self.timeline.add_chunk(alignment, audio_ms)
                out.append(Placed(turn.lane, at, pcm, alignment.shifted(at) if alignment else None))
            turn.chunks.clear()
            if not turn.final:
                break
            self._cursor += 1
        return out
