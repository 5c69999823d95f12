"""Playback volume 0-100, persisted, applied as software gain.

The level is what people think in ("más alto"); the gain is what the playback worker multiplies
samples by. The mapping is quadratic so each step sounds like a similar change in loudness.
Every change is applied to playback's gain and reported (``VolumeChanged``) for Home
Assistant, whoever made it (voice, MQTT, a button).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.pipeline.contracts import Sink
from appliance.pipeline.events import VolumeChanged
from appliance.pipeline.statefile import StateFile


def _parse_level(doc: Any) -> int:
    level = doc["level"]
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 <= level <= 100:
        raise ValueError(f"level must be a number from 0 to 100, got {level!r}")
    return round(level)


def level_to_gain(level: int) -> float:
    return (max(0, min(100, level)) / 100.0) ** 2


class Volume:
    def __init__(
        self,
        state_dir: str | Path,
        apply: Callable[[float], None] | None = None,
        *,
        events: Sink | None = None,
        step: int = 10,
        default: int = 70,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(state_dir) / "volume.json"
        self.step = step
        self.events = events
        self._apply = apply
        self._lock = threading.Lock()
        self._file = StateFile(self.path, "volume", events=events, clock=clock)
        saved = self._file.load(_parse_level)
        self._level = max(0, min(100, default if saved is None else saved))
        if apply is not None:
            apply(level_to_gain(self._level))

    @property
    def level(self) -> int:
        with self._lock:
            return self._level

    def attach(self, apply: Callable[[float], None]) -> None:
        """Connect the playback gain setter once the playback worker exists."""
        with self._lock:
            self._apply = apply
            level = self._level
        apply(level_to_gain(level))

    def set(self, level: int, *, delta: int = 0) -> int:
        """Set the level (or change it by ``delta`` steps) atomically; returns the new level."""
        with self._lock:
            before = self._level
            target = self._level + delta * self.step if delta else int(level)
            self._level = max(0, min(100, target))
            level = self._level
            apply = self._apply
            self._save(level)
        if apply is not None:
            apply(level_to_gain(level))
        if self.events is not None and level != before:
            self.events.put(VolumeChanged(level=level))
        return level

    def up(self, steps: int = 1) -> int:
        return self.set(0, delta=steps)

    def down(self, steps: int = 1) -> int:
        return self.set(0, delta=-steps)

    def _save(self, level: int) -> None:
        """A full disk must not undo the change itself: it is kept and written later."""
        self._file.save({"level": level})

    def flush(self) -> None:
        """Write a level the storage refused earlier, once it takes it (the brain's clock)."""
        self._file.flush()
