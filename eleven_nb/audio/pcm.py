"""int16 PCM: conversion, soxr resampling (whole and streaming), WAV files."""
from __future__ import annotations

import struct

import numpy as np
import soxr


EMPTY = np.zeros(0, np.int16)
# a sample above this (-40 dBFS) is sound: a voice that could read none of its text gives near zeros
SOUND_PEAK = 328


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Floats in [-1, 1) (times 32768, undoing decoders' /32768) or any integers → int16, clipped."""
    samples = np.asarray(samples)
    if samples.dtype == np.int16:
        return samples
    if np.issubdtype(samples.dtype, np.floating):
        samples = np.round(samples * 32768.0)
    return np.clip(samples, -32768, 32767).astype(np.int16)


def has_sound(pcm: np.ndarray | None) -> bool:
    """Whether int16 samples hold any sound (a sample above :data:`SOUND_PEAK`)."""
    return pcm is not None and len(pcm) > 0 and int(np.abs(pcm.astype(np.int32)).max()) > SOUND_PEAK


def resample(pcm: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample a whole int16 mono signal with soxr (no aliasing, unlike linear interpolation)."""
    pcm = np.asarray(pcm, dtype=np.int16)
    if from_rate == to_rate or not len(pcm):
        return pcm
    return to_int16(soxr.resample(pcm, from_rate, to_rate))


class Resampler:
    """Resamples int16 mono that arrives in chunks, keeping soxr's filter state across them.

    Resampling each chunk on its own would restart the filter at every
    boundary (a click, and a few samples lost or gained each time); one stream
    gives the same samples as resampling the whole signal at once.
    """

    def __init__(self, from_rate: int, to_rate: int):
        self.from_rate, self.to_rate = from_rate, to_rate
        self._stream = None
        if from_rate != to_rate:
            self._stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype="int16")

    def process(self, pcm: np.ndarray, last: bool = False) -> np.ndarray:
        """The output available so far; ``last=True`` also drains the filter's tail."""
        pcm = np.asarray(pcm, dtype=np.int16)
        if self._stream is None:
            return pcm
        return self._stream.resample_chunk(pcm, last=last)

    __call__ = process

    def flush(self) -> np.ndarray:
        """The filter's remaining output, at the end of the stream."""
        return self.process(EMPTY, last=True)


STREAMING_SIZE = 0xFFFFFFFF  # a WAV header's sizes while the length is unknown (readers then read to the end)


def wav_header(sample_rate: int, data_bytes: int = STREAMING_SIZE) -> bytes:
    """The 44-byte header of a mono 16-bit PCM WAV file holding ``data_bytes`` of samples."""
    fmt_chunk = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * 2, 2, 16)  # PCM, mono, 16-bit
    riff = STREAMING_SIZE if data_bytes == STREAMING_SIZE else 36 + data_bytes
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
            + b"data" + struct.pack("<I", data_bytes))


def wav_bytes(pcm: bytes | np.ndarray, sample_rate: int) -> bytes:
    """A mono 16-bit PCM WAV file holding ``pcm`` (int16 samples or S16LE bytes)."""
    data = np.asarray(pcm, dtype="<i2").tobytes() if isinstance(pcm, np.ndarray) else bytes(pcm)
    if len(data) % 2:
        raise ValueError(f"S16LE PCM must have an even number of bytes, not {len(data)}")
    return wav_header(sample_rate, len(data)) + data
