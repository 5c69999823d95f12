"""Exponential retry delay for anything that reconnects: audio devices, the MQTT broker."""

from __future__ import annotations

import logging
import threading


class Backoff:
    """Exponential retry delay that logs the first failure of a streak only."""

    def __init__(self, log: logging.Logger, initial_s: float = 0.1, max_s: float = 5.0) -> None:
        self.log = log
        self.initial_s = initial_s
        self.max_s = max_s
        self._lock = threading.Lock()
        self._delay = initial_s
        self._failures = 0

    def failed(self, what: str, exc: BaseException) -> float:
        """Record a failure; returns how long to wait before the next try."""
        with self._lock:
            self._failures += 1
            delay = self._delay
            self._delay = min(self._delay * 2, self.max_s)
            first = self._failures == 1
        if first:
            self.log.error("%s: %s (retrying with backoff up to %.1fs)", what, exc, self.max_s)
        else:
            self.log.debug("%s: still failing (%s); next try in %.2fs", what, exc, delay)
        return delay

    def succeeded(self, what: str) -> None:
        with self._lock:
            failures, self._failures = self._failures, 0
            self._delay = self.initial_s
        if failures:
            self.log.warning("%s: recovered after %d failed attempts", what, failures)

    @property
    def failures(self) -> int:
        with self._lock:
            return self._failures
