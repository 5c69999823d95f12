"""Supervisor and inbox: restarts, heartbeats, shutdown deadline, control overtaking data."""

from __future__ import annotations

import threading

import pytest

from appliance.pipeline.events import WorkerCrashed, WorkerRecovered
from appliance.pipeline.inbox import Full, Inbox
from appliance.pipeline.messages import Flush, Interrupt, Shutdown
from appliance.pipeline.supervisor import Supervisor
from appliance.pipeline.worker import InboxWorker, StopWorker, Worker
from tests.support.harness import Collector, FakeClock


class Crashy(InboxWorker):
    """Raises on its first message, then handles the rest: a worker with a bug."""

    name = "crashy"

    def __init__(self) -> None:
        super().__init__()
        self.setups = 0
        self.handled: list[object] = []
        self.got = threading.Event()

    def setup(self) -> None:
        self.setups += 1

    def handle(self, msg: object) -> None:
        if msg == "boom":
            raise RuntimeError("boom")
        self.handled.append(msg)
        self.got.set()


class Hangs(Worker):
    """A step that never returns (a wedged device or library)."""

    name = "hangs"

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def step(self) -> None:
        self.entered.set()
        self.release.wait()
        raise StopWorker


def test_crashed_worker_is_restarted_logged_counted_and_reported(
        caplog: pytest.LogCaptureFixture) -> None:
    w = Crashy()
    events = Collector()
    sup = Supervisor([w], restart_backoff_s=0.01, events=events)
    sup.start()
    assert sup.wait_ready(2)
    w.inbox.put("boom")
    w.inbox.put("after")
    assert w.got.wait(3)
    assert w.handled == ["after"]
    assert sup.restarts("crashy") == 1
    assert w.setups == 2
    assert "worker crashy crashed" in caplog.text and "RuntimeError: boom" in caplog.text
    crashed = events.wait_for(WorkerCrashed)
    assert (crashed.worker, crashed.restarts, crashed.error) == ("crashy", 1, "RuntimeError: boom")
    assert events.wait_for(WorkerRecovered).worker == "crashy"
    assert sup.stop(1.0)


def test_shutdown_stops_every_worker_within_its_deadline() -> None:
    workers = [Crashy() for _ in range(6)]
    for i, w in enumerate(workers):
        w.name = f"w{i}"
    sup = Supervisor(workers)
    sup.start()
    assert sup.wait_ready(2)
    assert sup.stop(1.0)  # True only if every thread ended within the second
    assert not any(s.alive for s in sup.status())


def test_hung_worker_makes_supervisor_unhealthy() -> None:
    clock = FakeClock()
    w = Hangs()
    sup = Supervisor([w], heartbeat_timeout_s=0.2, clock=clock)
    sup.start()
    assert w.entered.wait(5)
    assert sup.healthy() is True
    clock.advance(0.3)  # no beat since: the step never returned
    assert sup.healthy() is False
    assert [s.name for s in sup.status() if s.heartbeat_age > 0.2] == ["hangs"]
    assert sup.stop(0.1) is False  # reports the stuck worker instead of hanging
    w.release.set()


def test_control_overtakes_and_flushes_data() -> None:
    box = Inbox(10)
    for i in range(5):
        box.put(i)
    box.put(Interrupt(reason="button"))
    msg = box.get(0)
    assert isinstance(msg, Interrupt) and msg.reason == "button"
    assert box.get(0) is None, "an interrupt drops queued data"
    box.put("a")
    box.put(Flush())
    box.put("b")
    assert isinstance(box.get(0), Flush)
    assert box.get(0) == "b"
    assert box.stats()["flushed"] == 6


def test_bounded_inbox_blocks_or_drops_oldest() -> None:
    box = Inbox(2)
    box.put(1)
    box.put(2)
    with pytest.raises(Full):
        box.put(3, timeout=0.01)
    lossy = Inbox(2, drop_oldest=True)
    for i in range(4):
        lossy.put(i)
    assert [lossy.get(0), lossy.get(0)] == [2, 3]
    assert lossy.stats()["dropped"] == 2
    # Control messages are never refused, even by a full inbox.
    box.put(Shutdown())
    assert isinstance(box.get(0), Shutdown)


def test_inbox_under_concurrent_producers_loses_nothing() -> None:
    box = Inbox(8)
    n, producers = 2000, 4
    got: list[int] = []

    def produce(base: int) -> None:
        for i in range(n):
            box.put(base + i, timeout=5)

    threads = [threading.Thread(target=produce, args=(p * n,)) for p in range(producers)]
    for t in threads:
        t.start()
    while len(got) < n * producers:
        msg = box.get(5)
        assert msg is not None
        got.append(msg)
    for t in threads:
        t.join()
    assert sorted(got) == list(range(n * producers))
