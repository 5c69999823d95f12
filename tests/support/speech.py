"""Test audio: Spanish utterances with known boundaries (Kokoro clips, espeak-ng), noises.

The generator itself lives in the package (appliance.demo.speech) because the demo and the
benchmark use it too; this module adds what only tests need.
"""

from __future__ import annotations

import numpy as np

from appliance.core.pcm import SPEECH_RATE as RATE
from appliance.core.pcm import to_int16
from appliance.demo.speech import SENTENCES, Utterance, compose, espeak, recorded

SPANISH_SENTENCES = SENTENCES

__all__ = ["RATE", "SPANISH_SENTENCES", "Utterance", "brown_noise", "compose", "espeak",
           "recorded", "to_int16", "white_noise"]


def white_noise(seconds: float, level: float = 0.3, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * RATE)) * level / 3).astype(np.float32)


def brown_noise(seconds: float, level: float = 0.3, seed: int = 2) -> np.ndarray:
    """Integrated white noise (1/f^2), high-passed at ~20 Hz so it does not wander off."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal(int(seconds * RATE)))
    x -= np.convolve(x, np.ones(800) / 800, mode="same")
    return (x / (np.abs(x).max() + 1e-9) * level).astype(np.float32)
