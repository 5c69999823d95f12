"""Gives glibc's freed memory back to the system when a reply ends.

Why: the soak (issue 15) showed malloc's memory in use flat while resident memory kept
creeping, because glibc keeps pages that the models' short-lived buffers freed (fordblks
rising ~40 MB/h even with ``MALLOC_ARENA_MAX=2``). ``malloc_trim(0)`` returns the free pages
of every arena. It runs on the observers' thread (never an audio thread, never the MQTT path),
when playback has come to rest, and at most once per ``min_interval_s`` so a burst of
replies costs one trim.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.pipeline.events import Event, Finished, Silent

log = logging.getLogger("appliance.heap")

TRIM_INTERVAL_S = 30.0  # the soak's replies come every ~20 s; a trim costs a few ms


def process_status() -> dict[str, float]:
    """VmRSS, VmHWM (peak), RssAnon, RssFile in MB and Threads, from /proc/self/status
    (empty where there is no /proc): what the demo and the soak report."""
    out: dict[str, float] = {}
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) / 1024
        elif key == "Threads":
            out[key] = int(value)
    return out


def glibc_trim() -> Callable[[], bool] | None:
    """``malloc_trim(0)`` when the C library is glibc (else None: musl and others have none)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc: Any = ctypes.CDLL(name)
        fn = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return lambda: bool(fn(0))


class HeapTrimmer:
    """An observer (its own thread): trims the heap after a reply has finished or been cut."""

    def __init__(
        self,
        trim: Callable[[], bool] | None,
        *,
        min_interval_s: float = TRIM_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._trim = trim
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._last: float | None = None
        self.trims = 0  # how many trims ran, and the longest one (the soak reports both)
        self.longest_ms = 0.0

    def on_event(self, ev: Event) -> None:
        if self._trim is None or not isinstance(ev, Finished | Silent):
            return
        if isinstance(ev, Finished) and not ev.last:
            return  # more of this reply is still to play
        now = self._clock()
        if self._last is not None and now - self._last < self.min_interval_s:
            return
        self._last = now
        started = time.perf_counter()
        released = self._trim()
        took_ms = (time.perf_counter() - started) * 1000
        self.trims += 1
        self.longest_ms = max(self.longest_ms, took_ms)
        log.debug("heap trimmed in %.1f ms (%s)", took_ms,
                  "memory returned" if released else "nothing to return")
