"""Starts workers in threads, restarts a crashed one, stops them all within a deadline.

A crash and the recovery after it are reported as events, so the phase shows ``error`` while
a stage is down. Heartbeat ages use the injected clock (tests move it by hand).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from appliance.pipeline.contracts import Sink
from appliance.pipeline.events import WorkerCrashed, WorkerRecovered
from appliance.pipeline.messages import Shutdown
from appliance.pipeline.worker import Discard, StopWorker, Worker

log = logging.getLogger("appliance.supervisor")


@dataclass(frozen=True)
class WorkerStatus:
    name: str
    alive: bool
    ready: bool
    restarts: int
    heartbeat_age: float


class Supervisor:
    def __init__(
        self,
        workers: Iterable[Worker],
        *,
        restart_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        heartbeat_timeout_s: float = 10.0,
        events: Sink | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.workers = list(workers)
        names = [w.name for w in self.workers]
        if len(set(names)) != len(names):
            raise ValueError(f"worker names must be unique: {names}")
        self.restart_backoff_s = restart_backoff_s
        self.max_backoff_s = max_backoff_s
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.events: Sink = events if events is not None else Discard()
        if clock is not None:
            for w in self.workers:
                w.heartbeat.clock = clock
                w.heartbeat.beat()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._restarts = {w.name: 0 for w in self.workers}
        self._ready = {w.name: threading.Event() for w in self.workers}
        self._threads: dict[str, threading.Thread] = {}

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        for w in self.workers:
            t = threading.Thread(target=self._run, args=(w,), name=w.name, daemon=True)
            self._threads[w.name] = t
            t.start()

    def request_stop(self) -> None:
        """Safe from a signal handler: only sets an event."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a stop is requested; True if it was."""
        return self._stop.wait(timeout)

    def stop(self, timeout: float = 1.0) -> bool:
        """Stop every worker; True if all threads ended within ``timeout`` seconds."""
        self._stop.set()
        for w in self.workers:
            if w.inbox is not None:
                w.inbox.put(Shutdown())
        deadline = time.monotonic() + timeout
        for t in self._threads.values():
            t.join(max(0.0, deadline - time.monotonic()))
        stuck = [n for n, t in self._threads.items() if t.is_alive()]
        if stuck:
            log.warning("workers still running after %.1fs: %s", timeout, ", ".join(stuck))
        return not stuck

    def wait_ready(self, timeout: float) -> bool:
        """True once every worker finished its setup (models loaded, devices opened)."""
        deadline = time.monotonic() + timeout
        return all(ev.wait(max(0.0, deadline - time.monotonic())) for ev in self._ready.values())

    # --- health -----------------------------------------------------------------------------

    def healthy(self) -> bool:
        """Every worker alive with a fresh heartbeat: the condition for petting the watchdog."""
        return all(s.alive and s.heartbeat_age < self.heartbeat_timeout_s for s in self.status())

    def status(self) -> list[WorkerStatus]:
        with self._lock:
            restarts = dict(self._restarts)
        out = []
        for w in self.workers:
            t = self._threads.get(w.name)
            out.append(
                WorkerStatus(
                    name=w.name,
                    alive=bool(t and t.is_alive()),
                    ready=self._ready[w.name].is_set(),
                    restarts=restarts[w.name],
                    heartbeat_age=w.heartbeat.age(),
                )
            )
        return out

    def restarts(self, name: str) -> int:
        with self._lock:
            return self._restarts[name]

    # --- the loop ---------------------------------------------------------------------------

    def _run(self, w: Worker) -> None:
        backoff = self.restart_backoff_s
        crashed = False
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                w.heartbeat.beat()
                w.setup()
                ready = self._ready[w.name]
                up = False
                while not self._stop.is_set():
                    w.heartbeat.beat()
                    if not up and w.is_ready():
                        up = True
                        ready.set()
                        if crashed:
                            crashed = False
                            self.events.put(WorkerRecovered(worker=w.name))
                    w.step()
                return
            except StopWorker:
                return
            except Exception as exc:
                with self._lock:
                    self._restarts[w.name] += 1
                    n = self._restarts[w.name]
                log.exception("worker %s crashed (restart #%d in %.2fs)", w.name, n, backoff)
                crashed = True
                error = f"{type(exc).__name__}: {exc}"[:200]
                self.events.put(WorkerCrashed(worker=w.name, error=error, restarts=n))
            finally:
                try:
                    w.teardown()
                except Exception:
                    log.exception("worker %s: teardown failed", w.name)
            if time.monotonic() - started > 60:
                backoff = self.restart_backoff_s  # it ran fine for a while: start over
            if self._stop.wait(backoff):
                return
            backoff = min(max(backoff * 2, 0.05), self.max_backoff_s)
