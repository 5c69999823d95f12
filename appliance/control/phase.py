"""What the appliance is doing, as a pure function of what happened: ``transition(phase, event)``.

One place decides the phase Home Assistant and the LED show, so it cannot drift from what the
device does: speech detected -> listening, a transcript -> thinking, the first sound ->
speaking, the end of what it says (played out, stopped, or unsynthesizable) -> back at rest.
At rest it is ``listening`` only while the turn-taking gate is open (``GateChanged``, from the
VAD), otherwise ``idle``: push-to-talk with the button up, or waiting for the wake word. A
ringing timer shows ``ringing`` over all that, so its beeps do not flip the state; a stage or
device that fails, or state that cannot be saved, puts ``error`` over everything until it
recovers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from appliance.pipeline.events import (
    DeviceError,
    Event,
    GateChanged,
    Heard,
    SpeechDetected,
    Started,
    StorageError,
    StorageRecovered,
    TimersChanged,
    WakeWordDetected,
    WorkerCrashed,
    WorkerRecovered,
    speech_ended,
)

PHASES: tuple[str, ...] = ("idle", "listening", "thinking", "speaking", "ringing", "error")


@dataclass(frozen=True)
class Phase:
    activity: str = "idle"  # idle, listening, thinking or speaking
    gate_open: bool = False  # the turn-taking gate lets audio through
    ringing: bool = False  # a timer is ringing
    faults: tuple[tuple[str, str], ...] = ()  # (what failed, why), while it is down

    @property
    def name(self) -> str:
        if self.faults:
            return "error"
        return "ringing" if self.ringing else self.activity

    @property
    def at_rest(self) -> str:
        """What it does when it is not busy with a turn."""
        return "listening" if self.gate_open else "idle"

    @property
    def error(self) -> str:
        return "; ".join(f"{what}: {why}" for what, why in self.faults)

    def with_fault(self, what: str, why: str) -> Phase:
        return replace(self, faults=(*self.without_fault(what).faults, (what, why)))

    def without_fault(self, what: str) -> Phase:
        return replace(self, faults=tuple(f for f in self.faults if f[0] != what))


def transition(phase: Phase, ev: Event) -> Phase:
    """The phase after ``ev``; events that change nothing return ``phase`` itself."""
    if isinstance(ev, GateChanged):
        phase = replace(phase, gate_open=ev.open)
        if phase.activity in ("idle", "listening"):
            return replace(phase, activity=phase.at_rest)
        return phase
    if isinstance(ev, SpeechDetected | WakeWordDetected) and phase.activity != "speaking":
        return replace(phase, activity="listening")
    if isinstance(ev, Heard):
        return replace(phase, activity="thinking" if ev.transcript.text.strip()
                       else phase.at_rest)
    if isinstance(ev, Started) and ev.kind != "alarm":  # alarm beeps are the ringing
        return replace(phase, activity="speaking")
    if isinstance(ev, TimersChanged):
        return replace(phase, ringing=any(t.ringing for t in ev.timers))
    if isinstance(ev, DeviceError):
        what = f"{ev.device} device"
        return phase.without_fault(what) if ev.reopened else phase.with_fault(what, ev.message)
    if isinstance(ev, StorageError):
        return phase.with_fault(f"{ev.what} storage", ev.message)
    if isinstance(ev, StorageRecovered):
        return phase.without_fault(f"{ev.what} storage")
    if isinstance(ev, WorkerRecovered):
        return phase.without_fault(f"{ev.worker} worker")
    if isinstance(ev, WorkerCrashed):
        phase = phase.with_fault(f"{ev.worker} worker", ev.error)
    if speech_ended(ev):
        return replace(phase, activity=phase.at_rest)
    return phase
