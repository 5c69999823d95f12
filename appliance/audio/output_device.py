"""One ALSA playback PCM as the playback worker needs it: reopened with backoff, started on a
full buffer, underruns retried and counted, a fade-out stop, and interruptible waits for room.

Why a fresh stream starts on a full buffer: a stream (re)started on a nearly empty buffer
underruns at once on some devices - PulseAudio does, and then keeps underrunning on every
write - so the first write after an open or an underrun is padded with silence in front.

Why the PCM is non-blocking and probed first: a device that stops taking audio (a USB speaker
that stalls, a sound server that hangs) must not hold the playback thread in a write, or an
interrupt waits for it. Writes that find no room wait on the caller's stop event instead, and
after ``stall_s`` without a frame taken the device counts as lost. A device in that state is
never dropped or closed in-process (pyalsaaudio holds the GIL there, and a hung PulseAudio
answers after 30 s): it is set aside, and closed once a probe (``OpenProbe``) shows the device
answers again. The first open, and every open after a failure, is probed the same way.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import numpy as np

from appliance.audio.alsa import ALSAAudioError, OpenProbe, PcmSpec, open_playback
from appliance.pipeline.backoff import Backoff

PROBE_TIMEOUT_S = 2.0  # a device that has not opened by then is hung, not slow
STALL_S = 3.0  # no frame taken for this long: lost (PulseAudio's null sink may wait 2 s to start)
class DeviceLost(Exception):
    """The PCM failed and was closed; ``open`` retries it with backoff."""


class OutputDevice:
    def __init__(
        self, spec: PcmSpec, log: logging.Logger, *, reopen_initial_s: float = 0.1,
        reopen_max_s: float = 5.0, stall_s: float = STALL_S,
        probe_timeout_s: float = PROBE_TIMEOUT_S,
    ) -> None:
        self.spec = spec
        self.buffer_frames = spec.period_frames * spec.periods
        self.backoff = Backoff(log, reopen_initial_s, reopen_max_s)
        self.stall_s = stall_s
        self.probe_timeout_s = probe_timeout_s
        # An interrupt finding no frame taken for this long does not drop the buffer: the
        # device may not answer (see the module docstring), and nothing is being heard anyway.
        self.suspect_s = max(0.1, 3 * self.buffer_frames / spec.rate)
        self._lock = threading.Lock()  # counters, read by stats() from other threads
        self._pcm: Any = None
        self._retry_at = 0.0
        self._prefill = False
        self._probe: OpenProbe | None = None
        self._answered = False  # opened or probed fine since the last failure: open directly
        self._set_aside: list[Any] = []  # PCMs that stopped answering, closed after a probe
        self._waiting_since: float | None = None  # a write has found no room since then
        self.recovered = False  # the last successful open ended a streak of failures
        self.failure = ""  # why the last open failed ("" once one succeeds)
        self.frames_written = 0
        self.underruns = 0
        self.opens = 0
        self.errors = 0

    @property
    def is_open(self) -> bool:
        return self._pcm is not None

    def retry_in(self) -> float:
        if self._probe is not None:
            return 0.01
        return max(0.0, self._retry_at - time.monotonic())

    def open(self) -> bool:
        """Open unless a backoff delay or a probe is running; True if the PCM is open now.
        Never blocks: a device not known to answer is probed in a child process first."""
        if self._pcm is not None:
            return True
        if time.monotonic() < self._retry_at:
            return False
        if not self._answered:
            if self._probe is None:
                self._probe = OpenProbe(self.spec, timeout_s=self.probe_timeout_s)
            probe = self._probe
            res = probe.result()
            if res is None:
                return False
            self._probe = None
            if not probe.timed_out:
                self._close_set_aside()  # it answered (even "busy"): closing will not hang
            if res:
                self._open_failed(ALSAAudioError(res))
                return False
        try:
            self._pcm = open_playback(self.spec, nonblock=True)
        except ALSAAudioError as exc:
            self._answered = False
            self._open_failed(exc)
            return False
        self.failure = ""
        self._answered = True
        self._waiting_since = None
        self._prefill = True
        self.recovered = self.backoff.failures > 0
        self.backoff.succeeded("playback")
        with self._lock:
            self.opens += 1
        return True

    def _open_failed(self, exc: ALSAAudioError) -> None:
        self.failure = str(exc)
        self._retry_at = time.monotonic() + self.backoff.failed("playback", exc)

    def close(self) -> None:
        """Close the PCM; one that stopped taking audio is set aside instead (see above)."""
        pcm, self._pcm = self._pcm, None
        if pcm is None:
            return
        stalled, self._waiting_since = self.stalled_s() > self.suspect_s, None
        if stalled:
            self._set_aside.append(pcm)
            self._answered = False
            return
        with contextlib.suppress(ALSAAudioError):
            pcm.close()

    def shutdown(self) -> None:
        """The worker is stopping: end a running probe too (set-aside PCMs are left alone)."""
        self.close()
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None

    def stalled_s(self) -> float:
        """How long writes have found no room (0 while the device takes audio)."""
        since = self._waiting_since
        return 0.0 if since is None else time.monotonic() - since

    def write(self, chunk: np.ndarray, stop: threading.Event,
              max_wait_s: float = 0.1) -> tuple[int, int]:
        """Write int16 frames, waiting for room on ``stop`` (returns early once it is set) for
        at most ``max_wait_s`` in all, so the caller's loop keeps its heartbeat. Returns
        (frames of ``chunk`` taken, underruns met). Raises DeviceLost once the device has
        taken nothing for ``stall_s``, counted across calls."""
        give_up = time.monotonic() + max_wait_s
        pad = self._pad_frames() if self._prefill else 0
        self._prefill = False
        data = self._padded(chunk, pad)
        sent = 0  # frames of data taken, padding included
        done = 0  # frames of chunk taken before the last underrun
        underruns = 0
        try:
            while sent < len(data) // 2:
                n = self._pcm.write(data[sent * 2:])
                if n > 0:
                    sent += n
                    self._waiting_since = None
                    continue
                if n < 0:
                    # -EPIPE: the device ran dry and alsaaudio re-prepared it; nothing was
                    # taken, so write the rest again, behind silence that restarts it on a
                    # full buffer.
                    underruns += 1
                    done += max(0, sent - pad)
                    pad, sent = self._pad_frames(), 0
                    data = self._padded(chunk[done:], pad)
                    if underruns >= 3:
                        break
                    continue
                now = time.monotonic()
                if self._waiting_since is None:
                    self._waiting_since = now
                elif now - self._waiting_since > self.stall_s:
                    self._lost(f"took no audio for {self.stall_s:g} s")
                if now >= give_up or stop.wait(min(0.005, self.spec.period_s / 2)):
                    break
        except ALSAAudioError as exc:
            self._lost(str(exc), exc)
        taken = done + max(0, sent - pad)
        with self._lock:
            self.frames_written += taken
            self.underruns += underruns
        return taken, underruns

    def room_wait_s(self, frames: int) -> float:
        """How long until ``frames`` fit, at most half a period: the write that follows waits
        for room itself and keeps the pace, because ``avail`` can lie (PulseAudio reports a
        full buffer for tens of ms after a start; trusting it starves the device)."""
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
        return once it has played. Raises DeviceLost, at once if the device has stopped taking
        audio (it is set aside, not dropped: nothing of it is heard now anyway)."""
        if self.stalled_s() > self.suspect_s:
            self._lost(f"took no audio for {self.stalled_s():.1f} s")
        out = np.zeros(max(self.buffer_frames, len(fade)), np.int16)
        out[: len(fade)] = fade
        try:
            self._pcm.drop()
            self._pcm.write(out.tobytes())  # a whole buffer, so the stream runs (see above)
        except ALSAAudioError as exc:
            self._lost(str(exc), exc)
        time.sleep(len(fade) / self.spec.rate)

    def _pad_frames(self) -> int:
        return max(0, self.buffer_frames - self.spec.period_frames)

    @staticmethod
    def _padded(chunk: np.ndarray, pad: int) -> bytes:
        if not pad:
            return chunk.tobytes()
        return np.concatenate([np.zeros(pad, np.int16), chunk]).tobytes()

    def _lost(self, why: str, exc: ALSAAudioError | None = None) -> None:
        with self._lock:
            self.errors += 1
        self.close()
        self._answered = False
        self._retry_at = time.monotonic() + self.backoff.failed("playback", exc or
                                                                 ALSAAudioError(why))
        raise DeviceLost(why) from exc

    def _close_set_aside(self) -> None:
        while self._set_aside:
            with contextlib.suppress(ALSAAudioError):
                self._set_aside.pop().close()

    def stats(self) -> dict[str, int | bool]:
        with self._lock:
            return {
                "frames_written": self.frames_written,
                "underruns": self.underruns,
                "opens": self.opens,
                "device_errors": self.errors,
                "device_open": self._pcm is not None,
                "set_aside": len(self._set_aside),
            }
