"""One context's worker with the real espeak-ng engine and a real MP3 encoder: where silence is fed."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from eleven_nb.audio import decode_all, make_encoder
from eleven_nb.protocol import parse_output_format
from eleven_nb.server.context import ContextWorker
from eleven_nb.server.engines.base import SynthesisSettings
from eleven_nb.server.engines.espeak import EspeakEngine
from eleven_nb.server.frames import FrameBuilder

MP3 = parse_output_format("mp3_22050_32")


class Received:
    """The reports of one context: its audio, and the ends of its generations and of itself, in order."""

    def __init__(self) -> None:
        self.audio = b""
        self.ends: list[str] = []

    async def frame(self, ref, frame) -> None:
        self.audio += frame.audio

    async def generation_done(self, ref) -> None:
        self.ends.append("generation")

    async def context_done(self, ref) -> None:
        self.ends.append("context")

    async def context_failed(self, ref, error=None) -> None:
        raise AssertionError(f"context failed: {error}")


class CountingBuilder(FrameBuilder):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.drained: list[int] = []  # engine samples of silence fed at each drain

    def drain(self):
        before = self._position
        frames = super().drain()
        self.drained.append(self._position - before)
        return frames


async def speak(texts: list[str], *, queued: bool) -> tuple[CountingBuilder, Received]:
    engine = EspeakEngine()
    voice = engine.voices()[0].voice_id
    builder = CountingBuilder(make_encoder(MP3, engine.sample_rate), engine.sample_rate)
    received = Received()
    with ThreadPoolExecutor(1) as pool:
        worker = ContextWorker(1, engine=engine, engine_voice_id=voice, settings=SynthesisSettings(),
                               builder=builder, pool=pool, reports=received)
        for sent, text in enumerate(texts, 1):
            worker.generate(text)
            if not queued:  # the client waits for each generation's audio before sending more
                while len(received.ends) < sent:
                    await asyncio.sleep(0.01)
        worker.close()
        await asyncio.wait_for(worker.task, 30)
    return builder, received


async def test_a_generation_with_nothing_after_it_is_pushed_out_of_the_codec():
    builder, received = await speak(["Cut off in the middle and ", "then the rest of it."], queued=False)
    assert builder.drained[0] > 0  # the first ended mid-sentence: LAME held speech, silence pushed it out
    assert builder.drained[1] == 0  # the second ends a sentence, in silence: nothing held worth pushing
    assert received.ends == ["generation", "generation", "context"]


async def test_a_generation_queued_behind_another_carries_the_held_audio_out_without_silence():
    """Silence at a generation's end is heard as a pause: when the next text is already waiting, its audio
    pushes the codec's held frames out instead (drain is not called), so no pause is added mid-sentence."""
    builder, received = await speak(["Cut off in the middle and ", "then the rest of it."], queued=True)
    assert len(builder.drained) == 1  # after the last only: its audio and timing go out before the close
    pcm, rate = decode_all(received.audio, MP3)
    assert np.abs(pcm).max() > 1000 and received.ends == ["generation", "generation", "context"]
