"""Typed client errors. Each carries the server's ``error`` id, close ``code`` and ``message``."""
from __future__ import annotations

import builtins

from ..protocol import ProtocolError


class ElevenError(Exception):
    """Base class of eleven_nb client errors."""


class EndpointError(ElevenError):
    """The endpoint could not be resolved or reached (e.g. the embedded server did not start)."""


class ServerError(ElevenError):
    """The server sent an error frame (and, usually, closed with its code)."""

    def __init__(self, error: str, code: int, message: str, context_id: str | None = None):
        super().__init__(f"{message} [{error}, close code {code}]")
        self.error = error
        self.code = code
        self.message = message
        self.context_id = context_id

    @classmethod
    def from_protocol(cls, err: ProtocolError) -> ServerError:
        return cls(err.error, err.code, err.message, err.context_id)


class ConnectionClosedError(ElevenError):
    """The socket closed with a code other than 1000 and no error frame explained it."""

    def __init__(self, code: int | None, reason: str = ""):
        # 1000 reaches here only from a send after a normal close
        what = "the connection is closed" if code == 1000 else "connection closed unexpectedly"
        super().__init__(f"{what} (code {code}){': ' + reason if reason else ''}")
        self.error = "connection_closed"
        self.code = code
        self.message = reason or f"connection closed with code {code}"
        self.reason = reason


class TimeoutError(ElevenError, builtins.TimeoutError):  # the package's own, as asyncio has one
    """A wait ran past its deadline: the handshake, or a server silent while a reply was owed.

    Also a builtin ``TimeoutError``, so ``except TimeoutError`` catches it either way.
    """

    def __init__(self, message: str, seconds: float | None = None):
        super().__init__(message)
        self.error = "timeout"
        self.code: int | None = None
        self.message = message
        self.seconds = seconds


class InvalidServerMessageError(ElevenError):
    """The server sent a frame the client cannot trust (not JSON, bad base64, broken alignment...).

    The client closes the socket with 1002 (protocol error); ``message`` says what was wrong.
    """

    def __init__(self, message: str, code: int = 1002):
        super().__init__(message)
        self.error = "invalid_server_message"
        self.code = code
        self.message = message
