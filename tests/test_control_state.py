"""The state machine: the shown state, validation, ordered delivery from many threads."""

from __future__ import annotations

import threading

import pytest

from appliance.control.state import Snapshot, StateMachine, TimerInfo
from appliance.system.interp import gil_enabled


def test_shown_state_muted_hides_input_but_not_speech_or_errors() -> None:
    sm = StateMachine()
    seen: list[tuple[str, frozenset[str]]] = []
    sm.subscribe(lambda s, changed: seen.append((s.state, changed)))
    sm.set_phase("listening")
    sm.set_muted(True)
    assert sm.snapshot().state == "muted"
    sm.set_phase("speaking")  # an announcement while the mic is muted
    assert sm.snapshot().state == "speaking"
    sm.set_phase("error", "capture device gone")
    assert (sm.snapshot().state, sm.snapshot().error) == ("error", "capture device gone")
    sm.set_phase("idle")
    assert sm.snapshot().state == "muted" and sm.snapshot().error == ""
    assert [s for s, _ in seen] == ["listening", "muted", "speaking", "error", "muted"]
    assert "state" in seen[1][1] and "muted" in seen[1][1]


def test_ringing_shows_over_muted_and_as_its_own_flag() -> None:
    sm = StateMachine(muted=True)
    sm.set_phase("ringing", ringing=True)
    d = sm.snapshot().as_dict()
    assert (d["state"], d["ringing"], d["listening"], d["speaking"]) == (
        "ringing", True, False, False)
    sm.set_phase("error", "capture device: gone", ringing=True)
    assert sm.snapshot().as_dict()["ringing"] and sm.snapshot().state == "error"


def test_no_change_no_notification_and_seq_counts_changes() -> None:
    sm = StateMachine()
    calls: list[Snapshot] = []
    sm.subscribe(lambda s, c: calls.append(s))
    sm.set_volume(50)  # already 50
    sm.set_volume(70)
    sm.set_volume(70)
    assert [s.seq for s in calls] == [1]


@pytest.mark.parametrize(
    ("method", "value"),
    [("set_phase", "sleeping"), ("set_mode", "loud"), ("set_volume", 101), ("set_volume", True),
     ("set_volume", 5.5), ("set_muted", "yes"), ("set_transcript", None),
     ("set_sensitivity", 1.5), ("set_sensitivity", True), ("set_wake_word", None)],
)
def test_invalid_values_are_refused_and_state_unchanged(method: str, value: object) -> None:
    sm = StateMachine()
    before = sm.snapshot()
    with pytest.raises(ValueError):
        getattr(sm, method)(value)
    assert sm.snapshot() == before


def test_failing_observer_does_not_break_the_caller_or_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sm = StateMachine()
    got: list[int] = []

    def bad(s: Snapshot, c: frozenset[str]) -> None:
        raise RuntimeError("observer bug")

    sm.subscribe(bad)
    sm.subscribe(lambda s, c: got.append(s.volume))
    sm.set_volume(10)
    assert got == [10] and "observer bug" in caplog.text


def test_observer_may_call_back_in_and_unsubscribe_works() -> None:
    sm = StateMachine()
    order: list[str] = []

    def echo(s: Snapshot, c: frozenset[str]) -> None:
        order.append(s.phase)
        if s.phase == "thinking":
            sm.set_phase("speaking")  # re-entrant: no deadlock

    unsubscribe = sm.subscribe(echo)
    sm.set_phase("thinking")
    assert order == ["thinking", "speaking"]
    unsubscribe()
    sm.set_phase("idle")
    assert order == ["thinking", "speaking"]


def test_concurrent_writers_deliver_in_sequence_order() -> None:
    sm = StateMachine()
    seqs: list[int] = []
    sm.subscribe(lambda s, c: seqs.append(s.seq))

    def writer(k: int) -> None:
        for i in range(300):
            sm.set_volume((k * 7 + i) % 101)
            sm.set_transcript(f"{k}-{i}")

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) == sm.snapshot().seq


def test_timers_events_and_diagnostics() -> None:
    sm = StateMachine(diagnostics=lambda: {"gil_enabled": gil_enabled()})
    sm.set_timers([TimerInfo(4, "pasta", 600, 1_800_000_000.4)])
    d = sm.snapshot().as_dict()
    assert d["timers"] == [{"id": 4, "name": "pasta", "total_s": 600,
                            "ends_at": "2027-01-15T08:00:00+00:00"}]
    assert d["next_timer"] == "2027-01-15T08:00:00+00:00"
    events = []
    sm.subscribe_events(events.append)
    sm.emit("timer_finished", name="pasta")
    assert events[0].as_dict() == {"event_type": "timer_finished", "name": "pasta"}
    with pytest.raises(ValueError):
        sm.emit("exploded")
    sm.record_response_time(412.34)
    sm.record_interrupt_latency(12.0)
    sum(i * i for i in range(200_000))  # some CPU to measure
    diag = sm.diagnostics()
    assert diag["last_response_ms"] == 412.3 and diag["last_interrupt_ms"] == 12.0
    assert diag["cpu_percent"] >= 0 and diag["uptime_s"] >= 0
    assert diag["gil_enabled"] is gil_enabled()
