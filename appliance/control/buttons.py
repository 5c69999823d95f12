"""Debounce, long press and double press for one button, as pure logic with an injected clock.

gpiozero's mock pins (and some real pin drivers) do not debounce, and gpiozero's own hold and
bounce handling cannot be unit-tested without real time. This class sees only raw levels and
times, so every behaviour is tested with exact numbers.

Debounce is leading-edge with a lockout: the first edge is accepted at once (an interrupt
button must act in milliseconds, not after the contacts settle), then edges are ignored for
``debounce_s``; if the level at the end of the lockout differs from the accepted one, that
change is accepted then. The caller feeds edges with ``feed`` and calls ``tick`` by
``next_deadline()`` so lockout ends and long presses are noticed without edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Kind = Literal["press", "release", "click", "long", "double"]


@dataclass(frozen=True)
class ButtonEvent:
    """``press``/``release``: debounced edges; ``click``: a release before the long press;
    ``long``: held for ``long_s`` (fires once, while held); ``double``: a press within
    ``double_s`` of the previous press (fires with that second press)."""

    kind: Kind
    t: float


class ButtonLogic:
    """Not thread-safe by itself: the owner serializes ``feed`` and ``tick``."""

    def __init__(
        self, debounce_s: float = 0.03, long_s: float = 0.8, double_s: float = 0.4
    ) -> None:
        if debounce_s < 0 or long_s <= 0 or double_s <= 0:
            raise ValueError("debounce_s must be >= 0; long_s and double_s must be > 0")
        self.debounce_s = debounce_s
        self.long_s = long_s
        self.double_s = double_s
        self.pressed = False  # debounced level
        self._raw = False
        self._lock_until = -math.inf
        self._press_t = 0.0
        self._long_fired = False
        self._last_press_t = -math.inf

    def feed(self, raw_pressed: bool, t: float) -> list[ButtonEvent]:
        """A raw edge (or level sample) at time ``t``; returns the events it causes."""
        self._raw = bool(raw_pressed)
        return self.tick(t)

    def tick(self, t: float) -> list[ButtonEvent]:
        """Advance time to ``t``; returns the events that became due."""
        events: list[ButtonEvent] = []
        if self._raw != self.pressed and t >= self._lock_until:
            self.pressed = self._raw
            self._lock_until = t + self.debounce_s
            if self.pressed:
                events.append(ButtonEvent("press", t))
                if t - self._last_press_t <= self.double_s:
                    events.append(ButtonEvent("double", t))
                    self._last_press_t = -math.inf  # a third press starts a new pair
                else:
                    self._last_press_t = t
                self._press_t = t
                self._long_fired = False
            else:
                events.append(ButtonEvent("release", t))
                if not self._long_fired:
                    events.append(ButtonEvent("click", t))
        if self.pressed and not self._long_fired and t >= self._press_t + self.long_s:
            self._long_fired = True
            events.append(ButtonEvent("long", t))
        return events

    def next_deadline(self) -> float | None:
        """When ``tick`` must next run even if no edge arrives (None: only on the next edge)."""
        due = []
        if self._raw != self.pressed:
            due.append(self._lock_until)
        if self.pressed and not self._long_fired:
            due.append(self._press_t + self.long_s)
        return min(due) if due else None
