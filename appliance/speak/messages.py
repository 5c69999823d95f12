"""Typed messages of the output half: brain -> TTS producer -> priority queue -> playback.

Frozen dataclasses, so a message can cross threads without copying or locking. Audio arrays
are never written after a message is built (the producer hands each array over for good).
"""

from __future__ import annotations

import enum
import itertools
import threading
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from appliance.pipeline.messages import now

Kind = Literal["answer", "filler", "alarm", "announce"]
KINDS: tuple[str, ...] = ("answer", "filler", "alarm", "announce")


class Priority(enum.IntEnum):
    """Higher value wins. HIGH: alarms, corrections; NORMAL: answers; LOW: fillers."""

    LOW = 0
    NORMAL = 1
    HIGH = 2


class _Ids:
    """Process-wide unique utterance ids; a lock because ``next`` on a shared iterator is a
    compound operation without the GIL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._it = itertools.count(1)

    def next(self) -> int:
        with self._lock:
            return next(self._it)


_ids = _Ids()


def new_id() -> int:
    return _ids.next()


@dataclass(frozen=True, eq=False)
class SpeakRequest:
    """One sentence to say: text to synthesize, or pre-rendered float32/int16 ``audio`` (then
    ``text``, if given, is only its caption: what was said, for logs and Home Assistant)."""

    text: str = ""
    audio: np.ndarray | None = None
    rate: int = 0  # rate of ``audio``; ignored for text
    priority: Priority = Priority.NORMAL
    style: str = ""  # a name under tts.styles; empty = tts.style
    answer: int = 0  # turn/answer id: sentences of one answer share it
    index: int = 0  # sentence index within the answer
    kind: Kind = "answer"
    last: bool = False  # the last sentence of its answer (playback closes the answer's gap log)
    t: float = field(default_factory=now)  # when the text became available

    def __post_init__(self) -> None:
        if self.audio is None and not self.text.strip():
            raise ValueError("SpeakRequest needs text or audio")
        if self.audio is not None:
            if self.rate <= 0:
                raise ValueError("SpeakRequest with audio needs its sample rate")
            if self.audio.ndim != 1 or self.audio.dtype not in (np.float32, np.int16):
                raise ValueError(
                    f"SpeakRequest audio must be mono float32 or int16, got "
                    f"{self.audio.dtype} with shape {self.audio.shape}"
                )
        if self.kind not in KINDS:
            raise ValueError(f"SpeakRequest kind must be one of {KINDS}, got {self.kind!r}")
        object.__setattr__(self, "priority", Priority(self.priority))


@dataclass(frozen=True, eq=False)
class Utterance:
    """Audio ready to play: int16 mono at the playback device rate."""

    audio: np.ndarray
    rate: int
    priority: Priority = Priority.NORMAL
    answer: int = 0
    index: int = 0
    text: str = ""
    kind: Kind = "answer"
    last: bool = False
    t_request: float = field(default_factory=now)  # when its text (or audio) became available
    t_ready: float = field(default_factory=now)  # when synthesis finished
    id: int = field(default_factory=new_id)

    def __post_init__(self) -> None:
        if self.audio.dtype != np.int16 or self.audio.ndim != 1:
            raise ValueError(f"Utterance audio must be mono int16, got {self.audio.dtype}")

    @property
    def duration(self) -> float:
        return len(self.audio) / self.rate


# --- playback events ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaybackEvent:
    t: float = field(default_factory=now, kw_only=True)


@dataclass(frozen=True)
class Started(PlaybackEvent):
    """First sample of an utterance written to the device."""

    id: int
    answer: int
    index: int
    kind: str
    latency_s: float  # t_request -> first sample written
    duration_s: float = 0.0  # how long the whole utterance plays


@dataclass(frozen=True)
class Finished(PlaybackEvent):
    """Last sample of an utterance written (it is still audible for at most one buffer)."""

    id: int
    answer: int
    index: int
    frames: int
    last: bool


@dataclass(frozen=True)
class Silent(PlaybackEvent):
    """Playback stopped on request: faded out and the device buffer dropped."""

    id: int  # the utterance that was cut
    answer: int
    reason: str
    latency_s: float  # stop requested -> device silent


@dataclass(frozen=True)
class Gap(PlaybackEvent):
    """Time with no speech between two sentences of one answer (0 if back to back)."""

    answer: int
    index: int  # the sentence after the gap
    gap_s: float


@dataclass(frozen=True)
class Underrun(PlaybackEvent):
    """The device ran dry while speech was being written (write returned -EPIPE)."""

    count: int  # total so far


@dataclass(frozen=True)
class DeviceError(PlaybackEvent):
    """The device failed; playback reopens it with backoff and resumes the next utterance."""

    message: str
    reopened: bool = False
