"""The control worker: every event from every worker, on one thread of its own.

Workers report what happened into this worker's inbox and go back to their audio. Here, in
order, each event reaches the pipeline's own listeners (turn-taking, the brain's playback
feedback), then becomes the phase (``phase.transition``) and the published state and events
(MQTT and the LED observe the state machine), and finally goes to the observers (the demo,
tests) on a queue of their own, so a slow observer delays neither audio nor Home Assistant.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from appliance.control.phase import Phase, transition
from appliance.control.state import StateMachine, TimerInfo
from appliance.pipeline.events import (
    DeviceError,
    Event,
    Finished,
    Heard,
    Interrupted,
    Routed,
    Sentence,
    Silent,
    SpeechFailed,
    Started,
    StorageError,
    TimerFinished,
    TimersChanged,
    VolumeChanged,
    WakeWordDetected,
    WorkerCrashed,
)
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.worker import InboxWorker

Listener = Callable[[Event], None]
SPOKEN_TEXT_KINDS = ("answer", "announce")  # what Home Assistant shows as the last answer
FIRST_SOUND_KINDS = ("answer", "filler")  # the first sound of a reply to what was heard


def events_inbox(maxsize: int = 4096) -> Inbox:
    """The pipeline's one events inbox. It never blocks a reporting audio thread: a backlog
    this deep means the control worker is stuck, and losing the oldest news beats stalling
    the sound."""
    return Inbox(maxsize, drop_oldest=True)


class ObserverWorker(InboxWorker):
    """Calls the registered observers with every event, on its own thread."""

    name = "observers"

    def __init__(self, maxsize: int = 4096) -> None:
        super().__init__(inbox=Inbox(maxsize, drop_oldest=True))
        self._lock = threading.Lock()
        self._observers: list[Listener] = []

    def add(self, observer: Listener) -> None:
        with self._lock:
            self._observers.append(observer)

    def handle(self, msg: Any) -> None:
        with self._lock:
            observers = list(self._observers)
        for observer in observers:
            try:
                observer(msg)
            except Exception:
                self.log.exception("observer %r failed on %s", observer, type(msg).__name__)


class ControlWorker(InboxWorker):
    name = "control"

    def __init__(
        self,
        state: StateMachine,
        *,
        events: Inbox | None = None,
        listeners: Sequence[Listener] = (),
        observers: ObserverWorker | None = None,
    ) -> None:
        """``events``: the inbox every worker reports into (made by the composition root
        first, since every worker needs it); default a new ``events_inbox()``."""
        super().__init__(inbox=events if events is not None else events_inbox())
        self.state = state
        self.listeners = list(listeners)
        self.observers = observers
        self.phase = Phase()
        self._answer: tuple[int, str] = (0, "")  # (answer id, its text so far)
        self._announcing: dict[int, str] = {}  # announcements handed to speech, not yet over
        self._heard_at: float | None = None  # end of speech of the turn awaiting its reply

    def handle(self, msg: Any) -> None:
        if not isinstance(msg, Event):
            self.log.warning("control: ignoring %s (not an event)", type(msg).__name__)
            return
        for listener in self.listeners:
            try:
                listener(msg)
            except Exception:
                self.log.exception("listener %r failed on %s", listener, type(msg).__name__)
        try:
            self.apply(msg)
        except Exception:  # bad news must not silence the rest
            self.log.exception("control: could not apply %s", type(msg).__name__)
        if self.observers is not None and self.observers.inbox is not None:
            self.observers.inbox.put(msg)

    def apply(self, ev: Event) -> None:
        """The phase, state and Home Assistant events that ``ev`` implies."""
        phase = transition(self.phase, ev)
        if phase != self.phase:
            self.phase = phase
            self.state.set_phase(phase.name, phase.error, ringing=phase.ringing)
        state = self.state
        if isinstance(ev, Heard) and ev.transcript.text.strip():
            self._heard_at = ev.transcript.t_detected
            state.set_transcript(ev.transcript.text)
            state.emit("transcript", text=ev.transcript.text)
        elif isinstance(ev, Routed):
            state.emit("intent", text=ev.text, route=ev.route, intent=ev.intent,
                       slots=dict(ev.slots), confidence=ev.confidence)
        elif isinstance(ev, Sentence) and ev.kind in SPOKEN_TEXT_KINDS and ev.text:
            self._sentence(ev)
        elif isinstance(ev, Finished | SpeechFailed) and ev.last and ev.answer in self._announcing:
            outcome = "played" if isinstance(ev, Finished) else "failed"
            state.emit("announcement_finished", text=self._announcing.pop(ev.answer),
                       outcome=outcome)
        elif isinstance(ev, Interrupted):
            state.emit("interrupted", reason=ev.reason)
            for text in self._announcing.values():  # the interrupt flushed them all
                state.emit("announcement_finished", text=text, outcome="interrupted")
            self._announcing.clear()
        elif isinstance(ev, TimersChanged):
            state.set_timers([TimerInfo(id=t.id, name=t.name, total_s=t.seconds,
                                        ends_at=t.ends_at) for t in ev.timers if not t.ringing])
        elif isinstance(ev, TimerFinished):
            state.emit("timer_finished", id=ev.id, name=ev.name)
        elif isinstance(ev, WakeWordDetected):
            state.emit("wake_word", word=ev.word)
        elif (isinstance(ev, Started) and ev.index == 0 and ev.kind in FIRST_SOUND_KINDS
              and self._heard_at is not None):
            state.record_response_time((ev.t - self._heard_at) * 1000)
            self._heard_at = None
        elif isinstance(ev, Silent):
            state.record_interrupt_latency(ev.latency_s * 1000)
        elif isinstance(ev, VolumeChanged):
            state.set_volume(ev.level)
        elif isinstance(ev, DeviceError) and not ev.reopened:
            state.emit("error", code="device_error", message=f"{ev.device}: {ev.message}")
        elif isinstance(ev, WorkerCrashed):
            state.emit("error", code="worker_crashed", message=f"{ev.worker}: {ev.error}")
        elif isinstance(ev, StorageError):
            state.emit("error", code="storage_error",
                       message=f"{ev.what} not saved ({ev.message}); kept in memory, retrying")

    def _sentence(self, ev: Sentence) -> None:
        """The last answer as Home Assistant shows it, grown sentence by sentence; a whole
        answer is an ``answer`` event, a whole announcement waits to be played."""
        answer, so_far = self._answer
        text = f"{so_far} {ev.text}".strip() if ev.answer == answer else ev.text
        self._answer = (ev.answer, text)
        self.state.set_answer(text)
        if ev.kind == "announce":
            self._announcing[ev.answer] = text
        elif ev.last:
            self.state.emit("answer", text=text)
