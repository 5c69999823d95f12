"""Typed messages that cross thread boundaries.

Everything here is a small frozen dataclass: a worker can hand one to another thread without
copying or locking. Control messages (subclasses of Control) overtake data in every inbox.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


def now() -> float:
    return time.monotonic()


# --- control -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """Overtakes queued data. If ``flushes`` is true, the receiving inbox drops its queued data."""

    flushes: bool = field(default=False, init=False)
    t: float = field(default_factory=now, kw_only=True)


@dataclass(frozen=True)
class Interrupt(Control):
    """Stop what you are doing for the current turn (barge-in, button, MQTT)."""

    reason: str = "interrupt"
    flushes: bool = field(default=True, init=False)


@dataclass(frozen=True)
class Flush(Control):
    """Drop queued data without stopping."""

    flushes: bool = field(default=True, init=False)


@dataclass(frozen=True)
class Shutdown(Control):
    flushes: bool = field(default=True, init=False)


# --- input half ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AudioFrame:
    """One capture period of int16 mono samples.

    ``seq`` numbers periods from the start of capture, so ``seq * duration`` is the stream time
    of the first sample; ``t`` is the monotonic time the period was read (its end, give or take
    the device buffer)."""

    samples: np.ndarray
    rate: int
    t: float
    seq: int = 0

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate


@dataclass(frozen=True)
class SpeechStart:
    utterance: int
    t: float  # stream time (s since capture start) of the first speech sample


@dataclass(frozen=True, eq=False)
class SpeechAudio:
    """Utterance audio streamed while the person speaks (float32, 16 kHz, in -1..1)."""

    utterance: int
    samples: np.ndarray


@dataclass(frozen=True)
class SpeechEnd:
    utterance: int
    t_start: float  # stream time of speech start
    t_end: float  # stream time of speech end (last speech sample)
    t_detected: float  # monotonic time the VAD decided it had ended
    capped: bool = False  # cut by max_utterance_s


@dataclass(frozen=True)
class Transcript:
    utterance: int
    text: str
    final: bool
    t_start: float = 0.0
    t_end: float = 0.0
    t_detected: float = 0.0  # monotonic time of the speech-end decision
    t_done: float = field(default_factory=now)
    engine: str = ""
    language: str = ""
