"""The capture worker: ALSA periods in, AudioFrame messages out.

It never blocks on its consumer (the downstream inbox drops its oldest frame if the VAD falls
behind) and never dies with its device: an ALSAAudioError closes the PCM, logs once, reports a
``DeviceError`` event, and the next steps retry with exponential backoff until the device is
back (reported as reopened).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import numpy as np

from appliance.audio.alsa import ALSAAudioError, PcmSpec, open_capture
from appliance.config import AudioSettings
from appliance.pipeline.backoff import Backoff
from appliance.pipeline.contracts import Sink
from appliance.pipeline.events import DeviceError
from appliance.pipeline.messages import AudioFrame
from appliance.pipeline.worker import Worker


def capture_spec(audio: AudioSettings) -> PcmSpec:
    return PcmSpec(
        device=audio.capture_device,
        rate=audio.sample_rate,
        channels=1,
        period_frames=audio.sample_rate * audio.period_ms // 1000,
        periods=4,
    )


class CaptureWorker(Worker):
    name = "capture"

    def __init__(
        self,
        audio: AudioSettings,
        downstream: Sink,
        *,
        events: Sink | None = None,
        name: str | None = None,
        max_frames: int | None = None,
    ) -> None:
        super().__init__(name, events=events)
        self.spec = capture_spec(audio)
        self.downstream = downstream
        self.max_frames = max_frames  # a bounded run (demo, bench); None = forever
        self.backoff = Backoff(self.log, audio.reopen_initial_s, audio.reopen_max_s)
        self._pcm: Any = None
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self._seq = 0
        self._overruns = 0
        self._reopens = 0
        self._pending = b""
        self._faulted = False  # a DeviceError was reported and the device is not back yet
        self.finished = threading.Event()  # set when max_frames were captured

    # Opening happens in step(), not setup(): a missing device at start is not a crash,
    # it is the same retry path as a device that vanishes later.
    def setup(self) -> None:
        self._try_open()

    def is_ready(self) -> bool:
        return self._pcm is not None or self.finished.is_set()

    def _try_open(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        try:
            self._pcm = open_capture(self.spec)
        except ALSAAudioError as exc:
            self._failed(exc)
            return False
        self.backoff.succeeded("capture")
        with self._lock:
            self._reopens += 1
        if self._faulted:
            self._faulted = False
            self.report(DeviceError(device="capture", message="device reopened", reopened=True))
        return True

    def _failed(self, exc: ALSAAudioError) -> None:
        self._retry_at = time.monotonic() + self.backoff.failed("capture", exc)
        if not self._faulted:
            self._faulted = True
            self.report(DeviceError(device="capture", message=str(exc)))

    def step(self) -> None:
        if self.max_frames is not None and self._seq >= self.max_frames:
            self.finished.set()
            time.sleep(0.05)
            return
        if self._pcm is None and not self._try_open():
            time.sleep(min(0.05, max(0.0, self._retry_at - time.monotonic())))
            return
        try:
            n, data = self._pcm.read()
        except ALSAAudioError as exc:
            self._close()
            self._failed(exc)
            return
        if n < 0:  # -EPIPE: overrun; alsaaudio has already prepared the stream again
            with self._lock:
                self._overruns += 1
            return
        if n == 0:
            return
        self._emit(data)

    def _emit(self, data: bytes) -> None:
        # alsaaudio may return less than a period; assemble exact periods so frame timing
        # stays a pure function of the sequence number.
        buf = self._pending + data
        period_bytes = self.spec.period_frames * 2
        t_now = time.monotonic()
        while len(buf) >= period_bytes:
            chunk, buf = buf[:period_bytes], buf[period_bytes:]
            samples = np.frombuffer(chunk, dtype="<i2").copy()
            self.downstream.put(AudioFrame(samples, self.spec.rate, t_now, self._seq))
            self._seq += 1
            if self.max_frames is not None and self._seq >= self.max_frames:
                buf = b""
                break
        self._pending = buf

    def _close(self) -> None:
        pcm, self._pcm = self._pcm, None
        self._pending = b""
        if pcm is not None:
            with contextlib.suppress(ALSAAudioError):
                pcm.close()

    def teardown(self) -> None:
        self._close()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "frames": self._seq,
                "overruns": self._overruns,
                "opens": self._reopens,
                "failures": self.backoff.failures,
            }
