"""Playback volume 0-100, persisted, applied as software gain.

The level is what people think in ("más alto"); the gain is what the playback worker multiplies
samples by. The mapping is quadratic so each step sounds like a similar change in loudness.
Every change is applied to playback's gain and reported (``VolumeChanged``) for Home
Assistant, whoever made it (voice, MQTT, a button).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from appliance.core import atomic
from appliance.pipeline.contracts import Sink
from appliance.pipeline.events import VolumeChanged

log = logging.getLogger("appliance.volume")


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
    ) -> None:
        self.path = Path(state_dir) / "volume.json"
        self.step = step
        self.events = events
        self._apply = apply
        self._lock = threading.Lock()
        self._level = default
        try:
            self._level = int(json.loads(self.path.read_text(encoding="utf-8"))["level"])
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("volume: unreadable %s (%s); using %d", self.path, exc, default)
        self._level = max(0, min(100, self._level))
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
        try:
            atomic.write_json(self.path, {"level": level})
        except OSError as exc:  # a full disk must not silence the volume change itself
            log.error("volume: cannot save %s: %s", self.path, exc)
