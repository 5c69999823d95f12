"""The audio format every stage agrees on, and the one place that converts between formats.

Speech inside the pipeline is 16 kHz mono: capture delivers int16 periods, the VAD hands STT
float32 in -1..1. TTS engines speak at their own rates and playback runs at the device's, so
rate conversion (soxr) and int16/float32 conversion live here and nowhere else.
"""

from __future__ import annotations

import numpy as np
import soxr

SPEECH_RATE = 16000  # Hz: what the VAD, wake word and STT models are trained on
INT16_SCALE = 32768.0


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float32 in -1..1 -> int16, clipped (no wrap-around on overshoot)."""
    return (np.clip(audio, -1.0, 1.0) * (INT16_SCALE - 1)).round().astype(np.int16)


def to_float32(pcm: np.ndarray | bytes) -> np.ndarray:
    """int16 samples (array or S16_LE bytes) -> float32 in -1..1."""
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        pcm = np.frombuffer(pcm, dtype="<i2")
    return pcm.astype(np.float32) / INT16_SCALE


def resample(audio: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """float32 mono at ``dst_rate`` (soxr high quality); a no-op when the rates match."""
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if src_rate == dst_rate or audio.size == 0:
        return audio
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    return soxr.resample(audio, src_rate, dst_rate, quality="HQ").astype(np.float32, copy=False)


class StreamResampler:
    """Chunk-by-chunk rate conversion of one stream (capture at 48 kHz -> 16 kHz), keeping the
    filter state between chunks so chunk edges leave no clicks. One owner thread."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        self.src_rate, self.dst_rate = src_rate, dst_rate
        self._stream = soxr.ResampleStream(src_rate, dst_rate, 1, dtype="float32")

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        if self.src_rate == self.dst_rate:
            return np.asarray(chunk, dtype=np.float32)
        out: np.ndarray = self._stream.resample_chunk(np.asarray(chunk, dtype=np.float32))
        return out
