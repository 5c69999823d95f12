"""The output priority queue: HIGH preempts, LOW is boosted, every item ends exactly once."""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest

from appliance.pipeline.messages import Priority, Utterance, new_id
from appliance.pipeline.priority import FLUSHED, PLAYED, STOPPED, PriorityQueue
from tests.support.harness import FakeClock


def utt(priority: Priority = Priority.NORMAL, answer: int = 0, index: int = 0) -> Utterance:
    return Utterance(np.zeros(10, np.int16), 16000, priority, answer=answer, index=index)


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: dict[int, list[str]] = {}

    def __call__(self, u: Utterance, outcome: str, reason: str) -> None:
        with self.lock:
            self.outcomes.setdefault(u.id, []).append(outcome)


def test_fifo_within_a_priority_and_higher_first() -> None:
    q = PriorityQueue()
    a, b, c = utt(Priority.LOW), utt(), utt()
    for u in (a, b, c):
        q.put(u)
    got = []
    for _ in range(3):
        u = q.get(0)
        assert u is not None
        got.append(u)
        q.done(u)
    assert got == [b, c, a]


def test_high_stops_normal_playback_and_flushes_queued_normal_and_low() -> None:
    rec = Recorder()
    q = PriorityQueue(on_outcome=rec)
    playing = utt(answer=7, index=0)
    queued = [utt(answer=7, index=1), utt(Priority.LOW, answer=7), utt(answer=8)]
    q.put(playing)
    for u in queued:
        q.put(u)
    assert q.get(0) is playing
    assert q.should_stop(playing) is None
    alarm = utt(Priority.HIGH)
    assert q.put(alarm)
    assert q.stop_event.is_set()
    reason, _t = q.should_stop(playing)
    assert "HIGH" in reason
    assert [rec.outcomes[u.id] for u in queued] == [[FLUSHED]] * 3
    q.done(playing, stopped=True)
    assert q.get(0) is alarm and q.should_stop(alarm) is None
    q.done(alarm)
    # A late sentence of the preempted answer is flushed, a new answer plays.
    late, fresh = utt(answer=7, index=2), utt(answer=9)
    assert not q.put(late)
    assert q.put(fresh)
    assert rec.outcomes[late.id] == [FLUSHED]
    s = q.stats()
    assert s["preemptions"] == 1 and s["depth"]["NORMAL"] == 1
    assert rec.outcomes[playing.id] == [STOPPED] and rec.outcomes[alarm.id] == [PLAYED]


def test_high_does_not_preempt_high() -> None:
    q = PriorityQueue()
    first, second = utt(Priority.HIGH), utt(Priority.HIGH)
    q.put(first)
    assert q.get(0) is first
    q.put(second)
    assert not q.stop_event.is_set() and q.should_stop(first) is None
    assert q.stats()["preemptions"] == 0


def test_low_is_boosted_after_its_wait_limit() -> None:
    clock = FakeClock()
    q = PriorityQueue(low_boost_s=30.0, clock=clock)
    low = utt(Priority.LOW)
    q.put(low)
    clock.advance(10)
    n1 = utt()
    q.put(n1)
    assert q.get(0) is n1  # 10 s: not yet boosted, NORMAL goes first
    q.done(n1)
    n2 = utt()
    q.put(n2)
    clock.advance(25)  # LOW has now waited 35 s > 30 s
    assert q.get(0) is low  # boosted to NORMAL and older than n2
    q.done(low)
    assert q.get(0) is n2
    s = q.stats()
    assert s["boosts"] == 1
    assert s["waits"]["LOW"]["max_s"] == pytest.approx(35.0)


def test_boosted_low_still_yields_to_high() -> None:
    clock = FakeClock()
    q = PriorityQueue(low_boost_s=5.0, clock=clock)
    low = utt(Priority.LOW)
    q.put(low)
    clock.advance(60)
    high = utt(Priority.HIGH)
    q.put(high)  # HIGH flushes queued LOW, boosted or not
    assert q.get(0) is high
    assert q.get(0.01) is None


def test_interrupt_flushes_everything_including_late_puts_of_that_turn() -> None:
    rec = Recorder()
    q = PriorityQueue(on_outcome=rec)
    before = [utt(), utt(Priority.LOW), utt()]
    late = utt()  # its text was requested before the interrupt, synthesized after
    for u in before:
        q.put(u)
    cur = q.get(0)
    assert q.interrupt("button") is True  # something was playing: playback will stop it
    assert [rec.outcomes[u.id] for u in before[1:]] == [[FLUSHED], [FLUSHED]]
    reason, t_requested = q.should_stop(cur)
    assert reason == "button" and t_requested > late.t_request
    assert q.interrupt("again") is False  # a stop is already on its way
    q.done(cur, stopped=True)
    assert not q.put(late)
    after = utt()
    assert q.put(after)
    assert rec.outcomes[late.id] == [FLUSHED] and after.id not in rec.outcomes
    assert q.interrupt("idle") is False  # nothing playing: nothing for playback to stop


def test_a_stop_that_comes_as_the_utterance_ends_is_handed_back() -> None:
    """Playback may be past its last check when the stop arrives: ``done`` returns the stop,
    so playback still reports the silence the interrupt is waiting for."""
    q = PriorityQueue()
    u = utt()
    q.put(u)
    assert q.get(0) is u
    assert q.interrupt("button") is True
    reason, _ = q.done(u)
    assert reason == "button"
    assert q.should_stop(u) is None


def test_an_utterance_cannot_be_queued_twice_or_finished_when_not_playing() -> None:
    q = PriorityQueue()
    u = utt()
    q.put(u)
    with pytest.raises(ValueError, match="already queued"):
        q.put(u)
    with pytest.raises(ValueError, match="not the one playing"):
        q.done(u)


def test_no_item_lost_or_played_twice_under_concurrency() -> None:
    """Producers put, a player plays, a third thread preempts and interrupts at random."""
    rec = Recorder()
    q = PriorityQueue(low_boost_s=0.01, on_outcome=rec)
    put_ids: list[int] = []
    ids_lock = threading.Lock()
    stop = threading.Event()

    def producer(seed: int) -> None:
        r = random.Random(seed)
        for i in range(300):
            u = utt(Priority(r.choice([0, 1, 1, 1, 2])), answer=seed * 1000 + i // 5, index=i % 5)
            with ids_lock:
                put_ids.append(u.id)
            q.put(u)
            if r.random() < 0.1:
                time.sleep(0.0005)

    def player() -> None:
        while not stop.is_set() or len(q):
            u = q.get(0.01)
            if u is None:
                continue
            for _ in range(3):  # "periods"
                if q.should_stop(u):
                    q.done(u, stopped=True)
                    break
            else:
                q.done(u)

    def interrupter() -> None:
        r = random.Random(99)
        while not stop.is_set():
            q.interrupt("test")
            time.sleep(r.random() * 0.003)

    threads = [threading.Thread(target=producer, args=(s,)) for s in (1, 2, 3)]
    others = [threading.Thread(target=player), threading.Thread(target=interrupter)]
    for t in threads + others:
        t.start()
    for t in threads:
        t.join(30)
    stop.set()
    for t in others:
        t.join(30)
    assert len(put_ids) == 900
    assert sorted(rec.outcomes) == sorted(put_ids)  # nothing lost
    assert all(len(v) == 1 for v in rec.outcomes.values())  # nothing played/flushed twice
    s = q.stats()
    assert s[PLAYED] + s[STOPPED] + s[FLUSHED] == 900
    assert s[PLAYED] > 0 and s[FLUSHED] > 0


def bridge_of(answer: int) -> Utterance:
    return Utterance(np.ones(2400, np.int16), 24000, Priority.LOW, answer=answer, kind="bridge",
                     text="mm")


def test_a_late_sentence_is_bridged_and_the_bridge_stops_when_it_comes() -> None:
    clock = FakeClock()
    q = PriorityQueue(clock=clock, bridge=bridge_of, bridge_grace_s=0.03, max_bridge_s=0.25)
    first = Utterance(np.ones(2400, np.int16), 24000, answer=7, index=0)  # last=False
    q.put(first)
    assert q.get(0) is first
    q.done(first)
    assert q.get(0) is None  # within the grace: the next sentence may still come in time
    clock.advance(0.04)
    bridge = q.get(0)
    assert bridge is not None and (bridge.kind, bridge.answer) == ("bridge", 7)
    q.done(bridge)
    clock.advance(0.04)
    second = q.get(0)
    assert second is not None and second.kind == "bridge"  # still late: another one
    q.done(second)
    clock.advance(0.04)
    assert q.get(0) is None  # 0.2 s bridged; a third would pass max_bridge_s
    last = Utterance(np.ones(2400, np.int16), 24000, answer=7, index=1, last=True)
    q.put(last)
    assert q.get(0) is last
    q.done(last)
    clock.advance(1.0)
    assert q.get(0) is None  # the answer is over: nothing to bridge
    assert q.stats()["bridges"] == 2


def test_bridging_stops_on_interrupt_and_when_the_answer_can_get_nothing_more() -> None:
    clock = FakeClock()
    q = PriorityQueue(clock=clock, bridge=bridge_of, bridge_grace_s=0.0)
    opening = Utterance(np.ones(2400, np.int16), 24000, answer=3, index=0)
    q.put(opening)
    q.get(0)
    q.done(opening)
    bridge = q.get(0)
    assert bridge is not None
    assert q.interrupt("button") is True  # the bridge is what plays: playback stops it
    q.done(bridge, stopped=True)
    assert q.get(0) is None
    later = new_id()  # an answer begun after the interrupt
    q.put(opening2 := Utterance(np.ones(2400, np.int16), 24000, answer=later, index=0))
    q.get(0)
    q.done(opening2)
    q.end_answer(later)  # its last sentence failed to synthesize
    assert q.get(0) is None


def test_nothing_of_an_answer_begun_before_an_interrupt_plays_after_it() -> None:
    """The brain may hand over one more sentence before it sees the interrupt (its text came
    after the cutoff): played alone, with no last sentence after it, it would leave
    turn-taking waiting for the end of an answer that never comes."""
    q = PriorityQueue()
    cut, vale = new_id(), new_id()  # answers are numbered as they begin
    q.interrupt("button", keep_answer=vale)
    late = Utterance(np.ones(240, np.int16), 24000, answer=cut, index=1)  # requested just now
    assert not q.put(late)
    assert q.put(Utterance(np.ones(240, np.int16), 24000, answer=vale, index=0, last=True))
    assert q.put(Utterance(np.ones(240, np.int16), 24000, answer=new_id(), index=0))
    announcement = Utterance(np.ones(240, np.int16), 24000, answer=0)  # no answer: by time only
    assert q.put(announcement)


def test_an_interrupt_keeps_the_answer_it_is_told_to_keep() -> None:
    """An alarm that rang to its limit is silenced; the answer waiting behind it is what the
    person asked for, and plays."""
    q = PriorityQueue()
    answer = new_id()
    alarm = Utterance(np.ones(240, np.int16), 24000, priority=Priority.HIGH, kind="alarm")
    q.put(alarm)
    waiting = Utterance(np.ones(240, np.int16), 24000, answer=answer, index=0)
    q.put(waiting)
    assert q.get(0) is alarm
    assert q.interrupt("alarm timeout", keep_answer=answer) is True  # the alarm stops
    q.done(alarm, stopped=True)
    assert q.get(0) is waiting
    q.done(waiting)
    assert q.put(Utterance(np.ones(240, np.int16), 24000, answer=answer, index=1, last=True))
