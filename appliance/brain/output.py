"""What the brain needs from the output half, as two lookups, and the alarm sound.

The brain only ever sends ``SpeakRequest``s (text, or audio that is already rendered). The
composition root turns the output half's filler bank and rendered-audio cache into these two
callables, so the brain never imports the speak package.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from appliance.pipeline.messages import SpeakRequest

Prerendered = Callable[[str], "tuple[np.ndarray, int] | None"]  # text -> (audio, rate) or None
FillerSource = Callable[[int], "SpeakRequest | None"]  # answer id -> LOW filler request


def alarm_tone(rate: int = 24000) -> np.ndarray:
    """Three short two-tone beeps (1.2 s): recognisable over kitchen noise, no model needed."""
    t = np.arange(int(0.18 * rate)) / rate
    env = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
    beep = np.concatenate([np.sin(2 * np.pi * 880 * t), np.sin(2 * np.pi * 660 * t)]) * 0.5
    beep *= np.concatenate([env, env])
    gap = np.zeros(int(0.04 * rate))
    return np.concatenate([beep, gap] * 3).astype(np.float32)
