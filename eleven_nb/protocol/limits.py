"""Endpoints and limits of the protocol."""
from __future__ import annotations

from ..schedule import DEFAULT_CHUNK_LENGTH_SCHEDULE, MIN_CHUNK_LENGTH  # one place: the buffer's own module

__all__ = [
    'API_KEY_HEADER', 'AUTH_QUERY_PARAMS', 'SECRET_FIELDS',
    'REAL_SERVICE_URL', 'STREAM_INPUT', 'MULTI_STREAM_INPUT', 'ENDPOINTS', 'DEFAULT_VOICE_ID',
    'endpoint_path', 'MAX_CONTEXTS', 'MAX_INACTIVITY_TIMEOUT', 'DEFAULT_INACTIVITY_TIMEOUT',
    'DEFAULT_CHUNK_LENGTH_SCHEDULE', 'CHUNK_LENGTH_RANGE', 'SEED_RANGE', 'MAX_INPUT_FRAME',
    'MAX_OUTPUT_FRAME', 'CLIENT_MAX_FRAME', 'KEEP_ALIVE_TEXT',
]

# --- endpoints -----------------------------------------------------------------

REAL_SERVICE_URL = "wss://api.elevenlabs.io"
STREAM_INPUT = "stream-input"
MULTI_STREAM_INPUT = "multi-stream-input"
ENDPOINTS = (STREAM_INPUT, MULTI_STREAM_INPUT)
DEFAULT_VOICE_ID = "21m00Tcm4TlvDq8ikWAM"  # the voice id used throughout ElevenLabs' docs


def endpoint_path(voice_id: str, endpoint: str = STREAM_INPUT) -> str:
    """``/v1/text-to-speech/{voice_id}/{endpoint}``."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {ENDPOINTS}, not {endpoint!r}")
    if not voice_id or "/" in voice_id:
        raise ValueError(f"voice_id must be a non-empty id without '/', not {voice_id!r}")
    return f"/v1/text-to-speech/{voice_id}/{endpoint}"


# --- limits ----------------------------------------------------------------------

MAX_CONTEXTS = 5
MAX_INACTIVITY_TIMEOUT = 180
DEFAULT_INACTIVITY_TIMEOUT = 20
CHUNK_LENGTH_RANGE = (MIN_CHUNK_LENGTH, 500)
SEED_RANGE = (0, 4_294_967_295)
MAX_INPUT_FRAME = 1 << 20  # the server accepts client frames up to 1 MiB
MAX_OUTPUT_FRAME = 1 << 20  # the official SDK reads with a 1 MiB limit: stay well under it
CLIENT_MAX_FRAME = 16 << 20  # clients accept up to 16 MiB, as pipecat does
KEEP_ALIVE_TEXT = " "  # stream-input keep-alive (and the initial text); "" would end the stream

# --- auth ------------------------------------------------------------------------------

API_KEY_HEADER = "xi-api-key"  # on the upgrade request
AUTH_QUERY_PARAMS = ("authorization", "single_use_token")  # bearer token / single-use token in the query
SECRET_FIELDS = ("xi_api_key", "xi-api-key", "authorization")  # first-message fields that carry a key
