"""Sample-rate and sample-format conversion between TTS engines and the playback device.

Engines speak at their native rate (Kokoro 24 kHz, Piper 22.05 kHz, espeak 22.05 kHz); the
device runs at one fixed rate, so everything is converted here, once, before it is queued.
"""

from __future__ import annotations

import numpy as np
import soxr


def resample(audio: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """float32 mono at ``dst_rate`` (soxr high quality); a no-op when the rates match."""
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if src_rate == dst_rate or audio.size == 0:
        return audio
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    return soxr.resample(audio, src_rate, dst_rate, quality="HQ").astype(np.float32, copy=False)


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float32 in -1..1 -> int16, clipped (no wrap-around on overshoot)."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype(np.int16)


def to_float32(pcm: np.ndarray | bytes) -> np.ndarray:
    """int16 samples (array or S16_LE bytes) -> float32 in -1..1."""
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        pcm = np.frombuffer(pcm, dtype="<i2")
    return pcm.astype(np.float32) / 32768.0
