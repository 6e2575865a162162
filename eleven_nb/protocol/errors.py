"""Error ids, messages and close codes, and the error type that carries them."""
from __future__ import annotations

from typing import Any

from .limits import MAX_CONTEXTS

__all__ = [
    'CLOSE_INTERNAL',
    'CLOSE_NORMAL',
    'CLOSE_POLICY',
    'CLOSE_TOO_BIG',
    'CLOSE_TRY_AGAIN',
    'ERRORS',
    'MAX_CLOSE_REASON',
    'ProtocolError',
    'close_reason',
    'invalid',
]

# --- errors ------------------------------------------------------------------------

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013
MAX_CLOSE_REASON = 123  # bytes of UTF-8 a close frame's reason may hold (RFC 6455 §5.5)

_TIMEOUT_MESSAGE = (
    "Have not received a new text input within the timeout of {timeout:.1f} seconds. "
    "Streaming input terminated. Please make sure to either feed the input in the timely manner, "
    'or to send the end of input text (empty string "") when done.'
)
_INVALID_MESSAGE = (
    "Could not parse input message, make sure it is a json and follows the schema outlined in protocol."
)
_MAX_CONTEXTS_MESSAGE = (
    f"Maximum simultaneous contexts per WebSocket connection exceeded ({MAX_CONTEXTS}). "
    "Please close an existing context before opening a new one."
)
_VOICE_SETTINGS_MESSAGE = (
    "voice_settings field must be provided in the first message and then either be not provided or not change."
)

# error id -> (close code, message template). Ids the real service documents come
# first; the rest are the local server's own, named in the same style.
ERRORS: dict[str, tuple[int, str]] = {
    "input_timeout_exceeded": (CLOSE_POLICY, _TIMEOUT_MESSAGE),
    "invalid_input_message": (CLOSE_POLICY, _INVALID_MESSAGE + "{detail}"),
    "max_active_conversations": (CLOSE_POLICY, _MAX_CONTEXTS_MESSAGE),
    "voice_settings_changed": (CLOSE_POLICY, _VOICE_SETTINGS_MESSAGE),
    "authentication_required": (CLOSE_POLICY, "An API key is required: send it in the xi-api-key header, "
                                "the authorization query parameter, or xi_api_key in the first message."),
    "invalid_api_key": (CLOSE_POLICY, "Invalid API key."),
    "authentication_timeout": (CLOSE_POLICY, "No API key within {timeout:.0f} seconds: send it in the xi-api-key "
                               "header, the authorization query parameter, or xi_api_key in the first message."),
    "voice_not_found": (CLOSE_POLICY, "Voice {voice_id!r} was not found. Voices available here: {voices}."),
    "model_not_supported": (CLOSE_POLICY, "{detail}"),
    "invalid_query_parameter": (CLOSE_POLICY, "{detail}"),
    "message_too_big": (CLOSE_TOO_BIG, "Message too big: frames are limited to {limit} bytes."),
    "text_buffer_exceeded": (CLOSE_POLICY, "Too much text buffered ({size} characters, at most {limit}). "
                             "Send flush or wait for audio before sending more."),
    "too_many_connections": (CLOSE_TRY_AGAIN, "The server is at its connection limit ({limit}). Try again later."),
    "invalid_ssml": (CLOSE_POLICY, "The text holds SSML that cannot be read: {detail}"),
    "generation_failed": (CLOSE_POLICY, "We are sorry, something went wrong. You are not charged for this request."),
}


class ProtocolError(Exception):
    """A protocol-level error: the server's ``error`` id, close ``code`` and ``message``."""

    def __init__(self, error: str, message: str, code: int = CLOSE_POLICY, context_id: str | None = None):
        super().__init__(message)
        self.error = error
        self.message = message
        self.code = code
        self.context_id = context_id

    @classmethod
    def of(cls, error: str, context_id: str | None = None, **params: Any) -> ProtocolError:
        """Build the documented error ``error`` with its message filled from ``params``."""
        code, template = ERRORS[error]
        params.setdefault("detail", "")
        return cls(error, template.format(**params), code, context_id)

    def to_message(self, context_id: str | None = None) -> dict[str, Any]:
        """The JSON error frame (with ``contextId`` when only that context failed)."""
        frame: dict[str, Any] = {"message": self.message, "error": self.error, "code": self.code}
        if context_id is not None:
            frame["contextId"] = context_id
        return frame

    def __repr__(self) -> str:
        return f"{type(self).__name__}(error={self.error!r}, code={self.code}, message={self.message!r})"


def close_reason(message: str, limit: int = MAX_CLOSE_REASON) -> str:
    """``message`` cut to at most ``limit`` bytes of UTF-8, never inside a character
    (a reason cut mid-character is invalid UTF-8: clients then see 1007, not the code sent)."""
    data = message.encode("utf-8", "replace")
    if len(data) <= limit:
        return message
    return data[:limit].decode("utf-8", "ignore")


def invalid(detail: str) -> ProtocolError:
    """``invalid_input_message`` with a short explanation appended."""
    return ProtocolError.of("invalid_input_message", detail=f" ({detail})")
