"""The TTS producer with the real espeak-ng engine: order, conversion, EWMA, interrupts."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from appliance.config import StyleSettings
from appliance.pipeline.events import SpeechFailed
from appliance.pipeline.interruption import InterruptionService
from appliance.pipeline.messages import Priority, SetLookahead, SpeakRequest, Utterance, new_id
from appliance.pipeline.priority import FLUSHED, PriorityQueue
from appliance.pipeline.supervisor import Supervisor
from appliance.speak.producer import ProducerWorker
from appliance.speak.tts.espeak import EspeakEngine
from tests.support.harness import Collector

RATE = 24000
STYLES = {"normal": StyleSettings(1.2, 0.6, 0.8, 0.2), "calm": StyleSettings(0.9, 0.5, 0.9, 0.1)}
SENTENCES = [
    "Hola, soy tu asistente de cocina.",
    "Hoy vamos a preparar una tortilla de patatas.",
    "Primero pela y corta las patatas en láminas finas.",
    "Después fríelas a fuego medio durante veinte minutos.",
]


@pytest.fixture(scope="module")
def engine() -> EspeakEngine:
    return EspeakEngine()


def take(q: PriorityQueue, n: int, timeout: float = 30.0) -> list[Utterance]:
    """Play the role of playback: take n utterances, marking each played."""
    got: list[Utterance] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        u = q.get(0.05)
        if u is not None:
            q.done(u)
            got.append(u)
    return got


def run(worker: ProducerWorker) -> Supervisor:
    sup = Supervisor([worker], restart_backoff_s=0.05)
    sup.start()
    return sup


def test_sentences_come_out_in_order_at_the_device_rate(engine: EspeakEngine) -> None:
    q = PriorityQueue()
    w = ProducerWorker(engine, q, device_rate=RATE, styles=STYLES, lookahead=2)
    sup = run(w)
    try:
        for i, text in enumerate(SENTENCES):
            w.inbox.put(SpeakRequest(text=text, answer=3, index=i, last=i == len(SENTENCES) - 1,
                                     style="calm" if i == 0 else ""))
        got = take(q, len(SENTENCES))
    finally:
        assert sup.stop(5)
    assert [u.text for u in got] == SENTENCES
    assert [u.index for u in got] == list(range(len(SENTENCES))) and got[-1].last
    for u in got:
        assert u.rate == RATE and u.audio.dtype == np.int16
        assert 0.5 < u.duration < 10 and np.abs(u.audio).max() > 1000
    recs = w.records()
    assert len(recs) == len(SENTENCES)
    assert recs[0].predicted_s is None and all(r.predicted_s for r in recs[1:])
    assert w.ewma_s_per_char and w.ewma_s_per_char > 0
    assert w.stats()["synthesized"] == len(SENTENCES)


def test_prerendered_audio_passes_through_without_synthesis(engine: EspeakEngine) -> None:
    q = PriorityQueue()
    w = ProducerWorker(engine, q, device_rate=RATE, styles=STYLES)
    sup = run(w)
    filler16 = (np.sin(np.arange(8000) / 10) * 0.3).astype(np.float32)  # 0.5 s at 16 kHz
    same = np.arange(-500, 500, dtype=np.int16)
    try:
        w.inbox.put(SpeakRequest(audio=filler16, rate=16000, priority=Priority.LOW,
                                 kind="filler"))
        w.inbox.put(SpeakRequest(audio=same, rate=RATE, answer=4, last=True))
        got = take(q, 2)
    finally:
        assert sup.stop(5)
    by_kind = {u.kind: u for u in got}
    assert sorted(by_kind) == ["answer", "filler"]
    assert len(by_kind["filler"].audio) == pytest.approx(12000, abs=10)  # 16 -> 24 kHz
    assert by_kind["answer"].audio is same  # already int16 at the device rate: untouched
    assert w.stats()["passed_through"] == 2 and w.stats()["synthesized"] == 0


def test_interrupt_stops_playback_at_once_and_drops_the_turn(engine: EspeakEngine) -> None:
    outcomes: dict[int, str] = {}
    lock = threading.Lock()

    def record(u: Utterance, outcome: str, reason: str) -> None:
        with lock:
            outcomes[u.id] = outcome

    q = PriorityQueue(on_outcome=record)
    events = Collector()
    w = ProducerWorker(engine, q, device_rate=RATE, styles=STYLES, lookahead=1, events=events)
    service = InterruptionService(q, events, flush=[w.inbox])
    sup = run(w)
    try:
        for i, text in enumerate(SENTENCES):
            w.inbox.put(SpeakRequest(text=text, answer=5, index=i))
        deadline = time.monotonic() + 20
        playing = None
        while playing is None and time.monotonic() < deadline:
            playing = q.get(0.05)
        assert playing is not None
        service.interrupt("button")  # from this (the "brain's") thread
        assert q.should_stop(playing) is not None  # already, before the worker saw it
        q.done(playing, stopped=True)
        time.sleep(0.5)
        assert q.get(0.2) is None  # nothing of that turn is left to play
        # A new answer after the interrupt plays normally.
        after_id = new_id()  # answers are numbered as they begin: after the interrupt here
        w.inbox.put(SpeakRequest(text="Vale, dime.", answer=after_id, last=True))
        (after,) = take(q, 1)
    finally:
        assert sup.stop(5)
    assert after.answer == after_id
    stats = w.stats()
    # Every sentence of answer 5 was played, stopped or flushed - or never synthesized.
    assert stats["synthesized"] + stats["dropped"] >= len(SENTENCES)
    assert all(o == FLUSHED for uid, o in outcomes.items() if uid not in (playing.id, after.id))


def test_high_request_drops_pending_normal_sentences(engine: EspeakEngine) -> None:
    q = PriorityQueue()
    w = ProducerWorker(engine, q, device_rate=RATE, styles=STYLES)
    # Not started: handle() runs in this thread, so the pending list is observable.
    for i, text in enumerate(SENTENCES):
        w._pending.append(SpeakRequest(text=text, answer=7, index=i))
    w.handle(SpeakRequest(audio=np.zeros(100, np.int16), rate=RATE, priority=Priority.HIGH,
                          kind="alarm"))
    assert w.stats()["dropped"] == len(SENTENCES) and not w._pending
    u = q.get(0)
    assert u is not None and u.priority == Priority.HIGH and u.kind == "alarm"


def test_lookahead_is_set_by_message_without_dropping_pending_work(engine: EspeakEngine) -> None:
    w = ProducerWorker(engine, PriorityQueue(), device_rate=RATE, styles=STYLES, lookahead=3)
    w._pending.append(SpeakRequest(text="Hola.", answer=9))
    w.on_control(SetLookahead(sentences=1))  # what the brain sends ahead of its sentences
    assert w.lookahead == 1 and w.stats()["lookahead"] == 1
    assert len(w._pending) == 1
    with pytest.raises(ValueError):
        SetLookahead(sentences=0)


def test_a_sentence_that_cannot_be_synthesized_is_reported() -> None:
    """So its answer still ends for turn-taking, which waits for the last sentence."""
    broken = EspeakEngine()
    broken._binary = "/nonexistent/espeak-ng"  # the engine's program vanished after start
    events = Collector()
    w = ProducerWorker(broken, PriorityQueue(), device_rate=RATE, styles=STYLES,
                       events=events)
    w.handle(SpeakRequest(text="Adiós.", answer=3, index=2, last=True))
    (failed,) = events.of(SpeechFailed)
    assert (failed.answer, failed.index, failed.last) == (3, 2, True)
    assert "espeak-ng failed" in failed.reason and w.stats()["failed"] == 1
