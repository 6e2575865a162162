"""The ElevenLabs text-to-speech WebSocket protocol, with no I/O.

One place for every wire fact of both endpoints (``stream-input`` and
``multi-stream-input``): field names, query parameters with their defaults and
limits, output formats, voice settings, error ids, messages and close codes.
The client and the local server both import it; tests feed it dicts and strings.

Reading is tolerant of the spellings seen in the wild (``isFinal``/``is_final``,
``contextId``/``context_id``, ``charDurationsMs``/``charsDurationsMs``,
``xi_api_key``/``xi-api-key``); writing uses the spelling the real service uses.
See ``docs/protocol.md``.
"""
from __future__ import annotations

# One package, four small modules; everything is re-exported here, so ``protocol.X`` is the one name.
from .errors import *  # noqa: F401,F403
from .limits import *  # noqa: F401,F403
from .messages import *  # noqa: F401,F403
from .settings import *  # noqa: F401,F403
