"""sd_notify and the watchdog loop against a real AF_UNIX datagram socket (what systemd binds),
driving a real Supervisor with real Worker subclasses, one of which hangs in its step."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.pipeline.supervisor import Supervisor
from appliance.pipeline.watchdog import WatchdogLoop
from appliance.pipeline.worker import Worker
from appliance.system.notify import Notifier


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        yield sock, path
    finally:
        sock.close()


def receive(sock: socket.socket, duration: float) -> list[str]:
    """Every datagram arriving within ``duration`` seconds."""
    out: list[str] = []
    deadline = time.monotonic() + duration
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    return out


def lines(messages: list[str]) -> list[str]:
    return [line for m in messages for line in m.splitlines()]


class Ticker(Worker):
    """A healthy worker: short steps."""

    def step(self) -> None:
        time.sleep(0.01)


class Hanger(Worker):
    """Setup waits for a gate (a model loading); step blocks once ``hang`` is set (a wedged
    device read), which no supervisor restart can fix."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.setup_gate = threading.Event()
        self.hang = threading.Event()
        self.release = threading.Event()

    def setup(self) -> None:
        self.setup_gate.wait(10)

    def step(self) -> None:
        if self.hang.is_set():
            self.release.wait(10)
        time.sleep(0.01)


def test_silent_without_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    n = Notifier.from_env()
    assert not n.enabled
    assert n.send("READY=1") is False
    n.ready("x")
    n.watchdog_ping()
    n.status("y")
    sup = Supervisor([Ticker("a")], heartbeat_timeout_s=1.0)
    sup.start()
    try:
        loop = WatchdogLoop(sup, n)
        assert loop.interval_s == 1.0
        assert loop.ready(5.0)
        assert loop.tick() is True
    finally:
        sup.stop()


def test_env_parsing(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    n = Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000"})
    assert n.enabled and n.watchdog_interval_s == 0.75
    other_pid = Notifier.from_env(
        {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"}
    )
    assert other_pid.watchdog_usec == 0  # the watchdog was meant for another process
    n.status("línea 1\nlínea 2")
    assert receive(sock, 0.3) == ["STATUS=línea 1 línea 2"]


def test_abstract_namespace_address() -> None:
    name = f"appliance-test-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        n = Notifier.from_env({"NOTIFY_SOCKET": "@" + name})
        assert n.send("READY=1")
        assert receive(sock, 0.3) == ["READY=1"]
    finally:
        sock.close()


def test_ready_after_setup_and_pings_stop_when_a_worker_hangs(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})
    hanger = Hanger("stt")
    sup = Supervisor([Ticker("capture"), hanger], heartbeat_timeout_s=0.3)
    loop = WatchdogLoop(sup, notifier, state_fn=lambda: "listening")
    assert loop.interval_s == pytest.approx(0.025)
    sup.start()
    loop.start()
    try:
        became_ready: list[bool] = []
        waiter = threading.Thread(target=lambda: became_ready.append(loop.ready(10.0)))
        waiter.start()

        # Set-up still running (the model is "loading"): pings and a starting STATUS, no READY.
        early = lines(receive(sock, 0.5))
        assert "READY=1" not in early
        assert "WATCHDOG=1" in early
        assert any(x.startswith("STATUS=starting: 1/2 workers set up") for x in early)

        hanger.setup_gate.set()
        waiter.join(10)
        assert became_ready == [True]
        after = lines(receive(sock, 0.5))
        assert "READY=1" in after
        ready_at = after.index("READY=1")
        assert after[ready_at + 1] == "STATUS=listening; 2/2 workers ok"
        assert "WATCHDOG=1" in after[ready_at:]

        hanger.hang.set()
        deadline = time.monotonic() + 5
        while sup.healthy() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not sup.healthy()
        receive(sock, 0.2)  # drain what was sent while the heartbeat went stale
        stalled = lines(receive(sock, 0.6))
        assert "WATCHDOG=1" not in stalled
        assert loop.tick() is False
        assert "stt stalled" in loop.status_text()

        hanger.release.set()  # the worker recovers: pings resume
        deadline = time.monotonic() + 5
        while not sup.healthy() and time.monotonic() < deadline:
            time.sleep(0.02)
        resumed = lines(receive(sock, 0.5))
        assert "WATCHDOG=1" in resumed
    finally:
        hanger.setup_gate.set()
        hanger.release.set()
        loop.stop()
        sup.stop()
        notifier.close()


def test_no_ready_when_setup_never_finishes(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    hanger = Hanger("tts")
    sup = Supervisor([hanger], heartbeat_timeout_s=5.0)
    sup.start()
    try:
        loop = WatchdogLoop(sup, notifier)
        assert loop.ready(0.3) is False
        got = lines(receive(sock, 0.3))
        assert "READY=1" not in got
        assert "STATUS=start-up timed out waiting for tts" in got
    finally:
        hanger.setup_gate.set()
        sup.stop()
        notifier.close()


def test_broken_state_callback_does_not_stop_the_pings(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    sup = Supervisor([Ticker("a")], heartbeat_timeout_s=5.0)
    sup.start()

    def broken() -> str:
        raise RuntimeError("boom")

    try:
        loop = WatchdogLoop(sup, notifier, state_fn=broken)
        assert loop.ready(5.0)
        assert loop.tick() is True
        got = lines(receive(sock, 0.3))
        assert got[0] == "READY=1"
        assert got[1].startswith("STATUS=state unavailable (boom)")
        assert "WATCHDOG=1" in got
    finally:
        sup.stop()
        notifier.close()


def test_ready_waits_for_the_devices(notify_socket: tuple[socket.socket, str]) -> None:
    """``ready_fn`` (the app passes "capture and playback are open") holds READY back."""
    sock, path = notify_socket
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    sup = Supervisor([Ticker("capture")], heartbeat_timeout_s=5.0)
    opened = threading.Event()
    sup.start()
    try:
        loop = WatchdogLoop(sup, notifier)
        result: list[bool] = []

        def announce() -> None:
            result.append(loop.ready(10.0, ready_fn=opened.is_set))

        waiter = threading.Thread(target=announce)
        waiter.start()
        early = lines(receive(sock, 0.4))
        assert "READY=1" not in early
        assert "STATUS=starting: waiting for the audio devices" in early
        opened.set()
        waiter.join(10)
        assert result == [True]
        assert "READY=1" in lines(receive(sock, 0.3))
        assert WatchdogLoop(sup, notifier).ready(0.2, ready_fn=lambda: False) is False
    finally:
        sup.stop()
        notifier.close()
