"""The assembled appliance end to end: real ALSA PCMs on FIFOs paced in real time (the demo's
mouth and ear), real Silero VAD, Whisper, router, espeak-ng TTS, playback, and the control
plane on a real mosquitto.

One appliance serves the whole module (loading the models costs more than all the tests), so
the tests run in file order and each leaves it quiet: nothing playing, nothing queued.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from appliance import config
from appliance.app import Appliance
from appliance.audio.alsa import STOCK_CONFIG as STOCK_ALSA
from appliance.brain.numbers import parse_duration, parse_timer_name
from appliance.control.discovery import topics_for
from appliance.demo import voices
from appliance.demo.fifo_devices import Ear, Mouth, alsa_config
from appliance.demo_speech import recorded, to_int16
from appliance.pipeline.messages import Transcript
from appliance.speak.messages import Finished, Silent, Started
from tests.support.broker import PASSWORD, USER, running_broker
from tests.support.control import Probe

pytestmark = pytest.mark.slow

DEVICE = "apptest"
T = topics_for(DEVICE)
MIC, SPEAKER = "apptest_mic", "apptest_speaker"
ANNOUNCEMENT = ("Atención, por favor: la lavadora de la cocina ha terminado su programa largo "
                "y la ropa ya se puede tender")
LONG = ("Atención: la lavadora ha terminado. Recuerda sacar la ropa y tenderla pronto, "
        "porque si se queda mucho rato dentro huele a humedad y habrá que lavarla otra vez.")


class Seen:
    """Everything the appliance reports to its observers, with the monotonic time seen."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.events: list[tuple[float, Any]] = []

    def __call__(self, event: Any) -> None:
        with self._cond:
            self.events.append((time.monotonic(), event))
            self._cond.notify_all()

    def since(self, t: float) -> list[Any]:
        with self._cond:
            return [e for w, e in self.events if w >= t]

    def wait(self, pred: Callable[[Any], bool], since: float, timeout: float) -> Any:
        """The first event at or after ``since`` matching ``pred``; fails after ``timeout``."""

        def found() -> Any:
            return next((e for w, e in self.events if w >= since and pred(e)), None)

        with self._cond:
            self._cond.wait_for(lambda: found() is not None, timeout)
            event = found()
        assert event is not None, f"no matching event within {timeout} s"
        return event

    def transcripts(self, since: float) -> list[str]:
        return [e.text for e in self.since(since)
                if isinstance(e, Transcript) and e.final and e.text.strip()]


@dataclass
class Rig:
    app: Appliance
    mouth: Mouth
    ear: Ear
    probe: Probe
    seen: Seen

    def speak(self, audio: np.ndarray) -> float:
        """The person says ``audio`` (float32 16 kHz) into the mic; returns when it ended."""
        duration = self.mouth.say(to_int16(audio))
        assert self.mouth.wait_said(duration + 10)
        return time.monotonic()

    def transcript(self, since: float, timeout: float = 60) -> Transcript:
        return self.seen.wait(lambda e: isinstance(e, Transcript) and e.final
                              and bool(e.text.strip()), since, timeout)

    def thanks_heard_and_answered(self) -> None:
        """The person says thanks without pressing anything; it is heard and answered."""
        t = time.monotonic()
        self.speak(sentence("Muchas gracias por tu ayuda."))
        heard = self.transcript(t)
        assert "gracias" in heard.text.lower(), heard.text
        self.answer_done(t)

    def answer_done(self, since: float, timeout: float = 60) -> None:
        """The brain's answer after ``since`` started, played to its last sentence and the
        room is quiet again."""
        self.seen.wait(lambda e: isinstance(e, Started) and e.kind == "answer", since, timeout)
        self.seen.wait(lambda e: isinstance(e, Finished) and e.last, since, timeout)
        self.wait_quiet()

    def wait_quiet(self, quiet_s: float = 0.8, timeout: float = 60) -> None:
        app = self.app
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = len(app.queue) or app.producer.backlog() or len(app.brain.inbox)
            if not busy and time.monotonic() - self.ear.last_sound() >= quiet_s:
                return
            time.sleep(0.05)
        raise AssertionError("the appliance did not go quiet")

    def until(self, cond: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, "condition not reached"
            time.sleep(0.02)

    def utterances(self) -> int:
        return int(self.app.vad.stats()["utterances"])


def sentence(text: str) -> np.ndarray:
    return recorded([text])[0][1]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("app")
    old_alsa = os.environ.get("ALSA_CONFIG_PATH")
    conf, mic_fifo, spk_fifo = alsa_config(tmp, MIC, SPEAKER)
    os.environ["ALSA_CONFIG_PATH"] = f"{STOCK_ALSA}:{conf}"
    with running_broker(tmp) as broker:
        settings = config.from_dict({
            "device": {"id": DEVICE, "state_dir": str(tmp / "state")},
            "audio": {"capture_device": MIC, "playback_device": SPEAKER, "sample_rate": 16000},
            "tts": {"engine": "espeak"},
            "listen": {"mode": "push_to_talk"},
            "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port,
                     "username": USER, "password": PASSWORD},
        })
        # Our ends of both FIFOs are open before any PCM is (see fifo_devices.py).
        mouth = Mouth(mic_fifo, 16000, settings.audio.period_ms)
        ear = Ear(spk_fifo, settings.audio.playback_rate)
        app = Appliance(settings, prerender="none")
        seen = Seen()
        app.observers.append(seen)
        mouth.start()
        ear.start()
        app.start()
        probe = None
        try:
            assert app.supervisor.wait_ready(180), "the pipeline did not start"
            assert app.plane.workers[0].wait_connected(20)  # type: ignore[attr-defined]
            probe = Probe(broker, "ha-test", f"{T.base}/#")
            yield Rig(app, mouth, ear, probe, seen)
        finally:
            app.stop(2.0)
            mouth.stop()
            ear.stop()
            if probe is not None:
                probe.close()
            if old_alsa is None:
                os.environ.pop("ALSA_CONFIG_PATH", None)
            else:
                os.environ["ALSA_CONFIG_PATH"] = old_alsa


def test_push_to_talk_over_mqtt_captures_and_transcribes(rig: Rig) -> None:
    hello = sentence("Hola, ¿qué hora es?")
    t0 = time.monotonic()
    before = rig.utterances()
    rig.speak(hello)  # no button held: the gate keeps it from the VAD
    time.sleep(1.0)  # longer than the VAD's end-of-speech hangover
    assert rig.utterances() == before and rig.seen.transcripts(t0) == []

    rig.probe.publish(T.cmd("ptt"), "start")
    rig.until(rig.app.gate.allow)
    t1 = time.monotonic()
    rig.speak(hello)
    rig.probe.publish(T.cmd("ptt"), "stop")
    heard = rig.transcript(t1)
    assert "hora" in heard.text.lower(), heard.text
    rig.answer_done(t1)
    snap = rig.app.state.snapshot()  # what Home Assistant shows: the question and the answer
    assert snap.last_transcript == heard.text and snap.last_answer
    assert rig.probe.wait_json(T.state, lambda d: d["last_transcript"] == heard.text
                               and d["last_answer"] == snap.last_answer)

    # The follow-up window: right after the answer (plus the settle delay) no button needed.
    time.sleep(rig.app.settings.listen.settle_ms / 1000 + 0.1)
    rig.thanks_heard_and_answered()


def test_say_over_mqtt_is_heard_while_the_mic_is_muted(rig: Rig) -> None:
    rig.probe.publish(T.cmd("mute"), "ON")
    rig.until(lambda: rig.app.gate.state() == "muted")
    assert rig.app.state.snapshot().muted

    t0 = time.monotonic()
    rig.probe.publish(T.cmd("say"), json.dumps({"text": "La lavadora ha terminado.",
                                                "priority": "high"}))
    started = rig.seen.wait(lambda e: isinstance(e, Started) and e.kind == "announce", t0, 30)
    fin = rig.seen.wait(lambda e: isinstance(e, Finished) and e.id == started.id, t0, 30)
    rig.wait_quiet()
    loud = [c for w, c in rig.ear.heard() if w >= t0 and np.abs(c).max(initial=0) > 200]
    heard_s = sum(len(c) for c in loud) / rig.app.settings.audio.playback_rate
    assert heard_s >= 0.5 * fin.frames / rig.app.settings.audio.playback_rate
    assert rig.app.state.snapshot().last_answer == "La lavadora ha terminado."

    before = rig.utterances()
    rig.speak(sentence("Necesito comprar leche y pan."))  # a muted mic hears nothing
    time.sleep(1.0)
    assert rig.utterances() == before and rig.seen.transcripts(t0) == []

    rig.probe.publish(T.cmd("mute"), "OFF")
    rig.until(lambda: not rig.app.state.snapshot().muted)


def test_interrupt_over_mqtt_silences_an_announcement(rig: Rig) -> None:
    t0 = time.monotonic()
    rig.probe.publish(T.cmd("say"), json.dumps({"text": LONG}))
    started = rig.seen.wait(lambda e: isinstance(e, Started) and e.kind == "announce", t0, 30)
    time.sleep(1.0)
    t_press = time.monotonic()
    rig.probe.publish(T.cmd("interrupt"), "PRESS")
    silent = rig.seen.wait(lambda e: isinstance(e, Silent), t_press, 5)
    assert silent.answer == started.answer and silent.reason == "mqtt"
    time.sleep(2.0)
    # The device buffer and the ear's pipe hold ~0.15 s: past that the loudspeaker is silent
    # although seconds of the announcement were left.
    assert rig.ear.sound_since(t_press + 0.5) is None
    assert not any(isinstance(e, Started) for e in rig.seen.since(t_press))
    assert len(rig.app.queue) == 0
    rig.wait_quiet()


def test_own_voice_is_gated_and_the_follow_up_is_heard(rig: Rig) -> None:
    rig.probe.publish(T.cmd("mode"), "always")
    rig.until(lambda: rig.app.gate.mode == "always")
    t0 = time.monotonic()
    before = rig.utterances()
    rig.probe.publish(T.cmd("say"), json.dumps({"text": ANNOUNCEMENT}))
    started = rig.seen.wait(lambda e: isinstance(e, Started) and e.kind == "announce", t0, 30)
    rig.speak(sentence("Necesito comprar leche y pan."))  # over the appliance's own voice
    assert not any(isinstance(e, Finished) for e in rig.seen.since(t0)), \
        "the announcement ended before the person did: the test proves nothing"
    rig.seen.wait(lambda e: isinstance(e, Finished) and e.answer == started.answer and e.last,
                  t0, 30)
    rig.wait_quiet()
    assert rig.utterances() == before and rig.seen.transcripts(t0) == []

    rig.thanks_heard_and_answered()


def test_a_voice_timer_is_set(rig: Rig) -> None:
    line = voices.LINES["timer"]  # "Pon un temporizador de veinte minutos para la pasta."
    seconds, name = parse_duration(line), parse_timer_name(line)
    assert seconds and name
    assert rig.app.gate.mode == "always"
    t0 = time.monotonic()
    rig.speak(voices.clip("timer"))
    heard = rig.transcript(t0)
    assert "pasta" in heard.text.lower(), heard.text
    rig.until(lambda: len(rig.app.timers.remaining()) == 1)
    [(timer, left)] = rig.app.timers.remaining()
    assert (timer.name, timer.seconds) == (name, seconds), heard.text
    assert seconds - 30 < left <= seconds
    rig.answer_done(t0)
    assert rig.probe.wait_json(T.state, lambda d: [t["name"] for t in d["timers"]] == [name])

    # The MQTT face of the same timers: a second one of that name is refused, saying why.
    n = len(rig.probe.on(T.error))
    rig.probe.publish(T.cmd("timer/set"), json.dumps({"seconds": 60, "name": name}))
    error = rig.probe.wait(T.error, n + 1)[n].json()
    assert error["code"] == "execution_failed" and "already" in error["message"], error
    rig.probe.publish(T.cmd("timer/cancel"), "{}")
    rig.until(lambda: rig.app.timers.remaining() == [])
    rig.until(lambda: rig.probe.on(T.state)[-1].json()["timers"] == [])
