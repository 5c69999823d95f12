"""Typed messages that cross thread boundaries: the one place every stage's input is defined.

Everything here is a small frozen dataclass: a worker can hand one to another thread without
copying or locking (audio arrays are never written after a message is built). Control
messages (subclasses of Control) overtake data in every inbox. What workers *report* (rather
than hand downstream) is in ``events``.
"""

from __future__ import annotations

import enum
import itertools
import threading
import time
import typing
from dataclasses import dataclass, field
from typing import Literal

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
    """Stop what you are doing for the current turn; sent only by the interruption service.

    ``keep_answer``: an answer that asked for the interrupt itself (the "stop" intent's "vale")
    and is not cut by it."""

    reason: str = "interrupt"
    keep_answer: int = 0
    flushes: bool = field(default=True, init=False)


@dataclass(frozen=True)
class SetLookahead(Control):
    """TTS producer: synthesize at most this many sentences ahead of what plays (the brain's
    interrupt predictor shrinks it for answers likely to be cut)."""

    sentences: int

    def __post_init__(self) -> None:
        if self.sentences < 1:
            raise ValueError(f"look-ahead must be at least 1 sentence, got {self.sentences}")


@dataclass(frozen=True)
class EndTurn(Control):
    """VAD: the utterance paused at ``pause`` is a finished turn (STT judged its early
    transcript complete); end it now unless the person has spoken again since."""

    utterance: int
    pause: int


@dataclass(frozen=True)
class Flush(Control):
    """Drop queued data without stopping."""

    flushes: bool = field(default=True, init=False)


@dataclass(frozen=True)
class WakeWordSettings(Control):
    """VAD: listen for another wake word and/or at another sensitivity (from MQTT). The VAD
    worker owns the detector, so the change happens on its thread, between two frames."""

    word: str | None = None
    sensitivity: float | None = None


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
    over_speech: bool = False  # the appliance was talking (heard through echo cancellation)


@dataclass(frozen=True, eq=False)
class SpeechAudio:
    """Utterance audio streamed while the person speaks (float32, 16 kHz, in -1..1)."""

    utterance: int
    samples: np.ndarray


@dataclass(frozen=True)
class SpeechPause:
    """The person paused (``turn.pause_ms`` of silence) inside an open utterance: STT starts an
    early transcription of what it has. ``p_complete``: the end-of-turn model's probability
    that the turn is over (None without the model)."""

    utterance: int
    pause: int  # numbers the pauses of one utterance; EndTurn names the one it answers
    t: float  # stream time of the last speech sample before the pause
    p_complete: float | None = None


@dataclass(frozen=True)
class SpeechResumed:
    """Speech again after a pause: the early transcription is out of date."""

    utterance: int
    pause: int


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
    over_speech: bool = False  # spoken while the appliance was talking


# --- output half: brain -> TTS producer -> priority queue -> playback ------------------------

# bridge: a short "mm" the priority queue plays when an answer's next sentence is late.
Kind = Literal["answer", "filler", "alarm", "announce", "bridge"]
KINDS: tuple[str, ...] = typing.get_args(Kind)


class Priority(enum.IntEnum):
    """Higher value wins. HIGH: alarms, corrections; NORMAL: answers; LOW: fillers."""

    LOW = 0
    NORMAL = 1
    HIGH = 2


class _Ids:
    """Process-wide unique ids; a lock because ``next`` on a shared iterator is a compound
    operation without the GIL."""

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
