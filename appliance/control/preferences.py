"""What people set at run time - mute, listening mode, wake word and its sensitivity - kept
across restarts, as the volume is.

Mute is a privacy control: a unit muted from Home Assistant must come back muted after a power
cut. The values live in one small JSON file in the state directory, rewritten atomically by a
state observer whenever one of them changes (from MQTT or a button); the composition root
reads it before building the pipeline, so the gate, the wake word detector and the published
state all start from what was last set. A saved value wins over the YAML's (delete the file
to go back to the YAML); a value that is no longer valid falls back to the YAML's, and an
unreadable file is kept aside as ``.bad``, and a full disk keeps them in memory until it
takes them.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.config import MODES, ListenSettings
from appliance.control.state import SENSITIVITY_RANGE, Snapshot
from appliance.pipeline.contracts import Sink
from appliance.pipeline.statefile import StateFile

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


def _parse(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object, got {type(doc).__name__}")
    return doc


class PreferenceStore:
    def __init__(self, state_dir: str | Path, events: Sink | None = None) -> None:
        self.path = Path(state_dir) / "preferences.json"
        self._file = StateFile(self.path, "preferences", events=events)

    def load(self, defaults: Preferences) -> Preferences:
        """The saved values over ``defaults`` (the YAML's)."""
        data = self._file.load(_parse)
        if data is None:
            return defaults
        saved = {}
        for name in FIELDS & set(data):
            if _valid(name, data[name]):
                saved[name] = data[name]
            else:
                log.warning("preferences: ignoring saved %s=%r (not valid now)", name, data[name])
        return dataclasses.replace(defaults, **saved)

    def save(self, prefs: Preferences) -> None:
        """A full disk must not undo the change itself: it is kept and written later."""
        self._file.save(dataclasses.asdict(prefs))

    def on_state(self, snap: Snapshot, changed: frozenset[str]) -> None:
        """State observer: save when one of the kept values changed; any state change is also
        the clock that retries a save the storage refused."""
        if changed & FIELDS:
            self.save(Preferences(snap.muted, snap.mode, snap.wake_word, snap.sensitivity))
        else:
            self._file.flush()
