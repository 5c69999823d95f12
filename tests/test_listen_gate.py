"""Turn-taking: the listening gate alone, then driving the real VAD and wake word models."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from appliance import config
from appliance.config import ListenSettings, VadSettings
from appliance.listen.gate import ListenGate
from appliance.listen.vad import VadWorker
from appliance.listen.wakeword import WakeWordDetector, WakeWordError, cutoff_for
from appliance.pipeline.events import (
    Finished,
    GateChanged,
    Silent,
    SpeechDetected,
    SpeechFailed,
    Started,
    WakeWordDetected,
    WorkerCrashed,
)
from appliance.pipeline.inbox import Inbox
from appliance.pipeline.messages import AudioFrame, SpeechEnd, WakeWordSettings
from appliance.system.modelstore import ModelStore, wakeword_entry
from tests.support.harness import Collector
from tests.support.speech import SPANISH_SENTENCES as SENTENCES
from tests.support.speech import espeak, recorded, to_int16

T0 = 1000.0  # frame times below are monotonic seconds on this made-up timeline


def gate(mode, **kw):
    return ListenGate(ListenSettings(mode=mode, follow_up_s=5.0, settle_ms=300, **kw))


def test_always_listens_except_while_speaking():
    g = gate("always")
    assert g.allow(T0)
    g.speaking_started()
    assert not g.allow(T0 + 1) and not g.allow(T0 + 1, in_speech=True)
    assert g.state(T0 + 1) == "speaking"
    g.speaking_ended(T0 + 2)
    assert g.allow(T0 + 2.1)  # 'always' needs no window


@pytest.mark.parametrize("kind", ["alarm", "announce"])
def test_an_utterance_under_way_is_heard_to_its_end_over_an_alarm_or_announcement(kind):
    g = gate("always")
    g.on_event(Started(id=1, answer=0, index=0, kind=kind, latency_s=0.0))
    assert g.allow(T0, in_speech=True)  # the person was already talking: their request stays
    assert not g.allow(T0)  # but nothing new starts over it
    g.on_event(Started(id=2, answer=3, index=0, kind="answer", latency_s=0.0))
    assert not g.allow(T0, in_speech=True)  # its own answer: never heard as the person


def test_echo_cancellation_keeps_listening_while_speaking():
    g = gate("wake_word", echo_cancellation=True)
    g.speaking_started()
    assert g.listens_for_wake_word(T0)


def test_follow_up_window_opens_after_settle_and_closes():
    g = gate("wake_word")
    assert not g.allow(T0) and g.listens_for_wake_word(T0)
    g.speaking_started()
    assert not g.listens_for_wake_word(T0)  # never wakes itself
    g.speaking_ended(T0 + 10)
    assert not g.allow(T0 + 10.2) and g.state(T0 + 10.2) == "settling"
    assert g.allow(T0 + 10.31) and g.state(T0 + 10.31) == "follow_up"
    assert g.allow(T0 + 15.29)
    assert not g.allow(T0 + 15.31)
    assert g.allow(T0 + 15.31, in_speech=True)  # an utterance under way is heard to its end


def test_wake_word_opens_until_the_utterance_ends_or_times_out():
    g = gate("wake_word")
    g.wake(T0)
    assert g.allow(T0 + 1) and not g.listens_for_wake_word(T0 + 1)
    assert not g.allow(T0 + 7)  # nobody spoke: back to waiting
    g.wake(T0 + 10)
    g.speech_started()
    assert g.allow(T0 + 30)  # speaking past the timeout is fine
    g.utterance_ended()
    assert not g.allow(T0 + 30) and g.listens_for_wake_word(T0 + 30)


def test_push_to_talk():
    g = gate("push_to_talk")
    assert not g.allow(T0) and not g.listens_for_wake_word(T0)
    g.ptt_start()
    assert g.allow(T0)
    g.ptt_stop()
    assert not g.allow(T0)
    g.speaking_ended(T0)
    assert g.allow(T0 + 1)  # follow-up window needs no button


def test_mode_and_mute_change_at_run_time():
    g = gate("always")
    g.set_muted(True)
    assert not g.allow(T0) and g.state(T0) == "muted"
    g.set_muted(False)
    g.set_mode("push_to_talk")
    assert not g.allow(T0)
    g.set_mode("wake_word")
    assert g.listens_for_wake_word(T0)
    with pytest.raises(ValueError, match="one of wake_word"):
        g.set_mode("sometimes")


def test_playback_events_close_and_reopen_the_input():
    """What the control worker hands the gate: the input closes when the appliance starts
    talking and reopens (after the settle delay) only when what it says has ended."""
    g = gate("push_to_talk")  # no button held: only the follow-up window lets speech in
    started = Started(id=1, answer=7, index=0, kind="filler", latency_s=0.0, t=T0)
    g.on_event(started)
    assert not g.allow(T0 + 0.1)
    g.on_event(Finished(id=1, answer=7, index=0, frames=100, last=False, t=T0 + 1))
    assert not g.allow(T0 + 2), "a filler ended, the answer is still coming"
    g.on_event(Finished(id=2, answer=7, index=1, frames=100, last=True, t=T0 + 3))
    assert not g.allow(T0 + 3.2) and g.allow(T0 + 3.31)
    for end in (Silent(id=0, answer=0, reason="button", latency_s=0.0, t=T0 + 5),
                SpeechFailed(answer=8, index=0, last=True, reason="tts", t=T0 + 5),
                WorkerCrashed(worker="brain", error="bug", restarts=1, t=T0 + 5)):
        g.on_event(started)
        assert not g.allow(T0 + 4)
        g.on_event(end)
        assert g.allow(T0 + 5.31), end


def test_gate_is_safe_to_drive_from_many_threads():
    g = gate("wake_word")
    stop = threading.Event()
    errors: list[BaseException] = []

    def events():
        try:
            while not stop.is_set():
                g.speaking_started()
                g.speaking_ended()
                g.wake()
                g.utterance_ended()
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    threads = [threading.Thread(target=events) for _ in range(3)]
    for t in threads:
        t.start()
    decisions = {(g.allow(in_speech=False), g.state()) for _ in range(2000)}
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert {state for _, state in decisions} <= {"speaking", "settling", "follow_up",
                                                  "listening", "waiting"}
    # Whatever interleaving happened, the gate still follows the rules afterwards.
    g.speaking_started()
    assert not g.allow(T0) and not g.listens_for_wake_word(T0)
    g.speaking_ended(T0)
    g.utterance_ended()
    assert g.allow(T0 + 0.31) and g.listens_for_wake_word(T0 + 0.31)


# --- with the real models ---------------------------------------------------------------


@pytest.fixture(scope="module")
def store():
    return ModelStore(config.load(None).cache_path)


@pytest.fixture(scope="module")
def clips():
    return tuple(audio for _, audio in recorded(SENTENCES[:2]))


def silence(s):
    return np.zeros(int(s * 16000), np.float32)


def feed(worker, signal):
    """Real-time-stamped 20 ms frames from T0; returns the finished utterances."""
    out = worker.downstream
    pcm = to_int16(signal)
    for i in range(0, len(pcm) - 319, 320):
        worker.handle(AudioFrame(pcm[i : i + 320], 16000, T0 + i / 16000, i // 320))
    msgs = []
    while (m := out.get(0)) is not None:
        msgs.append(m)
    return [m for m in msgs if isinstance(m, SpeechEnd)]


def vad_worker(store, g, wakeword=None, events=None):
    w = VadWorker(VadSettings(), store.resolve("silero-vad"), Inbox(4096), gate=g,
                  wakeword=wakeword, events=events)
    w.setup()
    return w


def test_own_voice_is_not_transcribed_but_the_follow_up_is(store, clips):
    hola, timer = clips
    g = gate("wake_word")
    w = vad_worker(store, g)
    g.speaking_started()  # the appliance "says" hola (its own voice reaches the mic)
    signal = np.concatenate([silence(0.5), hola, silence(0.5)])
    end_of_playback = T0 + len(signal) / 16000
    g.speaking_ended(end_of_playback)
    # The follow-up question comes 1 s after playback ends.
    ends = feed(w, np.concatenate([signal, silence(1.0), timer, silence(1.5)]))
    assert len(ends) == 1
    assert ends[0].t_start == pytest.approx(len(signal) / 16000 + 1.0, abs=0.15)


def test_wake_word_then_command(store, clips):
    hola, _ = clips
    models = store.resolve("okay_nabu")
    ww = WakeWordDetector(models, "okay_nabu", sensitivity=0.5)
    g = gate("wake_word")
    events = Collector()
    w = vad_worker(store, g, ww, events)
    # Without the wake word nothing is heard: the gate stays closed ("idle", not listening).
    assert feed(w, np.concatenate([silence(0.5), hola, silence(1.5)])) == []
    assert [(type(e), getattr(e, "open", None)) for e in events.items()] == [(GateChanged, False)]
    wake = espeak("okay nabu", voice="es", speed=140) * 0.5
    ends = feed(w, np.concatenate([silence(0.5), wake, silence(0.3), hola, silence(1.5)]))
    assert w.wakes == 1 and len(ends) == 1
    assert g.listens_for_wake_word()  # the command ended: waiting for the word again
    # Reported for Home Assistant's wake_word event and the phase: the word, the gate opening
    # for the command, the speech, and the gate closing after it.
    assert [type(e) for e in events.items() if not isinstance(e, GateChanged)] == [
        WakeWordDetected, SpeechDetected]
    assert [e.open for e in events.of(GateChanged)] == [False, True, False]
    assert events.of(WakeWordDetected)[0].word == "okay_nabu"


def test_the_vad_swaps_and_retunes_its_wake_word_when_told(store):
    def load(word, sensitivity):
        return WakeWordDetector(store.resolve(wakeword_entry(word, store.specs)), word,
                                sensitivity)

    w = VadWorker(VadSettings(), store.resolve("silero-vad"), Inbox(16), gate=gate("wake_word"),
                  wakeword=load("okay_nabu", 0.5), load_wakeword=load)
    w.on_control(WakeWordSettings(sensitivity=0.9))  # as the VAD's own thread takes it
    assert (w.wakeword.word, w.wakeword.cutoff) == ("okay_nabu",
                                                    cutoff_for(w.wakeword.default_cutoff, 0.9))
    w.on_control(WakeWordSettings(word="hey_jarvis"))
    assert (w.wakeword.word, w.wakeword.sensitivity) == ("hey_jarvis", 0.9)
    w.on_control(WakeWordSettings(word="oye_cocina"))  # no such model: keeps the one it has
    assert w.wakeword.word == "hey_jarvis"


def test_wake_word_ignores_other_speech_and_names_bad_words(store, clips):
    models = store.resolve("okay_nabu")
    ww = WakeWordDetector(models, "okay_nabu", sensitivity=0.5)
    for clip in clips:
        assert not ww.process(to_int16(np.concatenate([silence(0.3), clip, silence(0.5)])))
    assert ww.cutoff == pytest.approx(ww.default_cutoff)
    assert cutoff_for(0.85, 1.0) < 0.85 < cutoff_for(0.85, 0.0)
    with pytest.raises(WakeWordError, match="available: .*okay_nabu"):
        WakeWordDetector(models, "oye_cocina")
    jarvis = WakeWordDetector(store.resolve(wakeword_entry("hey_jarvis", store.specs)),
                              "hey_jarvis")
    assert jarvis.phrase == "Hey Jarvis"
