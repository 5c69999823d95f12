"""What people set at run time - mute, listening mode, wake word and its sensitivity - kept
across restarts, as the volume is.

Mute is a privacy control: a unit muted from Home Assistant must come back muted after a power
cut. The values live in one small JSON file in the state directory, rewritten atomically by a
state observer whenever one of them changes (from MQTT or a button); the composition root
reads it before building the pipeline, so the gate, the wake word detector and the published
state all start from what was last set. A saved value wins over the YAML's (delete the file
to go back to the YAML); a value that is no longer valid falls back to the YAML's, and an
unreadable file is kept aside as ``.bad``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.config import MODES, ListenSettings
from appliance.control.state import SENSITIVITY_RANGE, Snapshot
from appliance.core import atomic

log = logging.getLogger("appliance.control.preferences")


@dataclass(frozen=True)
class Preferences:
    muted: bool
    mode: str
    wake_word: str
    sensitivity: float

    @classmethod
    def from_settings(cls, listen: ListenSettings) -> Preferences:
        return cls(False, listen.mode, listen.wake_word, listen.sensitivity)


FIELDS = frozenset(f.name for f in dataclasses.fields(Preferences))


def _valid(name: str, value: Any) -> bool:
    if name == "muted":
        return isinstance(value, bool)
    if name == "mode":
        return value in MODES
    if name == "wake_word":
        return isinstance(value, str) and bool(value)
    lo, hi = SENSITIVITY_RANGE
    return not isinstance(value, bool) and isinstance(value, int | float) and lo <= value <= hi


class PreferenceStore:
    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / "preferences.json"

    def load(self, defaults: Preferences) -> Preferences:
        """The saved values over ``defaults`` (the YAML's)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        except FileNotFoundError:
            return defaults
        except (OSError, ValueError) as exc:
            bad = self.path.with_suffix(".json.bad")
            log.error("preferences: unreadable %s (%s); kept as %s, using the configuration",
                      self.path, exc, bad)
            with contextlib.suppress(OSError):
                os.replace(self.path, bad)
            return defaults
        saved = {}
        for name in FIELDS & set(data):
            if _valid(name, data[name]):
                saved[name] = data[name]
            else:
                log.warning("preferences: ignoring saved %s=%r (not valid now)", name, data[name])
        return dataclasses.replace(defaults, **saved)

    def save(self, prefs: Preferences) -> None:
        try:
            atomic.write_json(self.path, dataclasses.asdict(prefs))
        except OSError as exc:  # a full disk must not undo the change itself
            log.error("preferences: cannot save %s: %s", self.path, exc)

    def on_state(self, snap: Snapshot, changed: frozenset[str]) -> None:
        """State observer: save when one of the kept values changed."""
        if changed & FIELDS:
            self.save(Preferences(snap.muted, snap.mode, snap.wake_word, snap.sensitivity))
