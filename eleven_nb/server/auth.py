"""API keys for the local server: where they come from and how they are compared."""
from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Mapping

from .. import protocol

KEYS_ENV = "ELEVEN_NB_SERVER_API_KEYS"  # comma-separated keys the server accepts


def keys_from_env(environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    return tuple(k.strip() for k in environ.get(KEYS_ENV, "").split(",") if k.strip())


def key_matches(candidate: str, keys: Iterable[str]) -> bool:
    """True if ``candidate`` is one of ``keys``, compared in constant time.

    Every key is compared (no early exit), so timing tells nothing about which
    key or how much of it matched.
    """
    # a header's bytes that are not UTF-8 reach us as surrogates: a wrong key, never an error
    given = candidate.encode("utf-8", "surrogatepass")
    found = False
    for key in keys:
        found |= hmac.compare_digest(given, key.encode())
    return found


def key_from_request(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """A key sent on the upgrade request: the ``xi-api-key`` header or ``authorization`` query."""
    key = headers.get(protocol.API_KEY_HEADER)
    if key:
        return key
    token = next((query[name] for name in protocol.AUTH_QUERY_PARAMS if query.get(name)), None)
    if token:
        return token.removeprefix("Bearer ").strip()
    bearer = headers.get("Authorization", "")
    return bearer.removeprefix("Bearer ").strip() or None
