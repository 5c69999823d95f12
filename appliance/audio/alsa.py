"""Opening ALSA PCMs with pyalsaaudio, and the backoff used when a device goes away.

Capture and playback both open devices here so errors read the same and a vanished device is
retried the same way: log once, back off exponentially, resume.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import alsaaudio

ALSAAudioError = alsaaudio.ALSAAudioError
# alsa-lib's own configuration: an ALSA_CONFIG_PATH that adds PCMs must list it first, or the
# stock devices (null, plug, ...) disappear.
STOCK_CONFIG = "/usr/share/alsa/alsa.conf"


@dataclass(frozen=True)
class PcmSpec:
    device: str
    rate: int
    channels: int = 1
    period_frames: int = 320
    periods: int = 4  # buffer = periods x period

    @property
    def period_s(self) -> float:
        return self.period_frames / self.rate


def open_capture(spec: PcmSpec) -> alsaaudio.PCM:
    """Blocking S16_LE capture PCM; raises ALSAAudioError naming the device."""
    try:
        return alsaaudio.PCM(
            alsaaudio.PCM_CAPTURE,
            alsaaudio.PCM_NORMAL,
            device=spec.device,
            channels=spec.channels,
            rate=spec.rate,
            format=alsaaudio.PCM_FORMAT_S16_LE,
            periodsize=spec.period_frames,
            periods=spec.periods,
        )
    except ALSAAudioError as exc:
        raise ALSAAudioError(f"cannot open capture device {spec.device!r}: {exc}") from exc


def open_playback(spec: PcmSpec) -> alsaaudio.PCM:
    """Blocking S16_LE playback PCM with a small buffer (periods x period)."""
    try:
        return alsaaudio.PCM(
            alsaaudio.PCM_PLAYBACK,
            alsaaudio.PCM_NORMAL,
            device=spec.device,
            channels=spec.channels,
            rate=spec.rate,
            format=alsaaudio.PCM_FORMAT_S16_LE,
            periodsize=spec.period_frames,
            periods=spec.periods,
        )
    except ALSAAudioError as exc:
        raise ALSAAudioError(f"cannot open playback device {spec.device!r}: {exc}") from exc


class Backoff:
    """Exponential retry delay that logs the first failure of a streak only."""

    def __init__(self, log: logging.Logger, initial_s: float = 0.1, max_s: float = 5.0) -> None:
        self.log = log
        self.initial_s = initial_s
        self.max_s = max_s
        self._lock = threading.Lock()
        self._delay = initial_s
        self._failures = 0

    def failed(self, what: str, exc: BaseException) -> float:
        """Record a failure; returns how long to wait before the next try."""
        with self._lock:
            self._failures += 1
            delay = self._delay
            self._delay = min(self._delay * 2, self.max_s)
            first = self._failures == 1
        if first:
            self.log.error("%s: %s (retrying with backoff up to %.1fs)", what, exc, self.max_s)
        else:
            self.log.debug("%s: still failing (%s); next try in %.2fs", what, exc, delay)
        return delay

    def succeeded(self, what: str) -> None:
        with self._lock:
            failures, self._failures = self._failures, 0
            self._delay = self.initial_s
        if failures:
            self.log.warning("%s: recovered after %d failed attempts", what, failures)

    @property
    def failures(self) -> int:
        with self._lock:
            return self._failures
