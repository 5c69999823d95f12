"""A bounded inbox in which control messages overtake data.

A plain ``queue.Queue`` cannot reorder, and relying on ``deque`` operations being atomic is
not safe reasoning on a free-threaded build, so every compound operation here runs under one
condition variable.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from appliance.pipeline.messages import Control


class Full(Exception):
    """The data queue stayed full for the whole put timeout."""


class Inbox:
    def __init__(self, maxsize: int = 64, *, drop_oldest: bool = False) -> None:
        self.maxsize = maxsize
        self.drop_oldest = drop_oldest  # audio: never block the producer, lose the stalest
        self._data: deque[Any] = deque()
        self._control: deque[Control] = deque()
        self._cond = threading.Condition()
        self._dropped = 0
        self._flushed = 0

    def put(self, msg: Any, timeout: float | None = None) -> None:
        """Queue a message. Control messages go ahead of all data and may flush it."""
        with self._cond:
            if isinstance(msg, Control):
                if msg.flushes:
                    self._flushed += len(self._data)
                    self._data.clear()
                self._control.append(msg)
                self._cond.notify_all()
                return
            if len(self._data) >= self.maxsize:
                if self.drop_oldest:
                    self._data.popleft()
                    self._dropped += 1
                else:
                    deadline = None if timeout is None else time.monotonic() + timeout
                    while len(self._data) >= self.maxsize:
                        remaining = None if deadline is None else deadline - time.monotonic()
                        if remaining is not None and remaining <= 0:
                            raise Full(f"inbox full ({self.maxsize})")
                        self._cond.wait(remaining)
            self._data.append(msg)
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Any | None:
        """The next control message if any, else the next data message; None on timeout."""
        with self._cond:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._control and not self._data:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            msg = self._control.popleft() if self._control else self._data.popleft()
            self._cond.notify_all()
            return msg

    def has_control(self) -> bool:
        """Lets a long data operation check whether it should give up early."""
        with self._cond:
            return bool(self._control)

    def peek_control(self) -> Control | None:
        """The control message ``get`` would return next, left in place."""
        with self._cond:
            return self._control[0] if self._control else None

    def flush(self) -> int:
        with self._cond:
            n = len(self._data)
            self._flushed += n
            self._data.clear()
            self._cond.notify_all()
            return n

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {
                "depth": len(self._data),
                "control": len(self._control),
                "dropped": self._dropped,
                "flushed": self._flushed,
            }

    def __len__(self) -> int:
        with self._cond:
            return len(self._data) + len(self._control)
