"""eleven_nb: streaming text-to-speech in Jupyter over the ElevenLabs WebSocket protocol.

``%load_ext eleven_nb`` registers ``%%speak``. Under it sits a client for both
WebSocket endpoints (:class:`eleven_nb.Client`) and a local server that speaks
the same protocol offline (``eleven-nb serve``).
"""
__version__ = "0.1.0"
