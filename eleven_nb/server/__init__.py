"""The local ElevenLabs-compatible text-to-speech server (``eleven-nb serve``)."""
from .app import build_state, create_app, gunicorn_app
from .state import ServerState
from .run import serve

__all__ = ["ServerState", "build_state", "create_app", "gunicorn_app", "serve"]
