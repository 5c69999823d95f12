"""The one interface every TTS engine implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from appliance.config import StyleSettings


class TtsError(RuntimeError):
    """Synthesis failed (bad model, engine crash); the message says what to do."""


class TtsEngine(Protocol):
    name: str
    voice: str  # model/speaker actually used; part of rendered-audio cache keys
    sample_rate: int  # native output rate; callers resample to the device rate

    def synthesize(self, text: str, style: StyleSettings) -> np.ndarray:
        """Speech for ``text`` as float32 mono samples in -1..1 at ``sample_rate``."""
        ...


@runtime_checkable
class StandIn(Protocol):
    """An engine that may hand a sentence to a fallback engine (a Wyoming server that
    failed): that audio is spoken but must not be cached under the server's voice."""

    def stood_in(self) -> bool:
        """True if this thread's last ``synthesize`` came from the fallback."""
        ...
