"""Pets the systemd watchdog only while the pipeline is healthy, and publishes STATUS=.

A hung worker (its heartbeat goes stale) stops the WATCHDOG=1 pings, so systemd kills and
restarts the whole service after WatchdogSec: the one fault the in-process Supervisor cannot
repair, because a thread blocked in C code cannot be restarted from Python.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from appliance.pipeline.contracts import Notifier
from appliance.pipeline.supervisor import Supervisor

log = logging.getLogger("appliance.watchdog")


def describe(supervisor: Supervisor) -> str:
    """Short worker summary for STATUS=: healthy count, stale or dead workers, restarts."""
    statuses = supervisor.status()
    bad = []
    for s in statuses:
        if not s.alive:
            bad.append(f"{s.name} dead")
        elif s.heartbeat_age >= supervisor.heartbeat_timeout_s:
            bad.append(f"{s.name} stalled {s.heartbeat_age:.0f}s")
    ok = len(statuses) - len(bad)
    text = f"{ok}/{len(statuses)} workers ok"
    if bad:
        text += "; " + ", ".join(bad)
    restarts = [f"{s.name}={s.restarts}" for s in statuses if s.restarts]
    if restarts:
        text += "; restarts " + " ".join(restarts)
    return text


class WatchdogLoop:
    """A daemon thread: every ``interval_s`` checks ``supervisor.healthy()``, pings if so, and
    sends STATUS= whenever the text changes. Silent (but still running) without systemd.

    Until :meth:`ready` succeeds it pings unconditionally: model loading may outlast the
    heartbeat timeout, and systemd bounds start-up by TimeoutStartSec instead.
    """

    def __init__(
        self,
        supervisor: Supervisor,
        notifier: Notifier,
        state_fn: Callable[[], str] | None = None,
        interval_s: float | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.notifier = notifier
        self.state_fn = state_fn
        # A quarter of WatchdogSec when systemd set one; otherwise 1 s just for STATUS= updates.
        self.interval_s = interval_s or notifier.watchdog_interval_s or 1.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._last_status = ""
        self._was_healthy = True
        self._ready = threading.Event()
        self.pings = 0

    def ready(self, timeout: float, extra: str = "",
              ready_fn: Callable[[], bool] | None = None) -> bool:
        """Wait until every worker finished setup (models loaded) and ``ready_fn`` (if given:
        e.g. the audio devices are open) is true, then send READY=1 and arm the health check.
        False (and no READY) if that took over ``timeout``."""
        deadline = time.monotonic() + timeout
        if not self.supervisor.wait_ready(timeout):
            pending = [s.name for s in self.supervisor.status() if not s.ready]
            log.error("workers not ready after %.0fs: %s", timeout, ", ".join(pending))
            self.notifier.status("start-up timed out waiting for " + ", ".join(pending))
            return False
        if ready_fn is not None and not ready_fn():
            self.notifier.status("starting: waiting for the audio devices")
            while not ready_fn():
                if time.monotonic() >= deadline:
                    log.error("audio devices not ready after %.0fs", timeout)
                    self.notifier.status("start-up timed out waiting for the audio devices")
                    return False
                time.sleep(0.1)
        self._ready.set()
        text = self.status_text()
        with self._lock:
            self._last_status = text
        self.notifier.ready(f"{extra}; {text}" if extra else text)
        log.info("ready: %s", text)
        return True

    def status_text(self) -> str:
        workers = describe(self.supervisor)
        if self.state_fn is None:
            return workers
        try:
            state = self.state_fn()
        except Exception as exc:  # a broken state callback must not stop the watchdog
            state = f"state unavailable ({exc})"
        return f"{state}; {workers}" if state else workers

    def tick(self) -> bool:
        """One check: ping if healthy (or still starting); returns whether it pinged."""
        starting = not self._ready.is_set()
        if starting:
            done = sum(s.ready for s in self.supervisor.status())
            healthy = True
            text = f"starting: {done}/{len(self.supervisor.workers)} workers set up"
        else:
            healthy = self.supervisor.healthy() and not self.supervisor.stopping
            text = self.status_text()
        with self._lock:
            changed = text != self._last_status
            self._last_status = text
            if healthy:
                self.pings += 1
            if not starting and healthy != self._was_healthy:
                self._was_healthy = healthy
                if healthy:
                    log.info("pipeline healthy again; watchdog pings resumed")
                else:
                    log.error("pipeline unhealthy, withholding watchdog pings: %s", text)
        if changed:
            self.notifier.status(text)
        if healthy:
            self.notifier.watchdog_ping()
        return healthy

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("watchdog tick failed")
            self._stop.wait(self.interval_s)
