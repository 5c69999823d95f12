"""The playback worker on real ALSA PCMs: a file-backed PCM (byte-exact output) and a
PulseAudio null sink (real-time paced: interrupts, a server killed and restarted)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from appliance.audio.alsa import PcmSpec
from appliance.audio.output_device import STALL_S
from appliance.audio.playback import PlaybackWorker
from appliance.brain.volume import level_to_gain
from appliance.pipeline.events import DeviceError, Finished, Silent, Started
from appliance.pipeline.interruption import InterruptionService
from appliance.pipeline.messages import Utterance
from appliance.pipeline.priority import PLAYED, PriorityQueue
from appliance.pipeline.supervisor import Supervisor
from tests.support.harness import Collector
from tests.support.pulse import PulseServer

RATE = 24000


class Events(Collector):
    """Playback's events sink; ``wait_for(pred)`` waits for a matching event."""

    def wait_for(self, pred, timeout: float = 10.0):  # type: ignore[override]
        return self.wait(pred, timeout=timeout)

    @property
    def seen(self) -> list:
        return self.items()


def tone(seconds: float, freq: float = 440.0, amp: int = 12000) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * freq * t) * amp).astype(np.int16)


def running(worker: PlaybackWorker) -> Iterator[Supervisor]:
    sup = Supervisor([worker], restart_backoff_s=0.05)
    sup.start()
    try:
        yield sup
    finally:
        assert sup.stop(3.0)


# --- file-backed PCM: exact bytes ------------------------------------------------------------


@pytest.mark.parametrize(("level", "gain"), [(100, 1.0), (50, 0.25)])
def test_file_pcm_receives_the_audio_byte_for_byte(alsa, level: int, gain: float) -> None:
    out = alsa.playback("spk")
    q = PriorityQueue()
    events = Events()
    worker = PlaybackWorker(q, PcmSpec("spk", RATE, 1, 240, 4), events=events,
                            idle_close_s=0.0)
    worker.set_gain(level_to_gain(level))
    rng = np.random.default_rng(1)
    audio = rng.integers(-20000, 20000, 24000 * 2 + 123).astype(np.int16)  # not period-aligned
    u = Utterance(audio, RATE, answer=1, last=True)
    for _ in running(worker):
        q.put(u)
        fin = events.wait_for(lambda e: isinstance(e, Finished))
        deadline = time.monotonic() + 5
        while worker.stats()["device_open"] and time.monotonic() < deadline:
            time.sleep(0.01)
    assert isinstance(fin, Finished) and fin.id == u.id and fin.frames == len(audio)
    expected = audio if gain == 1.0 else (audio.astype(np.float32) * gain).astype(np.int16)
    data = np.frombuffer(out.read_bytes(), np.int16)
    prefill = 240 * 3  # a fresh stream starts on a full buffer: silence, then the first period
    assert not data[:prefill].any()
    assert np.array_equal(data[prefill : prefill + len(audio)], expected)
    assert not data[prefill + len(audio) :].any()  # only silence after it
    assert q.ledger() == [(u.id, PLAYED)]
    assert worker.stats()["speech_frames"] == len(audio)


# --- PulseAudio null sink: real time ---------------------------------------------------------


class MonitorRecorder:
    """Records what the null sink actually plays, through its monitor source (parec)."""

    def __init__(self, server: PulseServer, path: Path) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            ["parec", "-d", "null.monitor", "--raw", "--format=s16le", "--rate=16000",
             "--channels=1", "--latency-msec=10", str(path)],
            env={**server.env, "PATH": "/usr/bin:/bin"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def stop(self) -> np.ndarray:
        if self.proc.poll() is not None:
            return np.frombuffer(self.path.read_bytes(), np.int16)
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        return np.frombuffer(self.path.read_bytes(), np.int16)


def pulse_worker(events: Events, q: PriorityQueue) -> PlaybackWorker:
    return PlaybackWorker(q, PcmSpec("pulse", RATE, 1, 240, 4), events=events,
                          idle_close_s=30.0, reopen_initial_s=0.05, reopen_max_s=0.5)


def warm_up(q: PriorityQueue, events: Events) -> None:
    """Play 50 ms of silence and wait until it is through.

    The null sink sleeps in 2 s blocks while no low-latency stream is connected, so the first
    stream start waits up to 2 s; a real card has no such delay. The monitor recorder keeps
    the sink awake after that.
    """
    w = Utterance(np.zeros(RATE // 20, np.int16), RATE, kind="announce")
    q.put(w)
    events.wait_for(lambda e: isinstance(e, Finished) and e.id == w.id, timeout=10)


def test_interrupt_leaves_the_device_silent(pulse, tmp_path: Path) -> None:
    q = PriorityQueue()
    events = Events()
    worker = pulse_worker(events, q)
    rec = MonitorRecorder(pulse, tmp_path / "monitor.raw")
    try:
        u = Utterance(tone(4.0), RATE, answer=1, last=True)
        for _ in running(worker):
            warm_up(q, events)
            q.put(u)
            events.wait_for(lambda e: isinstance(e, Started))
            time.sleep(0.6)
            InterruptionService(q, events).interrupt("test button")
            silent = events.wait_for(lambda e: isinstance(e, Silent))
            speech_at_silent = worker.stats()["speech_frames"]
            time.sleep(0.8)  # the device keeps running on silence
            after = worker.stats()
    finally:
        recorded = rec.stop()
    assert isinstance(silent, Silent) and silent.id == u.id and silent.reason == "test button"
    assert len(events.of(Silent)) == 1  # reported once, by playback, after the fade
    assert silent.latency_s > 0
    assert after["speech_frames"] == speech_at_silent < len(u.audio)
    assert after["frames_written"] > speech_at_silent  # silence kept flowing, device open
    loud = np.flatnonzero(np.abs(recorded.astype(np.int32)) > 300)
    assert len(loud) > 0.3 * 16000, "the tone never reached the sink"
    assert loud[-1] - loud[0] < 2.5 * 16000, "the 4 s tone was not cut short"
    tail = recorded[loud[-1] + 1:]
    assert len(tail) > 0.5 * 16000 and not np.abs(tail).max(initial=0) > 300


def test_server_killed_mid_answer_is_reopened_and_playback_resumes(pulse) -> None:
    q = PriorityQueue()
    events = Events()
    worker = pulse_worker(events, q)
    rec = MonitorRecorder(pulse, Path(pulse.root) / "monitor.raw")
    answer = [Utterance(tone(0.8, 330 + 110 * i), RATE, answer=5, index=i, last=i == 2)
              for i in range(3)]
    try:
        for _ in running(worker):
            warm_up(q, events)
            for u in answer:
                q.put(u)
            events.wait_for(lambda e: isinstance(e, Started) and e.index == 1)
            time.sleep(0.2)
            rec.stop()
            pulse.kill()
            events.wait_for(lambda e: isinstance(e, DeviceError) and not e.reopened)
            time.sleep(0.3)  # stays gone a while: the worker keeps retrying with backoff
            pulse.start()
            events.wait_for(lambda e: isinstance(e, DeviceError) and e.reopened)
            last = events.wait_for(lambda e: isinstance(e, Finished) and e.last, timeout=15)
    finally:
        rec.stop()
    assert isinstance(last, Finished) and last.index == 2
    finished = [e.index for e in events.seen if isinstance(e, Finished) and e.answer == 5]
    assert finished == [0, 1, 2]
    ids = {u.id for u in answer}
    assert sorted(e for e in q.ledger() if e[0] in ids) == sorted((i, PLAYED) for i in ids)
    s = worker.stats()
    assert s["device_errors"] >= 1 and s["opens"] >= 2
    # Utterance 1 resumed a buffer back from where the device died: nothing skipped.
    assert s["speech_frames"] >= sum(len(u.audio) for u in answer) + RATE // 20


# --- a loudspeaker that hangs (PulseAudio frozen with SIGSTOP) -------------------------------


class Ticker:
    """A thread that wakes every 10 ms: its longest gap shows whether anything held the GIL
    (pyalsaaudio does, in snd_pcm_open, drop and close; a hung server keeps them 30 s)."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.wait(0.01):
            self.ticks.append(time.monotonic())

    def __enter__(self) -> Ticker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(2)

    @property
    def longest_gap_s(self) -> float:
        return float(np.diff(self.ticks).max()) if len(self.ticks) > 1 else float("inf")


def play_a_while(q: PriorityQueue, events: Events, u: Utterance) -> None:
    """Warm the sink up, start ``u`` and let it play for 0.3 s."""
    warm_up(q, events)
    q.put(u)
    events.wait_for(lambda e: isinstance(e, Started) and e.id == u.id)
    time.sleep(0.3)


def test_a_speaker_that_stops_taking_audio_is_silenced_at_once_and_holds_nothing_up(
        pulse) -> None:
    q = PriorityQueue()
    events = Events()
    worker = pulse_worker(events, q)
    u = Utterance(tone(8.0), RATE, answer=1, last=True)
    try:
        for _ in running(worker):
            play_a_while(q, events, u)
            with Ticker() as ticker:
                pulse.freeze()
                time.sleep(0.5)  # the device has stopped taking audio
                t0 = time.monotonic()
                InterruptionService(q, events).interrupt("test button")
                silent = events.wait_for(lambda e: isinstance(e, Silent), timeout=5)
                t_silent = time.monotonic() - t0
                lost = events.wait_for(lambda e: isinstance(e, DeviceError) and not e.reopened)
                after = Utterance(tone(0.5, 660), RATE, kind="announce")
                q.put(after)  # while it hangs: probed in a child process, which times out
                time.sleep(2.5)
                hung = worker.stats()
            pulse.thaw()
            fin = events.wait_for(lambda e, i=after.id: isinstance(e, Finished) and e.id == i,
                                  timeout=15)
    finally:
        pulse.thaw()
    assert isinstance(silent, Silent) and silent.id == u.id
    assert t_silent < 0.3 and silent.latency_s < 0.3, (t_silent, silent.latency_s)
    assert "took no audio" in lost.message
    assert ticker.longest_gap_s < 0.2, ticker.longest_gap_s  # nothing held the GIL
    assert hung["set_aside"] == 1 and not hung["device_open"]
    assert isinstance(fin, Finished)
    assert any(isinstance(e, DeviceError) and e.reopened for e in events.seen)
    assert worker.stats()["set_aside"] == 0  # closed once the server answered again


def test_a_speaker_that_stops_taking_audio_mid_sentence_is_lost_and_the_answer_resumes(
        pulse) -> None:
    q = PriorityQueue()
    events = Events()
    worker = pulse_worker(events, q)
    u = Utterance(tone(3.0), RATE, answer=1, last=True)
    try:
        for _ in running(worker):
            play_a_while(q, events, u)
            # Shorter than the default, which leaves the null sink its 2 s to start a stream
            # (so not before the stream runs, nor after a reopen).
            worker.device.stall_s = 0.5
            with Ticker() as ticker:
                pulse.freeze()
                lost = events.wait_for(lambda e: isinstance(e, DeviceError), timeout=5)
                worker.device.stall_s = STALL_S  # the reopened stream gets its 2 s to start
                time.sleep(0.5)
            pulse.thaw()
            fin = events.wait_for(lambda e: isinstance(e, Finished) and e.id == u.id,
                                  timeout=15)
    finally:
        pulse.thaw()
    assert "took no audio for 0.5 s" in lost.message
    assert ticker.longest_gap_s < 0.2, ticker.longest_gap_s
    assert isinstance(fin, Finished) and fin.frames == len(u.audio)
    assert worker.stats()["speech_frames"] >= len(u.audio)  # resumed, nothing skipped


def test_a_speaker_that_hangs_on_open_holds_nothing_up_and_opens_once_it_answers(
        pulse) -> None:
    q = PriorityQueue()
    events = Events()
    worker = pulse_worker(events, q)
    pulse.freeze()
    try:
        with Ticker() as ticker:
            for _ in running(worker):
                time.sleep(2.6)  # the first probe times out after 2 s
                assert not worker.is_ready() and worker.device.backoff.failures >= 1
                pulse.thaw()
                deadline = time.monotonic() + 15
                while not worker.is_ready() and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert worker.is_ready()
                warm_up(q, events)
    finally:
        pulse.thaw()
    assert ticker.longest_gap_s < 0.2, ticker.longest_gap_s
