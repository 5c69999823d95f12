"""The MQTT worker against a real Debian mosquitto (tests/support/broker.py).

The pipeline side is ``RecordingSink`` (tests/support/control.py): a real CommandSink that
records calls, standing in for the audio pipeline that other stages build; the end-to-end
say/interrupt-on-playback test comes with that wiring.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from appliance.config import MqttSettings, TlsSettings
from appliance.control.controller import Controller
from appliance.control.discovery import topics_for
from appliance.control.mqtt import MqttWorker
from appliance.control.state import STATES, StateMachine
from appliance.pipeline.supervisor import Supervisor
from tests.support.broker import PASSWORD, USER, Broker
from tests.support.control import Probe, RecordingSink, mqtt_settings

DEVICE = "kitchen1"
T = topics_for(DEVICE)
REPO = Path(__file__).resolve().parents[1]


@contextmanager
def appliance(
    settings: MqttSettings, wait: bool = True
) -> Iterator[tuple[MqttWorker, RecordingSink]]:
    sink = RecordingSink()
    worker = MqttWorker(settings, Controller(StateMachine(), sink), device_id=DEVICE,
                        device_name="Cocina")
    sup = Supervisor([worker])
    sup.start()
    try:
        if wait:
            assert worker.wait_connected(10), "worker did not connect"
        yield worker, sink
    finally:
        assert sup.stop(timeout=3)


def test_discovery_retained_valid_and_republished_on_birth(broker: Broker) -> None:
    with appliance(mqtt_settings(broker)):
        probe = Probe(broker, "ha", T.discovery)
        try:
            doc = probe.wait(T.discovery)[0].json()
            late = Probe(broker, "late", T.discovery)
            try:
                assert late.wait(T.discovery)[0].retain, "discovery must be retained"
            finally:
                late.close()
            assert doc["dev"]["ids"] == [DEVICE] and doc["o"]["name"] == "appliance"
            comps = doc["cmps"]
            assert {"state", "last_transcript", "last_answer", "interrupt", "push_to_talk",
                    "mute", "volume", "listening_mode", "event", "timers", "next_timer", "cpu",
                    "uptime", "response_time", "interrupt_latency", "announce", "listening",
                    "speaking", "timer_ringing"} <= set(comps)
            ids = [c["unique_id"] for c in comps.values()]
            assert len(set(ids)) == len(ids)
            for c in comps.values():
                assert c["p"] and c["unique_id"] and c["availability"] == [
                    {"topic": T.availability}]
            assert comps["state"]["options"] == list(STATES)
            probe.publish(T.ha_status, "online")
            again = probe.wait(T.discovery, 2)
            assert len(again) >= 2 and again[-1].json() == doc
        finally:
            probe.close()


def test_availability_online_then_offline_when_process_killed(broker: Broker) -> None:
    probe = Probe(broker, "ha", T.availability)
    code = ("from tests.support.control import serve_forever; "
            f"serve_forever({broker.port}, {DEVICE!r})")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"connected"
        assert probe.wait(T.availability, payload=b"online")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        offline = probe.wait(T.availability, payload=b"offline", timeout=10)
        assert offline, f"no offline after kill; got {[m.payload for m in probe.messages]}"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        probe.close()
    late = Probe(broker, "late", T.availability)  # retained for whoever comes later
    try:
        assert late.wait(T.availability)[-1].payload == b"offline"
    finally:
        late.close()


COMMANDS = [
    ("interrupt", "PRESS", ("interrupt", ("mqtt",))),
    ("interrupt", '{"source": "automation"}', ("interrupt", ("automation",))),
    ("ptt", "start", ("ptt_start", ())),
    ("ptt", '{"action": "stop"}', ("ptt_stop", ())),
    ("say", '{"text": "la lavadora ha terminado", "priority": "high", "style": "urgent"}',
     ("say", ("la lavadora ha terminado", "high", "urgent"))),
    ("volume", "35", ("set_volume", (35,))),
    ("mute", "ON", ("set_mute", (True,))),
    ("mode", "push_to_talk", ("set_mode", ("push_to_talk",))),
    ("timer/set", '{"seconds": 300, "name": "pasta"}', ("timer_set", (300.0, "pasta"))),
    ("timer/cancel", "pasta", ("timer_cancel", ("pasta", None, False))),
]


def test_each_command_reaches_the_sink_and_state_is_published(broker: Broker) -> None:
    early = Probe(broker, "early", T.error)
    early.publish(T.cmd("say"), '{"text": "retained by mistake"}', retain=True)
    with appliance(mqtt_settings(broker)) as (_worker, sink):
        assert early.wait(T.error)[0].json()["code"] == "retained_command"
        early.close()
        probe = Probe(broker, "ha", T.state, T.error)
        try:
            for name, payload, _ in COMMANDS:
                probe.publish(T.cmd(name), payload)
                probe.publish(T.cmd("volume"), "loud")  # a bad one in between changes nothing
            calls = sink.wait_for(len(COMMANDS))
            assert calls == [expected for *_, expected in COMMANDS]
            errors = probe.wait(T.error, len(COMMANDS))
            assert len(errors) == len(COMMANDS)
            assert {e.json()["code"] for e in errors} == {"malformed_json"}
            last = probe.wait_json(T.state, lambda d: d["mode"] == "push_to_talk")
            assert (last["volume"], last["muted"], last["state"]) == (35, True, "muted")
        finally:
            probe.close()


def test_broker_restart_reconnects_republishes_and_runs_queued_command_once(
    broker: Broker,
) -> None:
    settings = mqtt_settings(broker, reconnect_min_s=0.5, reconnect_max_s=3.0)
    with appliance(settings) as (worker, sink):
        assert worker.connects == 1
        attempts = worker.attempts
        broker.stop()
        deadline = time.monotonic() + 5
        while worker.attempts < attempts + 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # two failed tries (0.5 s, 1 s): the next one is 2 s away
        assert not worker.connected and worker.attempts >= attempts + 2
        worker.controller.state.set_volume(80)  # changed while the broker is away
        broker.start()
        probe = Probe(broker, "ha", T.availability, T.state)
        try:
            assert not worker.connected, "sent before the appliance reconnected"
            probe.publish(T.cmd("interrupt"), "PRESS", qos=1)
            assert sink.wait_for(1, timeout=10) == [("interrupt", ("mqtt",))]
            assert worker.connects == 2
            fresh = [m for m in probe.wait(T.availability, payload=b"online") if not m.retain]
            assert fresh or probe.wait(T.availability, 2, payload=b"online")
            assert probe.wait_json(T.state, lambda d: d["volume"] == 80), "state republished"
            time.sleep(1.0)  # room for a duplicate delivery to show up
            assert sink.names() == ["interrupt"]
        finally:
            probe.close()


def test_tls_with_self_signed_ca_and_password(broker: Broker) -> None:
    with appliance(mqtt_settings(broker, tls=True)) as (worker, sink):
        probe = Probe(broker, "ha", T.availability)
        try:
            assert probe.wait(T.availability, payload=b"online")
            probe.publish(T.cmd("say"), '{"text": "hola"}')
            assert sink.wait_for(1) == [("say", ("hola", "normal", None))]
        finally:
            probe.close()


def test_tls_with_client_certificate(broker: Broker, caplog: pytest.LogCaptureFixture) -> None:
    d = broker.dir
    tls = TlsSettings(ca_file=broker.ca_file, cert_file=str(d / "client.crt"),
                      key_file=str(d / "client.key"))
    settings = dataclasses.replace(mqtt_settings(broker), port=broker.mtls_port, tls=tls)
    with appliance(settings) as (worker, _):
        assert worker.connected
    without = dataclasses.replace(settings, tls=TlsSettings(ca_file=broker.ca_file))
    with appliance(without, wait=False) as (worker, _):
        time.sleep(0.5)
        assert not worker.connected and worker.attempts >= 2  # refused, retried
        assert "require a client certificate" in caplog.text


def test_password_from_file(broker: Broker, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret-pw\n")
    settings = mqtt_settings(broker, tls=True, password="", password_file=str(secret))
    with appliance(settings) as (worker, _):
        assert worker.connected


def test_wrong_password_logs_clearly_and_retries(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="appliance")
    with appliance(mqtt_settings(broker, password="wrong"), wait=False) as (worker, _):
        deadline = time.monotonic() + 5
        refused: list[str] = []
        while len(refused) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
            refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert len(refused) >= 3, "expected repeated attempts"
        assert "Not authorized - check mqtt.username and the password" in refused[0]
        assert not worker.connected


def test_mqtt_and_gpio_are_two_faces_of_one_state(broker: Broker, tmp_path: Path) -> None:
    from gpiozero.pins.mock import MockFactory

    from appliance import config
    from appliance.control.plane import build
    from appliance.control.worker import events_inbox

    settings = config.from_dict({
        "device": {"id": DEVICE, "state_dir": str(tmp_path)},  # the mute is kept there
        "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port,
                 "username": USER, "password": PASSWORD, "max_text_chars": 20},
        "gpio": {"enabled": True, "led_pins": [5]},
    })
    factory = MockFactory()
    sink = RecordingSink()
    plane = build(settings, sink, events=events_inbox(), pin_factory=factory)
    sup = Supervisor(plane.workers)
    sup.start()
    probe = Probe(broker, "ha", T.state, T.error)
    try:
        assert sup.wait_ready(5) and plane.faces[0].wait_connected(10)  # type: ignore[attr-defined]
        probe.publish(T.cmd("mute"), "ON")
        assert probe.wait_json(T.state, lambda d: d["muted"])
        mute = factory.pin(settings.gpio.mute_pin)
        mute.drive_low()
        time.sleep(0.06)
        mute.drive_high()  # a click on the mute button unmutes
        assert probe.wait_json(T.state, lambda d: d["muted"] is False and d["state"] == "idle")
        probe.publish(T.cmd("say"), '{"text": "' + "a" * 21 + '"}')  # over max_text_chars
        assert probe.wait(T.error)[0].json()["code"] == "text_too_long"
        probe.publish(T.cmd("say"), '{"text": "hola", "style": "calm"}')
        assert sink.wait_for(3)[2] == ("say", ("hola", "normal", "calm"))
        assert sink.names() == ["set_mute", "set_mute", "say"]
        plane.state.set_phase("listening")
        assert factory.pin(5).state is True
    finally:
        probe.close()
        sup.stop()
        factory.close()
