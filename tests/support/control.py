"""Helpers for control-plane tests: a recording command sink, an MQTT probe client, settings.

``RecordingSink`` is a real ``CommandSink`` implementation that stores each call (with its
monotonic time) instead of driving the audio pipeline, which is built by other stages; the
tests that use it say so. ``Probe`` is an ordinary paho client playing Home Assistant.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from appliance.app import Pipeline
from appliance.config import MqttSettings, TlsSettings
from appliance.control.discovery import topics_for
from appliance.control.mqtt import MqttWorker
from tests.support.broker import PASSWORD, USER, Broker


class RecordingSink:
    """Records every pipeline call as (method, args, monotonic time)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], float]] = []
        self._cond = threading.Condition()

    def _record(self, method: str, *args: Any) -> None:
        with self._cond:
            self.calls.append((method, args, time.monotonic()))
            self._cond.notify_all()

    def interrupt(self, source: str) -> None:
        self._record("interrupt", source)

    def ptt_start(self) -> None:
        self._record("ptt_start")

    def ptt_stop(self) -> None:
        self._record("ptt_stop")

    def say(self, text: str, priority: str, style: str | None) -> None:
        self._record("say", text, priority, style)

    def set_volume(self, volume: int) -> None:
        self._record("set_volume", volume)

    def set_mute(self, muted: bool) -> None:
        self._record("set_mute", muted)

    def set_mode(self, mode: str) -> None:
        self._record("set_mode", mode)

    def set_wake_word(self, word: str) -> None:
        self._record("set_wake_word", word)

    def set_sensitivity(self, sensitivity: float) -> None:
        self._record("set_sensitivity", sensitivity)

    def timer_set(self, seconds: float, name: str | None) -> None:
        self._record("timer_set", seconds, name)

    def timer_cancel(self, name: str | None, timer_id: int | None, every: bool) -> None:
        self._record("timer_cancel", name, timer_id, every)

    def names(self) -> list[str]:
        with self._cond:
            return [c[0] for c in self.calls]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, tuple[Any, ...]]]:
        """Wait until at least ``count`` calls were recorded; returns (method, args) pairs."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.calls) >= count, timeout)
            return [(c[0], c[1]) for c in self.calls]


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    t: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.payload)


class Probe:
    """A test-side MQTT client (plays Home Assistant or a user with mosquitto_pub)."""

    def __init__(self, broker: Broker, client_id: str = "probe", *topics: str) -> None:
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.username_pw_set(USER, PASSWORD)
        self.client.on_message = self._on_message
        connected = threading.Event()
        self.client.on_connect = lambda *a: connected.set()
        self.client.connect("127.0.0.1", broker.port, keepalive=10)
        self.client.loop_start()
        if not connected.wait(5):
            self.close()
            raise RuntimeError("probe could not connect")
        for t in topics:
            self.subscribe(t)

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(topic, qos=1)
        if not done.wait(5):
            raise RuntimeError(f"subscribe to {topic} not acknowledged")

    def _on_message(self, client: Any, userdata: Any, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, msg.payload, bool(msg.retain)))
            self._cond.notify_all()

    def publish(self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def on(self, topic: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait(self, topic: str, count: int = 1, timeout: float = 5.0,
             payload: bytes | None = None) -> list[Received]:
        """Messages on ``topic`` (optionally with ``payload``) once there are ``count``."""

        def matching() -> list[Received]:
            return [m for m in self.messages
                    if m.topic == topic and (payload is None or m.payload == payload)]

        with self._cond:
            self._cond.wait_for(lambda: len(matching()) >= count, timeout)
            return matching()

    def wait_json(self, topic: str, predicate: Any, timeout: float = 5.0) -> Any:
        """The first JSON document on ``topic`` for which ``predicate`` is true (None: none)."""

        def found() -> Any:
            for m in self.messages:
                if m.topic == topic and predicate(m.json()):
                    return m.json()
            return None

        with self._cond:
            self._cond.wait_for(lambda: found() is not None, timeout)
            return found()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def mqtt_settings(broker: Broker, *, tls: bool = False, password: str = PASSWORD,
                  **extra: Any) -> MqttSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "host": "localhost",
        "port": broker.tls_port if tls else broker.port,
        "tls": TlsSettings(ca_file=broker.ca_file) if tls else TlsSettings(),
        "username": USER,
        "password": password,
        "keepalive": 5,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.5,
    }
    return MqttSettings(**{**values, **extra})


def serve_forever(port: int, device_id: str) -> None:
    """Entry point for a child process: the real MQTT worker under the real supervisor, with a
    recording sink, until the process is killed (``python -c`` in the availability test)."""
    import logging

    from appliance.control.controller import Controller
    from appliance.control.mqtt import MqttWorker
    from appliance.control.state import StateMachine
    from appliance.pipeline.supervisor import Supervisor

    logging.basicConfig(level=logging.INFO)
    settings = MqttSettings(enabled=True, host="127.0.0.1", port=port, username=USER,
                            password=PASSWORD, keepalive=5)
    worker = MqttWorker(settings, Controller(StateMachine(), RecordingSink()),
                        device_id=device_id)
    sup = Supervisor([worker])
    sup.start()
    if worker.wait_connected(10):
        print("connected", flush=True)
    sup.wait()


@contextmanager
def serving(app: Pipeline, broker: Broker, device_id: str,
            ready_s: float = 180) -> Iterator[Probe]:
    """The whole ``app`` started, ready and connected to ``broker``; yields a Home Assistant
    probe subscribed to the device's topics, and stops the app (then the probe) after."""
    app.start()
    probe = None
    try:
        assert app.supervisor.wait_ready(ready_s), "the pipeline did not start"
        mqtt = app.control.faces[0]
        assert isinstance(mqtt, MqttWorker) and mqtt.wait_connected(20)
        probe = Probe(broker, "ha-test", f"{topics_for(device_id).base}/#")
        yield probe
    finally:
        app.stop(2.0)
        if probe is not None:
            probe.close()
