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
    Heard,
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
from tests.support.harness import Collector, FakeClock, run_worker, running


def heard(text: str) -> Heard:
    return Heard(transcript=Transcript(1, text, True))


def started(kind: str = "answer", index: int = 0, latency_s: float = 0.2) -> Started:
    return Started(id=1, answer=7, index=index, kind=kind, latency_s=latency_s)


def finished(last: bool) -> Finished:
    return Finished(id=1, answer=7, index=0, frames=10, last=last)


# --- the phase machine ----------------------------------------------------------------------


@pytest.mark.parametrize(("events", "phase"), [
    ([], "idle"),
    ([SpeechDetected(utterance=1)], "listening"),
    ([WakeWordDetected(word="okay_nabu")], "listening"),
    ([heard("¿qué hora es?")], "thinking"),
    ([heard("")], "listening"),  # nothing intelligible: back to listening
    ([heard("hola"), started()], "speaking"),
    ([started(), SpeechDetected(utterance=2)], "speaking"),  # its own voice changes nothing
    ([started("filler"), finished(last=False)], "speaking"),  # the answer is still coming
    ([started(), finished(last=True)], "listening"),
    ([started(), Silent(id=0, answer=0, reason="button", latency_s=0.0)], "listening"),
    ([started(), SpeechFailed(answer=7, index=1, last=True, reason="tts")], "listening"),
    ([started(), DeviceError(device="playback", message="gone")], "error"),
    ([DeviceError(device="capture", message="gone"),
      DeviceError(device="capture", message="back", reopened=True)], "idle"),
    ([heard("hola"), WorkerCrashed(worker="brain", error="bug", restarts=1)], "error"),
    ([heard("hola"), WorkerCrashed(worker="brain", error="bug", restarts=1),
      WorkerRecovered(worker="brain")], "listening"),
])
def test_phase_follows_what_happened(events: list[Event], phase: str) -> None:
    p = Phase()
    for ev in events:
        p = transition(p, ev)
    assert p.name == phase


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
                                    observers=observers, wall_clock=FakeClock(1_000.0))
        self.observers = observers

    def feed(self, *events: Event) -> None:
        n = len(self.observed) + len(events)
        run_worker(self.worker, events, until=lambda: len(self.observed) >= n)


def test_events_become_the_published_state_in_order() -> None:
    rig = Rig()
    with running(rig.worker, rig.observers):
        rig.feed(WakeWordDetected(word="okay_nabu"), heard("¿Qué hora es?"))
        assert rig.state.snapshot().phase == "thinking"
        assert rig.state.snapshot().last_transcript == "¿Qué hora es?"
        rig.feed(Sentence(answer=7, index=0, text="Vale,", kind="answer", last=False),
                 started(latency_s=0.412),
                 Sentence(answer=7, index=1, text="son las tres.", kind="answer", last=True),
                 Sentence(answer=7, index=2, text="mm", kind="filler", last=False),
                 finished(last=True))
        snap = rig.state.snapshot()
        assert (snap.phase, snap.last_answer, snap.last_ttfs_ms) == (
            "listening", "Vale, son las tres.", 412.0)
        rig.feed(Sentence(answer=9, index=0, text="La lavadora.", kind="announce", last=True),
                 Silent(id=3, answer=9, reason="mqtt", latency_s=0.0123),
                 VolumeChanged(level=30),
                 TimersChanged(timers=(TimerView(id=1, name="pasta", seconds=600,
                                                 ends_at=1_120.0, ringing=False),
                                       TimerView(id=2, name="", seconds=60, ends_at=990.0,
                                                 ringing=True))),
                 TimerFinished(id=2, name=""))
        snap = rig.state.snapshot()
        assert snap.last_answer == "La lavadora." and snap.last_interrupt_ms == 12.3
        assert snap.volume == 30
        assert [(t.name, t.remaining_s, t.total_s) for t in snap.timers] == [("pasta", 120, 600)]
    assert [(e.event_type, e.detail) for e in rig.entity_events] == [
        ("wake_word", {"word": "okay_nabu"}), ("timer_finished", {"name": ""})]
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
