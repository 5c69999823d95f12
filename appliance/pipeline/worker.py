"""The worker contract: one thread, one inbox, a loop of short steps.

A step must return within a fraction of a second so the heartbeat stays fresh and shutdown is
prompt; long work (a Whisper decode) is the exception and is bounded by its own design.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from appliance.pipeline.inbox import Inbox
from appliance.pipeline.messages import Control, Shutdown


class StopWorker(Exception):
    """Raised inside a step to end the worker cleanly (not counted as a crash)."""


class Heartbeat:
    """Last time a worker proved it was alive; read by the supervisor and the watchdog."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._t = time.monotonic()

    def beat(self) -> None:
        t = time.monotonic()
        with self._lock:
            self._t = t

    def age(self) -> float:
        with self._lock:
            return time.monotonic() - self._t


class Worker:
    """Base class: override ``setup``, ``step`` and ``teardown``."""

    name = "worker"

    def __init__(self, name: str | None = None, inbox: Inbox | None = None) -> None:
        if name:
            self.name = name
        self.inbox = inbox
        self.heartbeat = Heartbeat()
        self.log = logging.getLogger(f"appliance.{self.name}")

    def setup(self) -> None:
        """Open devices and models; runs in the worker's thread, again after each restart."""

    def step(self) -> None:
        raise NotImplementedError

    def teardown(self) -> None:
        """Release what setup opened; must tolerate a half-finished setup."""

    def is_ready(self) -> bool:
        """Ready to serve (READY=1 waits for all workers); a device worker says when it opened."""
        return True

    def stats(self) -> dict[str, Any]:
        return {}


class InboxWorker(Worker):
    """A worker driven by its inbox: control first, then data."""

    poll_s = 0.1

    def __init__(self, name: str | None = None, inbox: Inbox | None = None) -> None:
        super().__init__(name, inbox if inbox is not None else Inbox())

    def step(self) -> None:
        assert self.inbox is not None
        msg = self.inbox.get(self.poll_s)
        if msg is None:
            self.idle()
        elif isinstance(msg, Shutdown):
            raise StopWorker
        elif isinstance(msg, Control):
            self.on_control(msg)
        else:
            self.handle(msg)

    def idle(self) -> None:
        """Called when nothing arrived within ``poll_s``."""

    def on_control(self, msg: Control) -> None:
        """Interrupt/flush: the inbox already dropped queued data; drop in-flight work here."""

    def handle(self, msg: Any) -> None:
        raise NotImplementedError
