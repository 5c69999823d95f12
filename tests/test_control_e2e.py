"""MQTT commands end to end through the real output half: espeak-ng TTS -> PriorityQueue ->
PlaybackWorker on real ALSA PCMs (a file-backed one for exact bytes, a PulseAudio null sink for
real-time interrupts), with a real mosquitto.

``OutputSink`` below is test wiring of those real components into a CommandSink; the
appliance's own sink is the pipeline's (the lead's) and replaces it when the service is
assembled. Commands the output half does not handle (ptt, mode, timers) are only recorded.
"""

from __future__ import annotations

import json
import queue as stdqueue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from appliance import config
from appliance.audio.alsa import PcmSpec
from appliance.audio.playback import PlaybackWorker
from appliance.audio.resample import resample, to_int16
from appliance.control.discovery import topics_for
from appliance.control.plane import build
from appliance.pipeline.supervisor import Supervisor
from appliance.speak.messages import Finished, PlaybackEvent, Priority, Silent, Started, Utterance
from appliance.speak.priority import PriorityQueue
from appliance.speak.tts.espeak import EspeakEngine
from tests.support.alsa import AlsaConfig, alsa  # noqa: F401  (fixture)
from tests.support.broker import PASSWORD, USER, Broker, running_broker
from tests.support.control import Probe, RecordingSink
from tests.support.pulse import PulseServer, pulse  # noqa: F401  (fixture)

RATE = 24000
DEVICE = "e2e"
T = topics_for(DEVICE)
LONG = ("Atención: la lavadora ha terminado. Recuerda sacar la ropa y tenderla pronto, "
        "porque si se queda mucho rato dentro huele a humedad y habrá que lavarla otra vez.")


class OutputSink(RecordingSink):
    """Say -> espeak-ng -> queue (in a thread: synthesis must not block the MQTT worker);
    interrupt and volume -> the playback worker."""

    def __init__(self, q: PriorityQueue, playback: PlaybackWorker,
                 styles: dict[str, config.StyleSettings]) -> None:
        super().__init__()
        self.q, self.playback, self.styles = q, playback, styles
        self.engine = EspeakEngine("es")
        self.utterances: stdqueue.Queue[Utterance] = stdqueue.Queue()

    def say(self, text: str, priority: str, style: str | None) -> None:
        super().say(text, priority, style)
        threading.Thread(target=self._speak, args=(text, priority, style), daemon=True).start()

    def _speak(self, text: str, priority: str, style: str | None) -> None:
        audio = self.engine.synthesize(text, self.styles[style or "normal"])
        pcm = to_int16(resample(audio, self.engine.sample_rate, RATE))
        utt = Utterance(pcm, RATE, priority=Priority[priority.upper()], text=text,
                        kind="announce", last=True)
        self.utterances.put(utt)
        self.q.put(utt)

    def interrupt(self, source: str) -> None:
        super().interrupt(source)
        self.playback.interrupt(source)

    def set_volume(self, volume: int) -> None:
        super().set_volume(volume)
        self.playback.set_volume(volume)


class Events:
    def __init__(self) -> None:
        self.q: stdqueue.Queue[PlaybackEvent] = stdqueue.Queue()

    def __call__(self, ev: PlaybackEvent) -> None:
        self.q.put(ev)

    def wait_for(self, pred: Callable[[PlaybackEvent], bool], timeout: float = 15) -> PlaybackEvent:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                ev = self.q.get(timeout=left)
            except stdqueue.Empty:
                break
            if pred(ev):
                return ev
        raise AssertionError("playback event not seen")


@pytest.fixture
def mosq(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path) as b:
        yield b


@contextmanager
def appliance(mosq: Broker, device: str) -> Iterator[tuple[OutputSink, PlaybackWorker, Events]]:
    settings = config.from_dict({
        "device": {"id": DEVICE},
        "mqtt": {"enabled": True, "host": "127.0.0.1", "port": mosq.port, "username": USER,
                 "password": PASSWORD},
    })
    q = PriorityQueue()
    events = Events()
    playback = PlaybackWorker(q, PcmSpec(device, RATE, 1, 240, 4), on_event=events,
                              idle_close_s=30.0)
    sink = OutputSink(q, playback, settings.tts.styles)
    plane = build(settings, sink)
    sup = Supervisor([playback, *plane.workers])
    sup.start()
    try:
        assert plane.workers[0].wait_connected(10)  # type: ignore[attr-defined]
        yield sink, playback, events
    finally:
        assert sup.stop(3.0)


def test_say_over_mqtt_lands_on_the_playback_device(
    mosq: Broker, alsa: AlsaConfig  # noqa: F811
) -> None:
    out = alsa.playback("spk")
    probe = Probe(mosq, "ha")
    with appliance(mosq, "spk") as (sink, playback, events):
        probe.publish(T.cmd("volume"), "50")
        probe.publish(T.cmd("say"), '{"text": "La lavadora ha terminado", "priority": "high"}')
        utt = sink.utterances.get(timeout=15)
        fin = events.wait_for(lambda e: isinstance(e, Finished))
        assert isinstance(fin, Finished) and fin.id == utt.id and fin.frames == len(utt.audio)
    probe.close()
    assert utt.priority == Priority.HIGH and utt.duration > 0.8
    data = np.frombuffer(out.read_bytes(), np.int16)
    expected = (utt.audio.astype(np.float32) * 0.25).astype(np.int16)  # volume 50 -> gain 0.25
    start = 240 * 3  # a fresh stream starts on a full buffer of silence
    assert np.array_equal(data[start : start + len(expected)], expected)


def test_interrupt_over_mqtt_silences_real_time_playback(
    mosq: Broker, pulse: PulseServer  # noqa: F811
) -> None:
    probe = Probe(mosq, "ha")
    with appliance(mosq, "pulse") as (sink, playback, events):
        probe.publish(T.cmd("say"), json.dumps({"text": LONG}))
        utt = sink.utterances.get(timeout=15)
        events.wait_for(lambda e: isinstance(e, Started) and e.id == utt.id)
        time.sleep(0.5)
        probe.publish(T.cmd("interrupt"), "PRESS")
        silent = events.wait_for(lambda e: isinstance(e, Silent))
        spoken = playback.stats()["speech_frames"]
        time.sleep(0.3)
        assert playback.stats()["speech_frames"] == spoken  # nothing more after Silent
    probe.close()
    assert isinstance(silent, Silent) and silent.id == utt.id and silent.reason == "mqtt"
    assert utt.duration > 5 and spoken < len(utt.audio) // 2
    assert sink.names() == ["say", "interrupt"]
