"""One harness for every worker test, in the spirit of Pipecat's ``run_test``.

- ``Collector``: a sink (a worker's downstream or events) that keeps what it is given and lets
  a test wait for what it expects, without sleeping for fixed times.
- ``FakeClock``: an injectable clock that moves only when the test says so.
- ``running(*workers)``: the workers under the real ``Supervisor``, stopped on exit.
- ``run_worker(worker, inputs, until=...)``: feed a running worker and wait for its outputs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from appliance.pipeline.contracts import Sink
from appliance.pipeline.events import Event
from appliance.pipeline.supervisor import Supervisor
from appliance.pipeline.worker import Worker

T = TypeVar("T")


class FakeClock:
    """Seconds that pass only through ``advance`` (monotonic or epoch, as the test starts it)."""

    def __init__(self, t: float = 1000.0) -> None:
        self._lock = threading.Lock()
        self.t = t

    def __call__(self) -> float:
        with self._lock:
            return self.t

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds


class Collector:
    """A thread-safe sink that remembers everything put into it, with its time: an event's
    own time (when it happened), anything else's arrival."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list[tuple[float, Any]] = []
        self._taken = 0  # ``take`` hands out each item once

    def put(self, msg: Any, timeout: float | None = None) -> None:
        t = msg.t if isinstance(msg, Event) else time.monotonic()
        with self._cond:
            self._items.append((t, msg))
            self._cond.notify_all()

    def __call__(self, msg: Any) -> None:  # also usable as an observer callback
        self.put(msg)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def items(self, since: float = float("-inf")) -> list[Any]:
        with self._cond:
            return [m for t, m in self._items if t >= since]

    def of(self, kind: type[T], since: float = float("-inf")) -> list[T]:
        return [m for m in self.items(since) if isinstance(m, kind)]

    def take(self) -> list[Any]:
        """Everything that arrived since the last ``take``."""
        with self._cond:
            new = [m for _, m in self._items[self._taken:]]
            self._taken = len(self._items)
            return new

    def wait(self, pred: Callable[[Any], bool], *, since: float = float("-inf"),
             timeout: float = 10.0) -> Any:
        """The first item (at or after ``since``) matching ``pred``; fails after ``timeout``."""

        def found() -> Any:
            return next((m for t, m in self._items if t >= since and pred(m)), None)

        with self._cond:
            self._cond.wait_for(lambda: found() is not None, timeout)
            item = found()
        assert item is not None, f"nothing matching within {timeout} s; got {self.items(since)}"
        return item

    def wait_for(self, kind: type[T], pred: Callable[[T], bool] = lambda _: True, *,
                 since: float = float("-inf"), timeout: float = 10.0) -> T:
        item = self.wait(lambda m: isinstance(m, kind) and pred(m), since=since, timeout=timeout)
        assert isinstance(item, kind)
        return item


@contextmanager
def running(*workers: Worker, events: Sink | None = None,
            ready_timeout: float = 60.0) -> Iterator[Supervisor]:
    """The workers under the real supervisor, set up and ready; stopped on exit."""
    sup = Supervisor(list(workers), restart_backoff_s=0.01, events=events)
    sup.start()
    try:
        assert sup.wait_ready(ready_timeout), "workers did not get ready"
        yield sup
    finally:
        assert sup.stop(5.0), "workers did not stop"


def run_worker(worker: Worker, inputs: Iterable[Any], *, until: Callable[[], bool],
               timeout: float = 30.0) -> None:
    """Feed ``inputs`` to the running ``worker``'s inbox in order, then wait until ``until()``
    holds (what the test expects came out)."""
    assert worker.inbox is not None, f"{worker.name} has no inbox"
    for msg in inputs:
        worker.inbox.put(msg, timeout=timeout)
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, f"{worker.name}: expected output not seen"
        time.sleep(0.01)
