"""The worker contract: one thread, one inbox, a loop of short steps.

A step must return within a fraction of a second so the heartbeat stays fresh and shutdown is
prompt; long work (a Whisper decode) is the exception and is bounded by its own design.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from appliance.pipeline.contracts import Sink
from appliance.pipeline.events import Event
from appliance.pipeline.inbox import Full, Inbox
from appliance.pipeline.messages import Control, Shutdown


class StopWorker(Exception):
    """Raised inside a step to end the worker cleanly (not counted as a crash)."""


class Heartbeat:
    """Last time a worker proved it was alive; read by the supervisor and the watchdog."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._t = clock()

    def beat(self) -> None:
        t = self.clock()
        with self._lock:
            self._t = t

    def age(self) -> float:
        with self._lock:
            return self.clock() - self._t


class Discard:
    """The events sink of a worker run without a control plane (a test, a CLI tool)."""

    def put(self, msg: Any, timeout: float | None = None) -> None:
        pass


class Worker:
    """Base class: override ``setup``, ``step`` and ``teardown``.

    Every worker has the same output contract: its data goes to its downstream (given to its
    constructor) and what happened goes to ``events`` through ``report``."""

    name = "worker"

    def __init__(self, name: str | None = None, inbox: Inbox | None = None, *,
                 events: Sink | None = None) -> None:
        if name:
            self.name = name
        self.inbox = inbox
        self.events: Sink = events if events is not None else Discard()
        self.heartbeat = Heartbeat()
        self.log = logging.getLogger(f"appliance.{self.name}")

    def report(self, event: Event) -> None:
        """Hand an event to the control worker; never blocks an audio thread for long."""
        try:
            self.events.put(event, timeout=0.05)
        except Full:
            self.log.warning("events inbox full: %s dropped", type(event).__name__)

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

    def __init__(self, name: str | None = None, inbox: Inbox | None = None, *,
                 events: Sink | None = None) -> None:
        self.inbox: Inbox = inbox if inbox is not None else Inbox()
        super().__init__(name, self.inbox, events=events)

    def step(self) -> None:
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
