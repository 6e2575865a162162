"""Saving received audio to a file in the form its extension names."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..protocol import OutputFormat
from .decode import decode_all
from .encode import make_encoder
from .g711 import alaw_encode, ulaw_encode
from .pcm import resample, wav_bytes


SAVE_EXTENSIONS = (".wav", ".mp3", ".ogg", ".opus", ".pcm", ".raw", ".ulaw", ".alaw")


def save_audio(path: str | Path, data: bytes | np.ndarray, fmt: OutputFormat) -> Path:
    """Write audio received in ``fmt`` to ``path``, in the form its extension names.

    Bytes already in the asked-for form are written as they are (``.mp3`` from
    mp3, ``.ogg``/``.opus`` from opus, ``.pcm``/``.raw`` from pcm, ``.ulaw`` from
    ulaw, ``.alaw`` from alaw); otherwise the audio is decoded and re-encoded:
    ``.wav`` is a mono 16-bit WAV at the received rate, ``.pcm``/``.raw`` headerless
    S16LE, ``.ulaw``/``.alaw`` raw G.711 at 8 kHz, ``.mp3`` via lameenc, ``.ogg``/
    ``.opus`` Ogg Opus via PyAV. ``data`` may also be int16 samples at ``fmt``'s rate.
    """
    path = Path(path).expanduser()
    ext = path.suffix.lower()
    if ext not in SAVE_EXTENSIONS:
        raise ValueError(f"cannot save audio as {ext or 'a file without an extension'!r}; "
                         f"use one of {', '.join(SAVE_EXTENSIONS)}")
    if not path.parent.is_dir():  # before any decoding: said plainly, not from deep inside pathlib
        raise FileNotFoundError(f"cannot save audio to {str(path)!r}: the folder {str(path.parent)!r} does not exist")
    raw = np.asarray(data, dtype="<i2").tobytes() if isinstance(data, np.ndarray) else bytes(data)
    same = {".mp3": "mp3", ".ogg": "opus", ".opus": "opus", ".pcm": "pcm", ".raw": "pcm",
            ".ulaw": "ulaw", ".alaw": "alaw"}
    if same.get(ext) == fmt.codec:
        path.write_bytes(raw[:len(raw) - len(raw) % 2] if fmt.codec == "pcm" else raw)
        return path
    pcm, rate = decode_all(raw, fmt)
    if ext == ".wav":
        out = wav_bytes(pcm, rate)
    elif ext in (".pcm", ".raw"):
        out = pcm.astype("<i2").tobytes()
    elif ext in (".ulaw", ".alaw"):
        narrow = resample(pcm, rate, 8000)
        out = ulaw_encode(narrow) if ext == ".ulaw" else alaw_encode(narrow)
    else:
        if ext == ".mp3":  # MPEG-1 rates take 128 kbps; lower rates (MPEG-2) 64 kbps at 22050 Hz
            target = OutputFormat("mp3_44100_128", "mp3", 44100, 128) if rate > 24000 else \
                OutputFormat("mp3_22050_64", "mp3", 22050, 64)
        else:
            target = OutputFormat("opus_48000_64", "opus", 48000, 64)
        encoder = make_encoder(target, rate)
        out = encoder.encode(pcm) + encoder.flush()
    path.write_bytes(out)
    return path
