"""One appliance unit as Home Assistant meets it, built by the composition root.

``unit(broker, state_dir)`` is ``build_pipeline(stages=LISTENING)`` with no audio device: the
control plane (control worker, MQTT) and, with ``vad=True``, the VAD worker run for real under
the supervisor, with the real gate, timer service, volume, preferences and interruption
service behind the command sink. Capture and STT are built but not started: tests report what
they would (a wake word, a transcript) into the one events inbox, as those stages do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from appliance import config
from appliance.app import LISTENING, Pipeline, build_pipeline
from appliance.brain.timers import TimerService
from appliance.control.discovery import topics_for
from appliance.control.mqtt import MqttWorker, default_client_id
from appliance.pipeline.messages import AudioFrame
from appliance.pipeline.supervisor import Supervisor
from tests.support.broker import PASSWORD, USER, Broker
from tests.support.harness import Collector

DEVICE = "cocina"
T = topics_for(DEVICE)


@dataclass
class Unit:
    app: Pipeline
    sup: Supervisor
    mqtt: MqttWorker

    @property
    def timers(self) -> TimerService:
        timers = self.app.control.controller.sink.timers  # type: ignore[attr-defined]
        assert isinstance(timers, TimerService)
        return timers

    def frames(self, n: int = 5) -> None:
        """Capture periods of room silence into the VAD (20 ms each)."""
        for _ in range(n):
            self.app.vad.inbox.put(AudioFrame(np.zeros(320, np.int16), 16000, time.monotonic()))


def settings(broker: Broker, state: Path, **listen: Any) -> config.Settings:
    return config.from_dict({
        "device": {"id": DEVICE, "state_dir": str(state)},
        "listen": listen,
        "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port, "username": USER,
                 "password": PASSWORD, "reconnect_min_s": 0.05, "reconnect_max_s": 0.5},
    })


@contextmanager
def unit(broker: Broker, state: Path, *, vad: bool = False, machine_id: Path | None = None,
         **listen: Any) -> Iterator[Unit]:
    app = build_pipeline(settings(broker, state, **listen), stages=LISTENING,
                         transcripts=Collector(), prerender="none")
    mqtt = app.control.faces[0]
    assert isinstance(mqtt, MqttWorker)
    if machine_id is not None:
        mqtt.client_id = default_client_id(DEVICE, machine_id)
    sup = Supervisor([*app.control.workers, *([app.vad] if vad else [])],
                     restart_backoff_s=0.05)
    sup.start()
    try:
        assert sup.wait_ready(30) and mqtt.wait_connected(10)
        yield Unit(app, sup, mqtt)
    finally:
        assert sup.stop(3.0)


