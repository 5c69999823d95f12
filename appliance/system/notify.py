"""sd_notify without libsystemd: READY=1, WATCHDOG=1 and STATUS= over $NOTIFY_SOCKET.

The protocol is one datagram per message on an AF_UNIX socket whose path systemd puts in
NOTIFY_SOCKET (a leading "@" means the abstract namespace). Outside systemd the variable is
unset and every call is a silent no-op, so the same code runs on a laptop and on the board.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

log = logging.getLogger("appliance.notify")


class Notifier:
    """Sends sd_notify messages; thread-safe; never raises on a send failure."""

    def __init__(self, address: str | None, watchdog_usec: int = 0) -> None:
        self.address = address or None
        self.watchdog_usec = watchdog_usec if self.address else 0
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """From NOTIFY_SOCKET and WATCHDOG_USEC (WATCHDOG_PID must be us, if set)."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        usec = 0
        pid = env.get("WATCHDOG_PID", "")
        if (not pid or pid == str(os.getpid())) and env.get("WATCHDOG_USEC", "").isdigit():
            usec = int(env["WATCHDOG_USEC"])
        return cls(address, usec)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval_s(self) -> float:
        """How often to pet: a quarter of the systemd timeout (sd_watchdog_enabled(3) asks for
        at most half), so a ping delayed by a busy machine still comes within a third of it."""
        return self.watchdog_usec / 4e6 if self.watchdog_usec else 0.0

    def ready(self, status: str = "") -> None:
        self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> None:
        self.send("STATUS=" + text.replace("\n", " "))

    def watchdog_ping(self) -> None:
        self.send("WATCHDOG=1")

    def stopping(self, status: str = "") -> None:
        self.send("STOPPING=1" + (f"\nSTATUS={status}" if status else ""))

    def send(self, message: str) -> bool:
        """One datagram; True if sent (False when disabled or the socket is gone)."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        with self._lock:
            try:
                if self._sock is None:
                    kind = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    self._sock = socket.socket(socket.AF_UNIX, kind)
                self._sock.sendto(message.encode("utf-8"), target)
                return True
            except OSError as exc:
                if not self._warned:  # once: a vanished socket must not flood the log
                    log.warning("sd_notify to %s failed: %s", self.address, exc)
                    self._warned = True
                return False

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
