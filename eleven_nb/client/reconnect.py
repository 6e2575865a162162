"""Reconnection policy: when a dropped socket is worth a new one, and how long to wait before it."""
from __future__ import annotations

from dataclasses import dataclass

# close codes after which a reconnect can help (the connection broke or the server went away)
RECONNECTABLE = {1001, 1006, 1011, 1012, 1013, None}


@dataclass(frozen=True)
class Reconnect:
    """Opt-in reconnection: up to ``max_attempts`` tries, backing off from ``base_delay``."""

    max_attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** attempt)
