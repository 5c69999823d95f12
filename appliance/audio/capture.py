"""The capture worker: ALSA periods in, AudioFrame messages out.

It never blocks on its consumer (the downstream inbox drops its oldest frame if the VAD falls
behind) and never dies with its device: an ALSAAudioError closes the PCM, logs once, reports a
``DeviceError`` event, and the next steps retry with exponential backoff until the device is
back (reported as reopened).

With software echo cancellation (``echo``) every period is cleaned here, against what the
loudspeaker played while it was captured, before anyone else sees it; a voice starting or
stopping over the loudspeaker is reported (``OverSpeech``). If the canceller fails, it is
dropped with one error line and an ``EchoCancellation(active=False)`` event: the input then
closes while the appliance speaks, as it does without one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import numpy as np

from appliance.audio.alsa import ALSAAudioError, OpenProbe, PcmSpec, open_capture
from appliance.audio.echo import EchoCanceller
from appliance.config import AudioSettings
from appliance.pipeline.backoff import Backoff
from appliance.pipeline.contracts import Sink
from appliance.pipeline.events import DeviceError, EchoCancellation, OverSpeech
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
        echo: EchoCanceller | None = None,
    ) -> None:
        super().__init__(name, events=events)
        self.echo = echo
        self.spec = capture_spec(audio)
        self.downstream = downstream
        self.max_frames = max_frames  # a bounded run (demo, bench); None = forever
        self.backoff = Backoff(self.log, audio.reopen_initial_s, audio.reopen_max_s)
        self._pcm: Any = None
        self._retry_at = 0.0
        self._probe: OpenProbe | None = None
        self._answered = False  # opened fine since the last failure: reopen without a probe
        self._lock = threading.Lock()
        self._seq = 0
        self._overruns = 0
        self._reopens = 0
        self._pending = b""
        self._faulted = False  # a DeviceError was reported and the device is not back yet
        self._broken = True  # the stream starts anew with the next period (echo alignment)
        self.finished = threading.Event()  # set when max_frames were captured

    # Opening happens in step(), not setup(): a missing device at start is not a crash,
    # it is the same retry path as a device that vanishes later.
    def setup(self) -> None:
        if self.echo is not None:
            self.report(EchoCancellation(active=True))
        self._try_open()

    def is_ready(self) -> bool:
        return self._pcm is not None or self.finished.is_set()

    def _try_open(self) -> bool:
        """Never blocks: a device not known to answer is probed in a child process first
        (``OpenProbe``: pyalsaaudio holds the GIL while a hung device does not open)."""
        if time.monotonic() < self._retry_at:
            return False
        if not self._answered:
            if self._probe is None:
                self._probe = OpenProbe(self.spec, playback=False)
            res = self._probe.result()
            if res is None:
                return False
            self._probe = None
            if res:
                self._failed(ALSAAudioError(res))
                return False
        try:
            self._pcm = open_capture(self.spec)
        except ALSAAudioError as exc:
            self._failed(exc)
            return False
        self._answered = True
        self.backoff.succeeded("capture")
        self._broken = True
        with self._lock:
            self._reopens += 1
        if self._faulted:
            self._faulted = False
            self.report(DeviceError(device="capture", message="device reopened", reopened=True))
        return True

    def _failed(self, exc: ALSAAudioError) -> None:
        self._answered = False
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
            self._broken = True
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
        # When the last sample read was captured: at the latest now (a late read only makes
        # the echo canceller's reference early, which it absorbs; the canceller keeps the
        # earliest recent estimate).
        t_end = t_now - len(buf) // 2 / self.spec.rate
        while len(buf) >= period_bytes:
            chunk, buf = buf[:period_bytes], buf[period_bytes:]
            samples = np.frombuffer(chunk, dtype="<i2").copy()
            t_end += self.spec.period_frames / self.spec.rate
            if self.echo is not None:
                samples = self._cancel_echo(samples, t_end)
            self.downstream.put(AudioFrame(samples, self.spec.rate, t_now, self._seq))
            self._seq += 1
            if self.max_frames is not None and self._seq >= self.max_frames:
                buf = b""
                break
        self._pending = buf

    def _cancel_echo(self, samples: np.ndarray, t_end: float) -> np.ndarray:
        assert self.echo is not None
        try:
            cleaned, voice = self.echo.process(samples, t_end, restart=self._broken)
            self._broken = False
        except Exception as exc:
            self.log.error("echo cancellation failed (%s); the microphone now closes while the "
                           "appliance speaks", exc)
            self.echo = None
            self.report(EchoCancellation(active=False, reason=str(exc)))
            return samples
        if voice is not None:
            self.report(OverSpeech(active=voice))
        return cleaned

    def _close(self) -> None:
        pcm, self._pcm = self._pcm, None
        self._pending = b""
        if pcm is not None:
            with contextlib.suppress(ALSAAudioError):
                pcm.close()

    def teardown(self) -> None:
        self._close()
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None

    def stats(self) -> dict[str, Any]:
        echo = self.echo
        with self._lock:
            figures: dict[str, Any] = {
                "frames": self._seq,
                "overruns": self._overruns,
                "opens": self._reopens,
                "failures": self.backoff.failures,
            }
        figures["echo_cancellation"] = echo is not None
        if echo is not None:
            figures["erle_db_median"] = echo.stats.median()
            figures["erle_windows"] = len(echo.stats.erle_db)
            figures["echo_anchors"] = echo.anchors
            figures["far_end_breaks"] = echo.far.breaks
        return figures
