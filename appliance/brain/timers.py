"""Kitchen timers: several at once, optionally named, surviving a restart.

Deadlines are wall-clock (epoch) seconds because a monotonic clock restarts with the process;
the state is one small JSON file replaced atomically, so a power cut leaves either the old or
the new file, never half of one. A timer that ended while the appliance was off fires on the
first check after start (with its lateness), so nobody's pasta is forgotten silently.

A finished timer *rings*: a ``fired`` event, then a ``ring`` event every ``ring_every_s`` until
``stop()`` (the interruption service: voice "para", button, MQTT) or ``max_ring_s`` after it
started ringing. The brain worker is the one clock: it calls ``check()`` between messages and
between LLM tokens, and sounds the alarm. Every change to the set of timers is reported as a
``TimersChanged`` event (Home Assistant shows them), a timer reaching zero as ``TimerFinished``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from appliance.core.text import strip_accents
from appliance.pipeline.contracts import Refusal, Sink
from appliance.pipeline.events import Event, TimerFinished, TimersChanged, TimerView
from appliance.pipeline.statefile import StateFile

log = logging.getLogger("appliance.timers")

_FILLER_WORDS = {"el", "la", "los", "las", "de", "del", "temporizador", "alarma", "timer", "para"}


def name_key(name: str) -> str:
    """'El de la Pasta' and 'pasta' are the same timer: lower case, no accents, no articles."""
    text = strip_accents(name.lower())
    words = "".join(c if c.isalnum() else " " for c in text).split()
    return " ".join(w for w in words if w not in _FILLER_WORDS)


@dataclass(frozen=True)
class Timer:
    id: int
    seconds: int
    ends_at: float  # wall-clock epoch seconds
    name: str = ""
    ring_started: float | None = None  # set while ringing

    def remaining(self, now: float) -> float:
        return max(0.0, self.ends_at - now)

    @property
    def label(self) -> str:
        return self.name or f"#{self.id}"


@dataclass(frozen=True)
class TimerEvent:
    kind: Literal["fired", "ring", "ring_end"]
    timer: Timer
    late_s: float = 0.0  # fired: how long after its deadline it fired (restart, slow check)
    reason: str = ""  # ring_end: "stopped" or "max"


TimerErrorCode = Literal["out_of_range", "name_taken", "limit_reached", "ambiguous", "not_found"]


class TimerError(Refusal):
    """A request the service cannot honour; ``code`` says which (for MQTT and for the spoken
    reply), the message says it in words for the log."""

    def __init__(self, code: TimerErrorCode, message: str) -> None:
        super().__init__(code, message)


def _parse_state(doc: Any) -> tuple[int, list[Timer]]:
    """``timers.json`` checked field by field: a deadline that is a string or infinite would
    load and then break every later check (and with it every answer)."""
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object, got {type(doc).__name__}")
    raw = doc.get("timers", [])
    if not isinstance(raw, list):
        raise ValueError(f"'timers' must be a list, got {type(raw).__name__}")
    timers = []
    for t in raw:
        if not isinstance(t, dict):
            raise ValueError(f"a timer must be an object, got {t!r}")
        ring = t.get("ring_started")
        timers.append(Timer(
            id=_count(t["id"], "id"), seconds=_count(t["seconds"], "seconds"),
            ends_at=_instant(t["ends_at"], "ends_at"), name=_text(t.get("name", ""), "name"),
            ring_started=None if ring is None else _instant(ring, "ring_started")))
    return _count(doc.get("next_id", 1), "next_id"), timers


def _count(v: Any, field: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{field} must be a positive integer, got {v!r}")
    return v


def _instant(v: Any, field: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"{field} must be a finite number of seconds, got {v!r}")
    return float(v)


def _text(v: Any, field: str) -> str:
    if not isinstance(v, str):
        raise ValueError(f"{field} must be text, got {v!r}")
    return v


class TimerService:
    """Thread-safe: every public method takes the one lock; events are reported outside it."""

    def __init__(
        self,
        state_dir: str | Path,
        *,
        events: Sink | None = None,
        clock: Callable[[], float] = time.time,
        max_ring_s: float = 900.0,
        ring_every_s: float = 3.0,
        max_timers: int = 20,
    ) -> None:
        self.path = Path(state_dir) / "timers.json"
        self._file = StateFile(self.path, "timers", events=events, clock=clock)
        self.events = events
        self.clock = clock
        self.max_ring_s = max_ring_s
        self.ring_every_s = ring_every_s
        self.max_timers = max_timers
        self._lock = threading.Lock()
        self._timers: dict[int, Timer] = {}
        self._last_ring: dict[int, float] = {}
        self._next_id = 1
        self._load()

    # --- persistence --------------------------------------------------------------------

    def _load(self) -> None:
        loaded = self._file.load(_parse_state)
        if loaded is not None:
            next_id, timers = loaded
            self._timers = {t.id: t for t in timers}
            self._next_id = max([next_id, *(t.id + 1 for t in timers)])

    def _save(self) -> None:
        """Never raises: a full or read-only disk keeps the timers in memory (they still ring)
        and the file catches up once the storage takes it (``check`` retries)."""
        self._file.save({"next_id": self._next_id,
                         "timers": [asdict(t) for t in self._timers.values()]})

    @property
    def saved(self) -> bool:
        """Whether every timer is on disk (a restart now would keep them)."""
        return self._file.saved

    # --- requests -----------------------------------------------------------------------

    def add(self, seconds: int, name: str = "") -> Timer:
        if seconds <= 0:
            raise TimerError("out_of_range", f"a timer needs a positive duration, got {seconds} s")
        with self._lock:
            pending = [t for t in self._timers.values() if t.ring_started is None]
            if len(pending) >= self.max_timers:
                raise TimerError("limit_reached",
                                 f"too many timers ({self.max_timers}); cancel one first")
            if name and any(name_key(t.name) == name_key(name) for t in pending):
                raise TimerError("name_taken", f"there is already a timer called {name!r}")
            timer = Timer(self._next_id, int(seconds), self.clock() + seconds, name.strip())
            self._next_id += 1
            self._timers[timer.id] = timer
            self._save()
        self._changed()
        return timer

    def pending(self) -> list[Timer]:
        """Timers still counting down, soonest first."""
        with self._lock:
            return sorted((t for t in self._timers.values() if t.ring_started is None),
                          key=lambda t: t.ends_at)

    def ringing(self) -> list[Timer]:
        with self._lock:
            return [t for t in self._timers.values() if t.ring_started is not None]

    def find(self, name: str) -> list[Timer]:
        """Pending timers matching a spoken name ('el de la pasta' finds 'pasta')."""
        key = name_key(name)
        if not key:
            return []
        timers = self.pending()
        exact = [t for t in timers if name_key(t.name) == key]
        return exact or [t for t in timers if t.name and set(key.split()) & set(
            name_key(t.name).split())]

    def remaining(self, name: str = "") -> list[tuple[Timer, float]]:
        """(timer, seconds left) for the named timer, or for all when no name is given."""
        now = self.clock()
        timers = self.find(name) if name else self.pending()
        return [(t, t.remaining(now)) for t in timers]

    def cancel(self, name: str = "", timer_id: int | None = None) -> list[Timer]:
        """By id or name; with neither, the only pending timer (several -> TimerError)."""
        if timer_id is not None:
            targets = [t for t in self.pending() if t.id == timer_id]
        elif name:
            targets = self.find(name)
        else:
            targets = self.pending()
            if len(targets) > 1:
                raise TimerError("ambiguous",
                                 f"{len(targets)} timers are running; say which one or 'all'")
        return self._remove(targets)

    def cancel_all(self) -> list[Timer]:
        return self._remove(self.pending())

    def _remove(self, targets: list[Timer]) -> list[Timer]:
        with self._lock:
            removed = [self._timers.pop(t.id) for t in targets if t.id in self._timers]
            if removed:
                self._save()
        if removed:
            self._changed()
        return removed

    def stop(self) -> list[TimerEvent]:
        """Silence every ringing timer (voice 'para', button, MQTT)."""
        with self._lock:
            ringing = [t for t in self._timers.values() if t.ring_started is not None]
            for t in ringing:
                del self._timers[t.id]
                self._last_ring.pop(t.id, None)
            if ringing:
                self._save()
        events = [TimerEvent("ring_end", t, reason="stopped") for t in ringing]
        if ringing:
            self._changed()
        return events

    # --- time passing -------------------------------------------------------------------

    def check(self) -> list[TimerEvent]:
        """Fire due timers, repeat rings, end over-long rings; cheap enough to call every 100 ms."""
        now = self.clock()
        events: list[TimerEvent] = []
        self._file.flush()
        with self._lock:
            changed = False
            for t in list(self._timers.values()):
                if t.ring_started is None:
                    if t.ends_at <= now:
                        rung = replace(t, ring_started=now)
                        self._timers[t.id] = rung
                        self._last_ring[t.id] = now
                        events.append(TimerEvent("fired", rung, late_s=now - t.ends_at))
                        changed = True
                elif now - t.ring_started >= self.max_ring_s:
                    del self._timers[t.id]
                    self._last_ring.pop(t.id, None)
                    events.append(TimerEvent("ring_end", t, reason="max"))
                    changed = True
                elif now - self._last_ring.get(t.id, t.ring_started) >= self.ring_every_s:
                    self._last_ring[t.id] = now
                    events.append(TimerEvent("ring", t))
            if changed:
                self._save()
        for ev in events:
            if ev.kind == "fired":
                self._report(TimerFinished(id=ev.timer.id, name=ev.timer.name))
        if changed:
            self._changed()
        return events

    def views(self) -> tuple[TimerView, ...]:
        """Every timer, soonest first, as Home Assistant is shown them."""
        with self._lock:
            timers = sorted(self._timers.values(), key=lambda t: t.ends_at)
        return tuple(TimerView(id=t.id, name=t.name, seconds=t.seconds, ends_at=t.ends_at,
                               ringing=t.ring_started is not None) for t in timers)

    def announce(self) -> None:
        """Report the current timers (at start: restored ones are shown at once)."""
        self._changed()

    def _changed(self) -> None:
        self._report(TimersChanged(timers=self.views()))

    def _report(self, event: Event) -> None:
        if self.events is not None:
            self.events.put(event)
