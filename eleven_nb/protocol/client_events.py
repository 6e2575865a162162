"""What :class:`~eleven_nb.protocol.client.ClientConnection` reports: one event per server frame,
and a timeout from its clock."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ProtocolError
from .messages import ServerMessage

__all__ = ["AudioReceived", "ClientEvent", "ErrorReceived", "FinalReceived", "OtherReceived", "TimedOut"]


@dataclass(frozen=True)
class _FrameReceived:
    """A parsed server frame for a context (``None`` on stream-input)."""

    context_id: str | None
    message: ServerMessage


class AudioReceived(_FrameReceived):
    """An audio chunk (or alignment without audio)."""


class FinalReceived(_FrameReceived):
    """The context's final message: nothing more comes for it."""


class OtherReceived(_FrameReceived):
    """A frame with nothing to play (e.g. ``flush_done``), or one for a context already finished."""


@dataclass(frozen=True)
class ErrorReceived:
    """An error. ``context_id`` set: only that context failed. ``None``: the connection failed.

    ``message`` is ``None`` when the frame itself was corrupt (then ``error.error`` is
    ``invalid_server_message`` and the client should close with ``error.code``).
    """

    error: ProtocolError
    context_id: str | None = None
    message: ServerMessage | None = None


@dataclass(frozen=True)
class TimedOut:
    """No frame arrived within ``seconds`` while a reply was awaited; the connection failed."""

    seconds: float
    awaited: str


ClientEvent = AudioReceived | FinalReceived | OtherReceived | ErrorReceived | TimedOut
