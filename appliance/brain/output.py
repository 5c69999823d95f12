"""How the brain talks to the output half: request types, alarm sound, cache adapters.

The brain only ever sends ``SpeakRequest``s (text, or audio that is already rendered) and
``Interrupt``s to one callable - the TTS producer's inbox ``put``. These adapters turn the
output half's filler bank and rendered-audio cache into the two lookups the brain needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from appliance.speak.messages import Priority, SpeakRequest

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


def filler_source(bank: Any, category: str = "thinking") -> FillerSource:
    """A FillerBank as the brain's filler source: pre-rendered audio, LOW priority."""

    def make(answer_id: int) -> SpeakRequest:
        f = bank.pick(category)
        return SpeakRequest(audio=f.audio, rate=f.sample_rate, priority=Priority.LOW,
                            kind="filler", answer=answer_id)

    return make


def prerendered_from_cache(cache: Any, style: Any) -> Prerendered:
    """A RenderedAudioCache lookup (never synthesizes: a miss is spoken as text instead)."""

    def lookup(text: str) -> tuple[np.ndarray, int] | None:
        audio = cache.get(text, style)
        return None if audio is None else (audio, cache.engine.sample_rate)

    return lookup


def prerender_static(templates: Any, cache: Any, style: Any,
                     stop: threading.Event | None = None) -> int:
    """Render every static answer and opening into the cache (disk hits cost nothing);
    meant for a background thread at start. Returns how many texts are now cached."""
    n = 0
    for text in templates.static_texts():
        if stop is not None and stop.is_set():
            break
        cache.render(text, style)
        n += 1
    return n
