"""What workers report: one typed event per thing that happened, all into one events inbox.

Workers hand their *data* downstream (``messages``) and *report* here. One control worker
reads the events inbox on its own thread and turns events into the phase, the MQTT state and
events, the LED and the turn-taking gate; observers (the demo, tests) get them after that, on
their own queue. So an audio thread never serialises JSON, takes the MQTT lock or drives a
GPIO pin: it only puts a small frozen dataclass into a bounded inbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from appliance.pipeline.messages import Transcript, now


@dataclass(frozen=True)
class Event:
    t: float = field(default_factory=now, kw_only=True)  # monotonic time it happened


# --- listening ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechDetected(Event):
    """The VAD opened an utterance the gate let through."""

    utterance: int
    over_speech: bool = False  # the appliance was talking (heard through echo cancellation)


@dataclass(frozen=True)
class WakeWordDetected(Event):
    word: str
    over_speech: bool = False  # heard while the appliance was talking


@dataclass(frozen=True)
class OverSpeech(Event):
    """Someone started (``active``) or stopped talking while the appliance speaks, as the
    echo-cancelled microphone hears it: duck the answer, then restore it."""

    active: bool


@dataclass(frozen=True)
class EchoCancellation(Event):
    """Software echo cancellation started or stopped working: while it works the microphone
    stays open when the appliance speaks."""

    active: bool
    reason: str = ""


@dataclass(frozen=True)
class BargeIn(Event):
    """What the brain made of words spoken over the appliance: ``stop`` (a stop phrase),
    ``answer`` (a request for it: cut and answer) or ``ignored`` (someone else talking)."""

    decision: str
    text: str


@dataclass(frozen=True)
class GateChanged(Event):
    """The turn-taking gate opened (captured audio now reaches speech detection) or closed
    (muted, speaking, waiting for the wake word or the button): what "listening" means."""

    open: bool


@dataclass(frozen=True)
class Heard(Event):
    """STT finished an utterance (``transcript.text`` may be empty: nothing intelligible)."""

    transcript: Transcript


# --- the brain ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Routed(Event):
    """The brain decided how to answer a transcript."""

    answer: int
    text: str
    route: str
    intent: str
    confidence: float
    slots: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Sentence(Event):
    """A sentence the brain (or an announcement) handed to speech synthesis."""

    answer: int
    index: int
    text: str
    kind: str
    last: bool
    cached: bool = False  # pre-rendered audio: no synthesis needed


@dataclass(frozen=True)
class VolumeChanged(Event):
    """The output volume (0-100) changed, by voice or by a command."""

    level: int


@dataclass(frozen=True)
class TimerView:
    id: int
    name: str
    seconds: int
    ends_at: float  # wall-clock epoch seconds
    ringing: bool


@dataclass(frozen=True)
class TimersChanged(Event):
    """Every change to the set of timers (set, cancelled, fired, stopped, loaded at start)."""

    timers: tuple[TimerView, ...]


@dataclass(frozen=True)
class TimerFinished(Event):
    """A timer reached zero and started ringing."""

    id: int
    name: str


# --- speaking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechFailed(Event):
    """A sentence that will never play (synthesis failed): its answer ends without it."""

    answer: int
    index: int
    last: bool
    reason: str


@dataclass(frozen=True)
class Started(Event):
    """First sample of an utterance written to the device."""

    id: int
    answer: int
    index: int
    kind: str
    latency_s: float  # t_request -> first sample written
    duration_s: float = 0.0  # how long the whole utterance plays


@dataclass(frozen=True)
class Finished(Event):
    """Last sample of an utterance written (it is still audible for at most one buffer)."""

    id: int
    answer: int
    index: int
    frames: int
    last: bool


@dataclass(frozen=True)
class Silent(Event):
    """Speech stopped on request: faded out and the device buffer dropped (``id`` 0: nothing
    was playing when the interrupt came, so there was nothing to fade)."""

    id: int  # the utterance that was cut
    answer: int
    reason: str
    latency_s: float  # stop requested -> device silent


@dataclass(frozen=True)
class Ducked(Event):
    """Playback reached the ducked (``on``) or the normal level."""

    on: bool


@dataclass(frozen=True)
class Gap(Event):
    """Time with no speech between two sentences of one answer (0 if back to back)."""

    answer: int
    index: int  # the sentence after the gap
    gap_s: float


@dataclass(frozen=True)
class Underrun(Event):
    """The device ran dry (write returned -EPIPE). Only one met while speech was playing is
    a hole a person hears; one in the silence written between utterances is not."""

    count: int  # total so far, speech and silence
    during_speech: bool = True


@dataclass(frozen=True)
class Interrupted(Event):
    """The interruption service silenced the appliance (a ``Silent`` follows)."""

    reason: str


# --- health ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceError(Event):
    """An audio device failed (``reopened``: it works again). The worker retries with
    backoff meanwhile; the phase shows ``error`` until it is back."""

    device: str  # "capture" or "playback"
    message: str
    reopened: bool = False


@dataclass(frozen=True)
class WorkerCrashed(Event):
    worker: str
    error: str
    restarts: int


@dataclass(frozen=True)
class WorkerRecovered(Event):
    """A restarted worker finished its setup again."""

    worker: str


@dataclass(frozen=True)
class StorageError(Event):
    """State could not be written (disk full, read-only, gone): it is kept in memory and
    retried; the phase shows ``error`` until a write works again."""

    what: str  # "timers", "volume", "preferences"
    path: str
    message: str


@dataclass(frozen=True)
class StorageRecovered(Event):
    """The state that could not be written is on disk now."""

    what: str


# Workers whose crash may leave an answer without its last sentence: turn-taking listens again
# rather than stay deaf waiting for it.
SPEAKING_WORKERS = ("brain", "speak", "playback")


def speech_ended(ev: Event) -> bool:
    """Whether ``ev`` means the appliance has stopped talking: the last sentence of what it
    was saying played, was stopped, or could not be synthesized (or its speaker crashed)."""
    if isinstance(ev, Silent):
        return True
    if isinstance(ev, Finished | SpeechFailed):
        return ev.last
    return isinstance(ev, WorkerCrashed) and ev.worker in SPEAKING_WORKERS
