"""Audio shared by client and server, one job per module.

- :mod:`.g711`: μ-law / A-law (numpy, bit-exact with the old ``audioop``);
- :mod:`.pcm`: int16 conversion, soxr resampling (whole and streaming), WAV files;
- :mod:`.ogg`: Ogg Opus demuxing page by page;
- :mod:`.decode`: decoding a stream as it arrives, or a whole file;
- :mod:`.encode`: one streaming encoder per stream (PCM, G.711, MP3, Ogg Opus);
- :mod:`.files`: saving in the form a file's extension names.

Resampling is soxr's, MP3 and Opus coding lameenc's and PyAV's. Nothing here
knows about sockets, servers or clients.
"""
from __future__ import annotations

from .decode import StreamDecoder, decode_all, decode_container
from .encode import StreamEncoder, make_encoder
from .files import SAVE_EXTENSIONS, save_audio
from .g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from .pcm import Resampler, has_sound, resample, to_int16, wav_bytes

__all__ = [
    "SAVE_EXTENSIONS", "Resampler", "StreamDecoder", "StreamEncoder", "alaw_decode", "alaw_encode",
    "decode_all", "decode_container", "has_sound", "make_encoder", "resample", "save_audio", "to_int16", "ulaw_decode",
    "ulaw_encode", "wav_bytes",
]
