"""One ALSA playback PCM as the playback worker needs it: reopened with backoff, started on a
full buffer, underruns retried and counted, a fade-out stop, and interruptible waits for room.

Why a fresh stream starts on a full buffer: a stream (re)started on a nearly empty buffer
underruns at once on some devices - PulseAudio does, and then keeps underrunning on every
write - so the first write after an open or an underrun is padded with silence in front.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import numpy as np

from appliance.audio.alsa import ALSAAudioError, PcmSpec, open_playback
from appliance.pipeline.backoff import Backoff


class DeviceLost(Exception):
    """The PCM failed and was closed; ``open`` retries it with backoff."""


class OutputDevice:
    def __init__(
        self, spec: PcmSpec, log: logging.Logger, *, reopen_initial_s: float = 0.1,
        reopen_max_s: float = 5.0,
    ) -> None:
        self.spec = spec
        self.buffer_frames = spec.period_frames * spec.periods
        self.backoff = Backoff(log, reopen_initial_s, reopen_max_s)
        self._lock = threading.Lock()  # counters, read by stats() from other threads
        self._pcm: Any = None
        self._retry_at = 0.0
        self._prefill = False
        self.recovered = False  # the last successful open ended a streak of failures
        self.frames_written = 0
        self.underruns = 0
        self.opens = 0
        self.errors = 0

    @property
    def is_open(self) -> bool:
        return self._pcm is not None

    def retry_in(self) -> float:
        return max(0.0, self._retry_at - time.monotonic())

    def open(self) -> bool:
        """Open unless a backoff delay is running; True if the PCM is open now."""
        if self._pcm is not None:
            return True
        if time.monotonic() < self._retry_at:
            return False
        try:
            self._pcm = open_playback(self.spec)
        except ALSAAudioError as exc:
            self._retry_at = time.monotonic() + self.backoff.failed("playback", exc)
            return False
        self._prefill = True
        self.recovered = self.backoff.failures > 0
        self.backoff.succeeded("playback")
        with self._lock:
            self.opens += 1
        return True

    def close(self) -> None:
        pcm, self._pcm = self._pcm, None
        if pcm is not None:
            with contextlib.suppress(ALSAAudioError):
                pcm.close()

    def write(self, chunk: np.ndarray) -> int:
        """Write int16 frames (blocking); returns underruns met. Raises DeviceLost."""
        data = self._padded(chunk) if self._prefill else chunk.tobytes()
        self._prefill = False
        underruns = 0
        written = 0
        try:
            for _ in range(3):
                if self._pcm.write(data) >= 0:
                    written = len(chunk)
                    break
                # -EPIPE: the device ran dry and alsaaudio re-prepared it; the data was not
                # taken, so write it again, behind silence that restarts it on a full buffer.
                underruns += 1
                data = self._padded(chunk)
        except ALSAAudioError as exc:
            self._lost(exc)
        with self._lock:
            self.frames_written += written
            self.underruns += underruns
        return underruns

    def room_wait_s(self, frames: int) -> float:
        """How long until ``frames`` fit without blocking, at most half a period: the blocking
        write that follows keeps the pace, because ``avail`` can lie (PulseAudio reports a full
        buffer for tens of ms after a start; trusting it starves the device)."""
        try:
            deficit = frames - self._pcm.avail()
        except ALSAAudioError:
            return 0.0  # the next write reports it
        return min(max(0.0, deficit / self.spec.rate), 0.5 * self.spec.period_s)

    def buffered_frames(self) -> int:
        try:
            return max(0, self.buffer_frames - self._pcm.avail())
        except ALSAAudioError:
            return self.buffer_frames

    def fade_out(self, fade: np.ndarray) -> None:
        """Drop what is buffered, play ``fade`` (from the sample being heard down to zero) and
        return once it has played. Raises DeviceLost."""
        out = np.zeros(max(self.buffer_frames, len(fade)), np.int16)
        out[: len(fade)] = fade
        try:
            self._pcm.drop()
            self._pcm.write(out.tobytes())  # a whole buffer, so the stream runs (see above)
        except ALSAAudioError as exc:
            self._lost(exc)
        time.sleep(len(fade) / self.spec.rate)

    def _padded(self, chunk: np.ndarray) -> bytes:
        pad = max(0, self.buffer_frames - self.spec.period_frames)
        return np.concatenate([np.zeros(pad, np.int16), chunk]).tobytes()

    def _lost(self, exc: ALSAAudioError) -> None:
        with self._lock:
            self.errors += 1
        self.close()
        self._retry_at = time.monotonic() + self.backoff.failed("playback", exc)
        raise DeviceLost(str(exc)) from exc

    def stats(self) -> dict[str, int | bool]:
        with self._lock:
            return {
                "frames_written": self.frames_written,
                "underruns": self.underruns,
                "opens": self.opens,
                "device_errors": self.errors,
                "device_open": self._pcm is not None,
            }
