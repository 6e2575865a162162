"""The wire log (``eleven_nb.wire`` at DEBUG): every message sent and received, keys hidden."""
from __future__ import annotations

import json
import logging
from typing import Any

from .. import protocol

wire = logging.getLogger("eleven_nb.wire")


def redact(message: dict[str, Any]) -> str:
    """A message for the debug log: keys hidden, audio shortened to its length."""
    shown = {k: ("***" if k in protocol.SECRET_FIELDS else v) for k, v in message.items()}
    if isinstance(shown.get("audio"), str):
        shown["audio"] = f"<{len(shown['audio'])} base64 chars>"
    return json.dumps(shown, ensure_ascii=False)
