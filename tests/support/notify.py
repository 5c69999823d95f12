"""systemd's side of the watchdog for tests: the real ``WatchdogLoop`` and ``Notifier`` ping an
AF_UNIX datagram socket standing in for systemd's, and a listener keeps when each ping came."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np

from appliance.pipeline.supervisor import Supervisor
from appliance.pipeline.watchdog import WatchdogLoop
from appliance.system.notify import Notifier


class WatchdogPings:
    """``with WatchdogPings(supervisor, tmp, watchdog_s) as pings:`` pets while the pipeline is
    healthy (as the service does); ``gaps(since)`` are the times between pings."""

    def __init__(self, supervisor: Supervisor, directory: Path, watchdog_s: float) -> None:
        self.watchdog_s = watchdog_s
        path = directory / "notify.sock"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.2)
        notifier = Notifier.from_env({"NOTIFY_SOCKET": str(path),
                                      "WATCHDOG_USEC": str(int(watchdog_s * 1e6))})
        self.loop = WatchdogLoop(supervisor, notifier)
        self.pings: list[float] = []
        self._done = threading.Event()
        self._listener = threading.Thread(target=self._listen, daemon=True)

    def _listen(self) -> None:
        while not self._done.is_set():
            try:
                if b"WATCHDOG=1" in self._sock.recv(4096):
                    self.pings.append(time.monotonic())
            except TimeoutError:
                pass

    def __enter__(self) -> WatchdogPings:
        assert self.loop.ready(10), "the pipeline never got ready for the watchdog"
        self._listener.start()
        self.loop.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self.loop.stop()
        self._listener.join(2)
        self._sock.close()

    def gaps(self, since: float) -> np.ndarray:
        """Seconds between ``since`` and each ping after it (a hung pipeline shows as one long
        gap at the end, so the last stretch counts up to now)."""
        return np.diff([since, *[p for p in self.pings if p >= since], time.monotonic()])
