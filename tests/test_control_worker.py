"""The control worker: events in, the phase, state, Home Assistant events and observers out.

The phase machine is a pure function and is tested as a table; the worker runs on its own
thread under the real supervisor, fed through its inbox like the pipeline's workers feed it.
"""

from __future__ import annotations

import threading

import pytest

from appliance.control.phase import Phase, transition
from appliance.control.state import EntityEvent, StateMachine
from appliance.control.worker import ControlWorker, ObserverWorker
from appliance.pipeline.events import (
    DeviceError,
    Event,
    Finished,
    GateChanged,
    Heard,
    Interrupted,
    Routed,
    Sentence,
    Silent,
    SpeechDetected,
    SpeechFailed,
    Started,
    TimerFinished,
    TimersChanged,
    TimerView,
    VolumeChanged,
    WakeWordDetected,
    WorkerCrashed,
    WorkerRecovered,
)
from appliance.pipeline.messages import Transcript
from appliance.pipeline.supervisor import Supervisor
from appliance.pipeline.worker import InboxWorker
from tests.support.harness import Collector, run_worker, running

OPEN, CLOSED = GateChanged(open=True), GateChanged(open=False)


def heard(text: str, t_detected: float = 0.0) -> Heard:
    return Heard(transcript=Transcript(1, text, True, t_detected=t_detected))


def ringing(*rings: bool) -> TimersChanged:
    return TimersChanged(timers=tuple(TimerView(id=i + 1, name="", seconds=60, ends_at=0.0,
                                                ringing=r) for i, r in enumerate(rings)))


def started(kind: str = "answer", index: int = 0, latency_s: float = 0.2,
            t: float = 0.0) -> Started:
    return Started(id=1, answer=7, index=index, kind=kind, latency_s=latency_s, t=t)


def finished(last: bool) -> Finished:
    return Finished(id=1, answer=7, index=0, frames=10, last=last)


# --- the phase machine ----------------------------------------------------------------------


@pytest.mark.parametrize(("events", "phase"), [
    ([], "idle"),
    ([OPEN], "listening"),  # "always": the gate lets everything through
    ([OPEN, CLOSED], "idle"),  # push-to-talk released, or the follow-up window over
    ([SpeechDetected(utterance=1)], "listening"),
    ([WakeWordDetected(word="okay_nabu")], "listening"),
    ([heard("¿qué hora es?")], "thinking"),
    ([OPEN, heard("")], "listening"),  # nothing intelligible: back to listening ...
    ([heard("")], "idle"),  # ... unless the gate is closed
    ([heard("hola"), started()], "speaking"),
    ([started(), SpeechDetected(utterance=2)], "speaking"),  # its own voice changes nothing
    ([started(), CLOSED, OPEN], "speaking"),  # nor does the gate around it
    ([heard("hola"), OPEN], "thinking"),
    ([started("filler"), finished(last=False)], "speaking"),  # the answer is still coming
    ([OPEN, started(), finished(last=True)], "listening"),
    ([started(), finished(last=True)], "idle"),  # push-to-talk, button up: not listening
    ([OPEN, started(), Silent(id=0, answer=0, reason="button", latency_s=0.0)], "listening"),
    ([OPEN, started(), SpeechFailed(answer=7, index=1, last=True, reason="tts")], "listening"),
    ([started(), DeviceError(device="playback", message="gone")], "error"),
    ([DeviceError(device="capture", message="gone"),
      DeviceError(device="capture", message="back", reopened=True)], "idle"),
    ([heard("hola"), WorkerCrashed(worker="brain", error="bug", restarts=1)], "error"),
    ([OPEN, heard("hola"), WorkerCrashed(worker="brain", error="bug", restarts=1),
      WorkerRecovered(worker="brain")], "listening"),
    ([OPEN, TimerFinished(id=1, name=""), ringing(True)], "ringing"),
    ([OPEN, ringing(True), started("alarm"), CLOSED], "ringing"),
    ([OPEN, ringing(True), started("alarm"), ringing(), Silent(id=1, answer=0, reason="button",
                                                                latency_s=0.0)], "listening"),
    ([ringing(True), DeviceError(device="capture", message="gone")], "error"),
])
def test_phase_follows_what_happened(events: list[Event], phase: str) -> None:
    p = Phase()
    for ev in events:
        p = transition(p, ev)
    assert p.name == phase


def test_a_ringing_alarm_is_one_state_not_a_flapping_one() -> None:
    """Fifteen beeps (each opens and closes the gate around its sound) and the shown phase
    never leaves ``ringing``; stopping it shows what is really going on."""
    p = transition(transition(Phase(), OPEN), ringing(True))
    names = set()
    for _ in range(15):
        for ev in (started("alarm"), CLOSED, finished(last=True), OPEN):
            p = transition(p, ev)
            names.add(p.name)
    assert names == {"ringing"}
    assert transition(p, ringing()).name == "listening"


def test_error_names_every_fault_until_each_recovers() -> None:
    p = transition(Phase(), DeviceError(device="capture", message="no mic"))
    p = transition(p, WorkerCrashed(worker="stt", error="OSError", restarts=2))
    assert p.error == "capture device: no mic; stt worker: OSError"
    p = transition(p, WorkerRecovered(worker="stt"))
    assert (p.name, p.error) == ("error", "capture device: no mic")
    p = transition(p, DeviceError(device="capture", message="ok", reopened=True))
    assert (p.name, p.error) == ("idle", "")
    assert transition(p, finished(last=False)) is p  # nothing to change: the same phase


# --- the worker -----------------------------------------------------------------------------


class Rig:
    def __init__(self) -> None:
        self.state = StateMachine()
        self.entity_events: list[EntityEvent] = []
        self.state.subscribe_events(self.entity_events.append)
        self.heard_first = Collector()
        self.observed = Collector()
        self.observer_threads: set[str] = set()
        observers = ObserverWorker()
        observers.add(self.observed)
        observers.add(lambda ev: self.observer_threads.add(threading.current_thread().name))
        self.worker = ControlWorker(self.state, listeners=[self.heard_first],
                                    observers=observers)
        self.observers = observers

    def feed(self, *events: Event) -> None:
        n = len(self.observed) + len(events)
        run_worker(self.worker, events, until=lambda: len(self.observed) >= n)


def test_events_become_the_published_state_in_order() -> None:
    rig = Rig()
    with running(rig.worker, rig.observers):
        rig.feed(OPEN, WakeWordDetected(word="okay_nabu"), heard("¿Qué hora es?", 100.0),
                 Routed(answer=7, text="¿Qué hora es?", route="template", intent="time",
                        confidence=0.98))
        assert rig.state.snapshot().phase == "thinking"
        assert rig.state.snapshot().last_transcript == "¿Qué hora es?"
        rig.feed(Sentence(answer=7, index=0, text="Vale,", kind="answer", last=False),
                 started(latency_s=0.002, t=100.412),  # 412 ms after the end of speech
                 Sentence(answer=7, index=1, text="son las tres.", kind="answer", last=True),
                 Sentence(answer=7, index=2, text="mm", kind="filler", last=False),
                 finished(last=True))
        snap = rig.state.snapshot()
        assert (snap.phase, snap.last_answer, snap.last_response_ms) == (
            "listening", "Vale, son las tres.", 412.0)
        rig.feed(Sentence(answer=9, index=0, text="La lavadora.", kind="announce", last=True),
                 Finished(id=3, answer=9, index=0, frames=10, last=True),
                 Sentence(answer=11, index=0, text="La puerta.", kind="announce", last=True),
                 Interrupted(reason="mqtt"),
                 Silent(id=4, answer=11, reason="mqtt", latency_s=0.0123),
                 VolumeChanged(level=30),
                 TimersChanged(timers=(TimerView(id=1, name="pasta", seconds=600,
                                                 ends_at=1_120.0, ringing=False),
                                       TimerView(id=2, name="", seconds=60, ends_at=990.0,
                                                 ringing=True))),
                 TimerFinished(id=2, name=""),
                 DeviceError(device="capture", message="gone"))
        snap = rig.state.snapshot()
        assert snap.last_answer == "La puerta." and snap.last_interrupt_ms == 12.3
        assert snap.volume == 30 and snap.ringing
        assert [(t.id, t.name, t.total_s, t.ends_at) for t in snap.timers] == [
            (1, "pasta", 600, 1_120.0)]
    assert [(e.event_type, e.detail) for e in rig.entity_events] == [
        ("wake_word", {"word": "okay_nabu"}),
        ("transcript", {"text": "¿Qué hora es?"}),
        ("intent", {"text": "¿Qué hora es?", "route": "template", "intent": "time",
                    "slots": {}, "confidence": 0.98}),
        ("answer", {"text": "Vale, son las tres."}),
        ("announcement_finished", {"text": "La lavadora.", "outcome": "played"}),
        ("interrupted", {"reason": "mqtt"}),
        ("announcement_finished", {"text": "La puerta.", "outcome": "interrupted"}),
        ("timer_finished", {"id": 2, "name": ""}),
        ("error", {"code": "device_error", "message": "capture: gone"})]
    # The pipeline's listeners saw each event before the state changed; observers after,
    # on their own thread.
    assert rig.heard_first.items() == rig.observed.items()
    assert rig.observer_threads == {"observers"}


def test_a_slow_or_broken_observer_delays_neither_state_nor_other_events(
        caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig()
    release = threading.Event()
    rig.observers.add(lambda ev: release.wait(10))  # an observer stuck on its first event

    def broken(ev: Event) -> None:
        raise RuntimeError("observer bug")

    rig.worker.listeners.append(broken)
    with running(rig.worker, rig.observers):
        for ev in (heard("hola"), started()):
            rig.worker.inbox.put(ev)
        run_worker(rig.worker, [], until=lambda: rig.state.snapshot().phase == "speaking")
        release.set()
    assert "observer bug" in caplog.text


class Crashy(InboxWorker):
    """A stage with a bug: raises on its first message, then works."""

    name = "stt"

    def __init__(self) -> None:
        super().__init__()
        self.crashed = False

    def handle(self, msg: object) -> None:
        if not self.crashed:
            self.crashed = True
            raise OSError("model file unreadable")


def test_a_crashed_worker_shows_as_error_until_it_has_recovered() -> None:
    state = StateMachine()
    phases = Collector()
    state.subscribe(lambda snap, changed: phases.put((snap.phase, snap.error))
                    if "phase" in changed else None)
    control = ControlWorker(state)
    stage = Crashy()
    sup = Supervisor([control, stage], restart_backoff_s=0.01, events=control.inbox)
    sup.start()
    try:
        assert sup.wait_ready(5)
        stage.inbox.put("boom")
        phases.wait(lambda p: p[0] == "error" and "stt worker: OSError" in p[1])
        phases.wait(lambda p: p[0] != "error")
    finally:
        assert sup.stop(2.0)
