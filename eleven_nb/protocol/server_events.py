"""What :class:`~eleven_nb.protocol.server.ServerConnection` asks of the engine side, and its settings."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import ProtocolError
from .limits import DEFAULT_INACTIVITY_TIMEOUT
from .settings import VoiceSettings

__all__ = [
    'AUTH_TIMEOUT', 'DEFAULT_MAX_BUFFERED_CHARS', 'Authenticated', 'ContextClosing', 'ContextOpened', 'Failed',
    'Generate', 'ServerConfig', 'ServerEvent',
]

AUTH_TIMEOUT = 5.0  # seconds a socket may stay without a key when keys are required
DEFAULT_MAX_BUFFERED_CHARS = 100_000  # text held per socket: buffered, queued or being spoken


# --- events (what the engine side must do) -------------------------------------------------


@dataclass(frozen=True)
class Authenticated:
    """The first message carried a valid key."""


@dataclass(frozen=True)
class ContextOpened:
    """A new context: set up its encoder and worker. ``ref`` names it from now on."""

    ref: int
    context_id: str | None  # the wire id (``None`` on stream-input)
    voice_settings: VoiceSettings | None


@dataclass(frozen=True)
class Generate:
    """Speak ``text`` for context ``ref``, after its earlier generations; then call ``generation_done``."""

    ref: int
    text: str


@dataclass(frozen=True)
class ContextClosing:
    """After its generations, flush context ``ref``'s audio and call ``context_done``."""

    ref: int


@dataclass(frozen=True)
class Failed:
    """The connection fails with ``error``: its frame is queued; stop all work and close."""

    error: ProtocolError


ServerEvent = Authenticated | ContextOpened | Generate | ContextClosing | Failed


@dataclass(frozen=True)
class ServerConfig:
    """What a connection is told at the handshake."""

    multi: bool = False
    auto_mode: bool = False
    inactivity_timeout: float = DEFAULT_INACTIVITY_TIMEOUT
    check_key: Callable[[str], bool] | None = None  # None: no key needed (or one came with the handshake)
    max_buffered_chars: int = DEFAULT_MAX_BUFFERED_CHARS
    auth_timeout: float = AUTH_TIMEOUT
