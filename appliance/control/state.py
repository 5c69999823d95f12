"""The one place that owns what the appliance is doing and how it is set.

MQTT and GPIO both read and change the appliance through here, so Home Assistant, the LED and
the buttons can never disagree. Changes are delivered to observers in the order they happened:
a dedicated notify lock serializes delivery, the state lock only guards the fields. An
observer may call back into the machine (the notify lock is re-entrant); an observer that
raises is logged and skipped, never allowed to break the caller.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from appliance.config import MODES, ListenSettings, allowed_range
from appliance.control.phase import PHASES

log = logging.getLogger("appliance.control.state")

STATES: tuple[str, ...] = (*PHASES[:-1], "muted", "error")
EVENT_TYPES: tuple[str, ...] = (
    "transcript", "intent", "answer", "wake_word", "interrupted", "announcement_finished",
    "timer_finished", "button_press", "error",
)
SENSITIVITY_RANGE = allowed_range(ListenSettings, "sensitivity")


@dataclass(frozen=True)
class TimerInfo:
    id: int
    name: str
    total_s: int
    ends_at: float  # wall-clock epoch seconds

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "total_s": self.total_s,
                "ends_at": iso_time(self.ends_at)}


def iso_time(epoch: float) -> str:
    """What Home Assistant reads as a timestamp: ISO 8601 with the UTC offset."""
    return datetime.fromtimestamp(round(epoch), UTC).isoformat()


@dataclass(frozen=True)
class Snapshot:
    """Everything observers may show; immutable so it can cross threads freely."""

    seq: int
    phase: str = "idle"
    error: str = ""
    ringing: bool = False
    volume: int = 50
    muted: bool = False
    mode: str = "always"
    wake_word: str = ""
    sensitivity: float = 0.5
    last_transcript: str = ""
    last_answer: str = ""
    timers: tuple[TimerInfo, ...] = ()  # counting down, soonest first
    last_response_ms: float | None = None
    last_interrupt_ms: float | None = None

    @property
    def state(self) -> str:
        """The single word Home Assistant and the LED show.

        Errors win; speech and alarms stay visible while muted (both play with the mic
        muted); otherwise a muted mic hides the input phases.
        """
        if self.phase in ("error", "speaking", "ringing"):
            return self.phase
        if self.muted:
            return "muted"
        return self.phase

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "phase": self.phase,
            "error": self.error,
            "listening": self.phase == "listening" and not self.muted,
            "speaking": self.phase == "speaking",
            "ringing": self.ringing,
            "volume": self.volume,
            "muted": self.muted,
            "mode": self.mode,
            "wake_word": self.wake_word,
            "sensitivity": self.sensitivity,
            "last_transcript": self.last_transcript,
            "last_answer": self.last_answer,
            "timers": [t.as_dict() for t in self.timers],
            "next_timer": iso_time(self.timers[0].ends_at) if self.timers else None,
            "last_response_ms": self.last_response_ms,
            "last_interrupt_ms": self.last_interrupt_ms,
        }


@dataclass(frozen=True)
class EntityEvent:
    """A momentary happening (Home Assistant event entity): not part of the state."""

    event_type: str
    detail: dict[str, Any] = field(default_factory=dict)
    t: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {"event_type": self.event_type, **self.detail}


StateObserver = Callable[[Snapshot, frozenset[str]], None]
EventObserver = Callable[[EntityEvent], None]


class StateMachine:
    """Owns appliance state; every change goes through a method that validates it."""

    def __init__(self, *, volume: int = 50, muted: bool = False, mode: str = "always",
                 wake_word: str = "", sensitivity: float = 0.5,
                 diagnostics: Callable[[], dict[str, Any]] | None = None) -> None:
        """``diagnostics``: extra figures for the diagnostics topic (the interpreter's GIL
        state: the composition root asks the system layer for it)."""
        self._extra = diagnostics
        self._lock = threading.Lock()
        self._notify = threading.RLock()
        self._snap = Snapshot(seq=0)
        self._snap = self._validated(volume=volume, muted=muted, mode=mode, wake_word=wake_word,
                                     sensitivity=sensitivity)
        self._observers: list[StateObserver] = []
        self._event_observers: list[EventObserver] = []
        self._started = time.monotonic()
        self._cpu_mark = (time.monotonic(), _process_cpu_s())

    # --- observers --------------------------------------------------------------------------

    def subscribe(self, observer: StateObserver) -> Callable[[], None]:
        """Register; returns a function that unregisters. The current state is not replayed."""
        with self._lock:
            self._observers.append(observer)
        return lambda: self._remove(self._observers, observer)

    def subscribe_events(self, observer: EventObserver) -> Callable[[], None]:
        with self._lock:
            self._event_observers.append(observer)
        return lambda: self._remove(self._event_observers, observer)

    def _remove(self, observers: list[Any], observer: Any) -> None:
        with self._lock:
            if observer in observers:
                observers.remove(observer)

    # --- reads ------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snap

    def diagnostics(self) -> dict[str, Any]:
        """Process CPU since the previous call (percent of one core), uptime, latencies and
        whatever the composition root adds (the GIL state)."""
        now, cpu = time.monotonic(), _process_cpu_s()
        with self._lock:
            t0, c0 = self._cpu_mark
            self._cpu_mark = (now, cpu)
            snap = self._snap
        wall = now - t0
        return {
            "cpu_percent": round(100.0 * (cpu - c0) / wall, 1) if wall > 0 else 0.0,
            "uptime_s": round(now - self._started, 1),
            "last_response_ms": snap.last_response_ms,
            "last_interrupt_ms": snap.last_interrupt_ms,
            **(self._extra() if self._extra is not None else {}),
        }

    # --- writes -----------------------------------------------------------------------------

    def set_phase(self, phase: str, error: str = "", *, ringing: bool = False) -> None:
        """What the pipeline is doing; ``error`` explains an ``error`` phase; ``ringing``: a
        timer rings (also under an error)."""
        self._update(phase=phase, error=error if phase == "error" else "", ringing=ringing)

    def set_volume(self, volume: int) -> None:
        self._update(volume=volume)

    def set_muted(self, muted: bool) -> None:
        self._update(muted=muted)

    def set_mode(self, mode: str) -> None:
        self._update(mode=mode)

    def set_wake_word(self, word: str) -> None:
        self._update(wake_word=word)

    def set_sensitivity(self, sensitivity: float) -> None:
        self._update(sensitivity=sensitivity)

    def set_transcript(self, text: str) -> None:
        self._update(last_transcript=text)

    def set_answer(self, text: str) -> None:
        self._update(last_answer=text)

    def set_timers(self, timers: tuple[TimerInfo, ...] | list[TimerInfo]) -> None:
        self._update(timers=tuple(timers))

    def record_response_time(self, ms: float) -> None:
        """End of the person's speech -> the appliance's first sound."""
        self._update(last_response_ms=round(float(ms), 1))

    def record_interrupt_latency(self, ms: float) -> None:
        self._update(last_interrupt_ms=round(float(ms), 1))

    def emit(self, event_type: str, **detail: Any) -> None:
        """Announce an event (wake word heard, button pressed, timer finished...)."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"event_type: got {event_type!r}, expected one of {EVENT_TYPES}")
        ev = EntityEvent(event_type, detail)
        with self._notify:
            with self._lock:
                observers = list(self._event_observers)
            for obs in observers:
                _call(obs, ev)

    # --- internals --------------------------------------------------------------------------

    def _validated(self, **changes: Any) -> Snapshot:
        if "phase" in changes and changes["phase"] not in PHASES:
            raise ValueError(f"phase: got {changes['phase']!r}, expected one of {PHASES}")
        if "mode" in changes and changes["mode"] not in MODES:
            raise ValueError(f"mode: got {changes['mode']!r}, expected one of {MODES}")
        if "volume" in changes:
            v = changes["volume"]
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 100:
                raise ValueError(f"volume: got {v!r}, expected an integer 0-100")
        for key in ("muted", "ringing"):
            if key in changes and not isinstance(changes[key], bool):
                raise ValueError(f"{key}: got {changes[key]!r}, expected true or false")
        if "sensitivity" in changes:
            v, (lo, hi) = changes["sensitivity"], SENSITIVITY_RANGE
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise ValueError(f"sensitivity: got {v!r}, expected a number {lo}-{hi}")
            changes["sensitivity"] = float(v)
        for key in ("last_transcript", "last_answer", "error", "wake_word"):
            if key in changes and not isinstance(changes[key], str):
                raise ValueError(f"{key}: got {type(changes[key]).__name__}, expected a string")
        return dataclasses.replace(self._snap, **changes)

    def _update(self, **changes: Any) -> None:
        with self._notify:
            with self._lock:
                new = self._validated(**changes)
                old = self._snap
                changed = frozenset(
                    k for k in changes if getattr(old, k) != getattr(new, k)
                )
                if old.state != new.state:
                    changed |= {"state"}
                if not changed:
                    return
                new = dataclasses.replace(new, seq=old.seq + 1)
                self._snap = new
                observers = list(self._observers)
            for obs in observers:
                _call(obs, new, changed)


def _call(obs: Callable[..., None], *args: Any) -> None:
    try:
        obs(*args)
    except Exception:
        log.exception("state observer %r failed; skipped", obs)


def _process_cpu_s() -> float:
    t = os.times()
    return t.user + t.system
