"""A driver for :class:`ServerConnection` (tests and the fuzzer): strings in, parsed frames out, a fake clock.

With ``engine=True`` every generation is "spoken" at once (one audio frame whose
alignment is the generation's text); with ``engine=False`` the events wait in
``pending`` and the test decides when each generation and context finishes,
as a slow engine would.
"""
from __future__ import annotations

import json
from typing import Any

from eleven_nb.alignment import Alignment
from eleven_nb.protocol.server import (
    ContextClosing,
    ContextOpened,
    Generate,
    ServerConfig,
    ServerConnection,
    ServerEvent,
)


def timing(text: str) -> Alignment:
    return Alignment(tuple(text), tuple(float(i) for i in range(len(text))), tuple(1.0 for _ in text))


class Peer:
    def __init__(self, *, multi: bool = False, engine: bool = True, **config: Any):
        self.now = 0.0
        self.conn = ServerConnection(ServerConfig(multi=multi, **config), self.now)
        self.engine = engine
        self.frames: list[dict[str, Any]] = []  # every frame the server sent, parsed
        self.events: list[ServerEvent] = []  # every event, in order
        self.pending: list[ServerEvent] = []  # events the fake engine has not run yet (engine=False)
        self.ids: dict[int, str | None] = {}  # ref -> wire id

    # --- the client side ---------------------------------------------------------------------

    def send(self, *messages: dict[str, Any] | str) -> Peer:
        for message in messages:
            data = message if isinstance(message, str) else json.dumps(message)
            self.conn.receive_text(data, self.now)
            self.pump()
        return self

    def advance(self, seconds: float) -> Peer:
        self.now += seconds
        self.conn.tick(self.now)
        self.pump()
        return self

    # --- the engine side ----------------------------------------------------------------------

    def pump(self) -> None:
        for event in self.conn.events():
            self.events.append(event)
            if isinstance(event, ContextOpened):
                self.ids[event.ref] = event.context_id
            elif self.engine:
                self.run(event)
            else:
                self.pending.append(event)
        self.frames += [json.loads(text) for text in self.conn.data_to_send()]

    def run(self, event: ServerEvent) -> None:
        if isinstance(event, Generate):
            self.conn.audio(event.ref, event.text.encode(), timing(event.text), timing(" " + event.text))
            self.conn.generation_done(event.ref, self.now)
        elif isinstance(event, ContextClosing):
            self.conn.context_done(event.ref)

    def run_pending(self, ref: int | None = None, count: int | None = None) -> Peer:
        """Run the waiting events (of context ``ref``; the first ``count`` of them)."""
        chosen = [e for e in self.pending if ref is None or getattr(e, "ref", None) == ref][:count]
        for event in chosen:
            self.pending.remove(event)
            self.run(event)
        self.pump()
        return self

    # --- reading what happened ----------------------------------------------------------------

    @property
    def generated(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, Generate)]

    def spoken(self, context_id: str | None = None) -> str:
        return "".join("".join(f["alignment"]["chars"]) for f in self.frames
                       if f.get("alignment") and f.get("contextId") == context_id)

    @property
    def finals(self) -> list[str | None]:
        return [f.get("contextId") for f in self.frames if f.get("isFinal")]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if "error" in f]

    @property
    def close(self) -> tuple[int, str] | None:
        return self.conn.close

