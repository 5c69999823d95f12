"""The capture worker on real alsa-lib PCMs (file-backed and PulseAudio), no mocks."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from appliance.audio.capture import CaptureWorker
from appliance.config import AudioSettings
from appliance.pipeline.events import DeviceError
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.messages import AudioFrame
from appliance.pipeline.supervisor import Supervisor
from tests.support.alsa import AlsaConfig
from tests.support.harness import Collector
from tests.support.pulse import PulseServer


def _collect(inbox: Inbox, n: int, timeout: float = 10.0) -> list[AudioFrame]:
    frames: list[AudioFrame] = []
    deadline = time.monotonic() + timeout
    while len(frames) < n and time.monotonic() < deadline:
        msg = inbox.get(0.1)
        if isinstance(msg, AudioFrame):
            frames.append(msg)
    return frames


def test_file_capture_returns_input_bytes_exactly(alsa: AlsaConfig) -> None:
    rng = np.random.default_rng(1)
    data = rng.integers(-32768, 32767, size=16000, dtype=np.int16)
    alsa.capture("mic", data.tobytes())
    out = Inbox(1000)
    settings = AudioSettings(capture_device="mic", period_ms=20)
    worker = CaptureWorker(settings, out, max_frames=40)  # 40 x 320 samples = 12800
    sup = Supervisor([worker])
    sup.start()
    assert worker.finished.wait(10)
    sup.stop()
    frames = _collect(out, 40)
    got = np.concatenate([f.samples for f in frames])
    assert [f.seq for f in frames] == list(range(40))
    assert all(f.rate == 16000 and len(f.samples) == 320 for f in frames)
    np.testing.assert_array_equal(got, data[: len(got)])


def test_missing_device_is_retried_until_it_appears(
    alsa: AlsaConfig, caplog: pytest.LogCaptureFixture
) -> None:
    out = Inbox(1000)
    events = Collector()
    settings = AudioSettings(capture_device="later", reopen_initial_s=0.02, reopen_max_s=0.05)
    worker = CaptureWorker(settings, out, max_frames=10, events=events)
    sup = Supervisor([worker])
    with caplog.at_level("DEBUG", logger="appliance.capture"):
        sup.start()
        deadline = time.monotonic() + 5
        while worker.backoff.failures < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert worker.backoff.failures >= 3, "the worker should keep retrying"
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1, "a missing device is logged once, not on every retry"
        assert "'later'" in errors[0].getMessage()
        # The device appears (e.g. USB mic plugged in): capture resumes by itself.
        alsa.capture("later", np.arange(8000, dtype=np.int16).tobytes())
        assert worker.finished.wait(5)
    sup.stop()
    assert sup.restarts("capture") == 0, "a missing device is not a crash"
    assert len(_collect(out, 10)) == 10
    # Reported once when it went missing and once when it came back (the phase shows error
    # in between), not on every retry.
    assert [(e.device, e.reopened) for e in events.of(DeviceError)] == [
        ("capture", False), ("capture", True)]


def test_device_dies_mid_stream_and_capture_resumes(pulse: PulseServer) -> None:
    out = Inbox(10_000, drop_oldest=True)
    settings = AudioSettings(capture_device="pulse", reopen_initial_s=0.05, reopen_max_s=0.2)
    worker = CaptureWorker(settings, out)
    sup = Supervisor([worker])
    sup.start()
    try:
        assert len(_collect(out, 10)) == 10
        pulse.kill()  # the device vanishes under the reader
        deadline = time.monotonic() + 5
        while worker.backoff.failures == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert worker.backoff.failures >= 1
        pulse.start()  # ... and comes back
        out.flush()
        frames = _collect(out, 25, timeout=15)
        assert len(frames) == 25, "capture resumed after the device came back"
        assert worker.stats()["opens"] >= 2
    finally:
        sup.stop()


def test_real_time_pacing_and_stop_within_one_second(pulse: PulseServer) -> None:
    out = Inbox(10_000)
    worker = CaptureWorker(AudioSettings(capture_device="pulse", period_ms=32), out)
    sup = Supervisor([worker])
    sup.start()
    first = _collect(out, 1)
    assert first
    done = threading.Event()
    t = threading.Thread(target=lambda: (sup.stop(1.0), done.set()))
    t.start()
    assert done.wait(2.0)
    assert not any(th.is_alive() for th in threading.enumerate() if th.name == "capture")
