"""A remote endpoint's health (the LLM server, a Wyoming server): a circuit breaker, kept on
disk for `appliance doctor`.

Why: a home server that is down must not cost every turn its timeout. After
``skip_after`` failures in a row the endpoint is skipped ("open") for ``skip_s`` and every
turn goes straight to the local fallback; then requests are let through again ("half-open")
and the next outcome closes or re-opens it. Each change is written to
``<state_dir>/remote/<name>.json`` because the doctor is another process; MQTT diagnostics
read ``status()`` in the service itself.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from appliance.core import atomic

log = logging.getLogger("appliance.remote")

State = Literal["closed", "open", "half-open"]


@dataclass(frozen=True)
class Probe:
    """What a check of an endpoint found (``appliance doctor``): reachable, model there, how
    fast the first token or the first audio came."""

    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class BreakerStatus:
    name: str
    url: str
    state: State
    failures: int  # in a row
    last_error: str
    retry_in_s: float  # while open: how long the endpoint is still skipped
    updated: float  # epoch seconds of the last change (the doctor says how old it is)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        if self.state == "closed" and not self.failures:
            return "circuit closed (answering)"
        if self.state == "open":
            return (f"circuit OPEN: skipped for {self.retry_in_s:.0f} s more after "
                    f"{self.failures} failures in a row (last: {self.last_error})")
        return (f"circuit {self.state}, {self.failures} failure(s) in a row "
                f"(last: {self.last_error})")


class CircuitBreaker:
    """Thread-safe; ``clock`` is monotonic (the skip), ``wall`` epoch (the file's time)."""

    def __init__(self, name: str, url: str, *, skip_after: int, skip_s: float,
                 state_dir: Path | None = None, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.name, self.url = name, url
        self.skip_after, self.skip_s = max(1, skip_after), skip_s
        self.path = state_path(state_dir, name) if state_dir is not None else None
        self.clock, self.wall = clock, wall
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failures = 0
        self._error = ""
        self._retry_at = 0.0
        self._updated = wall()

    def allow(self) -> bool:
        """May a request go to the endpoint now? (An open circuit whose skip is over lets
        requests through again: half-open.)"""
        with self._lock:
            if self._state == "open" and self.clock() >= self._retry_at:
                self._state = "half-open"
                self._changed()
            return self._state != "open"

    def success(self) -> None:
        with self._lock:
            if self._state == "closed" and not self._failures:
                return
            recovered = self._state != "closed"
            self._state, self._failures, self._error = "closed", 0, ""
            self._changed()
        if recovered:
            log.info("%s (%s) answers again; circuit closed", self.name, self.url)

    def failure(self, reason: str) -> bool:
        """Count a failure; True when this one opened the circuit (the caller says so in its
        one log line)."""
        with self._lock:
            self._failures += 1
            self._error = reason[:300]
            opened = self._state == "half-open" or (
                self._state == "closed" and self._failures >= self.skip_after)
            if opened:
                self._state = "open"
                self._retry_at = self.clock() + self.skip_s
            self._changed()
            return opened

    def failed(self, reason: str, *, at_start: bool = False) -> str:
        """Count a failure (``at_start``: trip at once); returns what the caller adds to its
        one log line: "" or that the endpoint is now skipped, for how long."""
        if at_start:
            self.trip(reason)
            return f" (skipping the server for {self.skip_s:g} s)"
        if self.failure(reason):
            return (f" ({self.status().failures} failures in a row: skipping the server for "
                    f"{self.skip_s:g} s)")
        return ""

    def trip(self, reason: str) -> None:
        """Open at once: the endpoint failed when the service started (a Wyoming server that
        is not there), so every turn can go to the fallback without trying it first."""
        with self._lock:
            self._failures += 1
            self._error = reason[:300]
            self._state = "open"
            self._retry_at = self.clock() + self.skip_s
            self._changed()

    def status(self) -> BreakerStatus:
        with self._lock:
            left = max(0.0, self._retry_at - self.clock()) if self._state == "open" else 0.0
            return BreakerStatus(self.name, self.url, self._state, self._failures, self._error,
                                 round(left, 1), self._updated)

    def _changed(self) -> None:
        """Under the lock: stamp the change and write it for the doctor (best effort)."""
        self._updated = self.wall()
        if self.path is None:
            return
        left = max(0.0, self._retry_at - self.clock()) if self._state == "open" else 0.0
        doc = BreakerStatus(self.name, self.url, self._state, self._failures, self._error,
                            round(left, 1), self._updated).to_dict()
        try:
            atomic.write_json(self.path, doc, durable=False)
        except OSError as exc:
            log.warning("cannot record %s's state in %s: %s", self.name, self.path, exc)


def state_path(state_dir: Path, name: str) -> Path:
    return Path(state_dir) / "remote" / f"{name}.json"


def read_status(state_dir: Path, name: str) -> BreakerStatus | None:
    """What the service last recorded about ``name`` (None: nothing recorded, or unreadable).
    ``retry_in_s`` is recomputed from the time of the record."""
    try:
        doc = json.loads(state_path(state_dir, name).read_text())
        status = BreakerStatus(**doc)
    except (OSError, ValueError, TypeError):
        return None
    if status.state == "open":
        left = max(0.0, status.retry_in_s - (time.time() - status.updated))
        status = BreakerStatus(**{**doc, "retry_in_s": round(left, 1)})
    return status
