"""What a Home Assistant user ran into (issue 13, "Why" 1-7), each reproduced on a real
mosquitto against the appliance built by the composition root.

The rig (``tests/support/unit.py``) is the appliance built by the composition root with its
control plane and VAD running; what the audio stages would report (a wake word, a transcript,
a sound starting) is put into the one events inbox, exactly as those stages do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.control.mqtt import default_client_id
from appliance.pipeline.events import Finished, Heard, Started, WakeWordDetected
from appliance.pipeline.messages import Transcript
from tests.support.broker import Broker
from tests.support.control import Probe
from tests.support.unit import DEVICE, T, unit


@pytest.fixture
def ha(broker: Broker) -> Iterator[Probe]:
    probe = Probe(broker, "homeassistant", f"{T.base}/#", T.discovery)
    yield probe
    probe.close()


def state(probe: Probe, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
    doc = probe.wait_json(T.state, pred, timeout)
    assert doc is not None, [m.json() for m in probe.on(T.state)][-3:]
    return doc


def error(probe: Probe, n: int) -> dict[str, Any]:
    """The ``n``-th error published (1-based)."""
    errors = probe.wait(T.error, n)
    assert len(errors) >= n, "no error published"
    return errors[n - 1].json()


# --- Why 1: one say must not freeze Home Assistant's view ----------------------------------


def test_why1_unencodable_text_is_refused_and_nothing_freezes(broker: Broker, ha: Probe,
                                                             tmp_path: Path) -> None:
    with unit(broker, tmp_path) as u:
        ha.publish(T.cmd("say"), '{"text": "hola \\ud800"}')  # a lone surrogate, JSON-escaped
        e = error(ha, 1)
        assert (e["code"], e["field"]) == ("invalid_value", "text") and "surrogate" in e["message"]
        # Whatever reaches the state by another path, every later publish still goes out.
        u.app.control.state.set_answer("eco \ud800")
        ha.publish(T.cmd("volume"), "35")
        assert state(ha, lambda d: d["volume"] == 35)["last_answer"] == "eco ?"
        broker.restart()  # the reconnect republishes that same state from inside CONNACK
        assert u.mqtt.wait_connected(10)
        ha2 = Probe(broker, "ha2", T.state, T.availability)
        try:
            assert state(ha2, lambda d: d["volume"] == 35)
            assert ha2.wait(T.availability)[-1].payload == b"online"
        finally:
            ha2.close()
        assert u.sup.restarts("mqtt") == 0 and u.mqtt.connects == 2


# --- Why 2: QoS 1 is what Home Assistant uses ------------------------------------------------


def test_why2_every_command_entity_has_qos1_and_survives_a_reconnect(
        broker: Broker, ha: Probe, tmp_path: Path) -> None:
    with unit(broker, tmp_path):
        doc = ha.wait(T.discovery)[0].json()
    commands = {k: c for k, c in doc["cmps"].items() if "command_topic" in c}
    assert {"interrupt", "push_to_talk", "announce", "mute", "volume", "listening_mode",
            "wake_word", "wake_word_sensitivity"} <= set(commands)
    assert "qos" not in doc and all(c["qos"] == 1 for c in doc["cmps"].values())
    # The appliance is away; Home Assistant changes the volume at the component's QoS.
    ha.publish(commands["volume"]["command_topic"], "22", qos=commands["volume"]["qos"])
    with unit(broker, tmp_path):  # back on the same persistent session: it is executed
        assert state(ha, lambda d: d["volume"] == 22)


# --- Why 3: what was set comes back after a restart ------------------------------------------


def test_why3_mute_mode_wake_word_sensitivity_volume_and_timers_survive_a_restart(
        broker: Broker, ha: Probe, tmp_path: Path) -> None:
    with unit(broker, tmp_path, vad=True, mode="always") as u:
        for name, payload in (("mute", "ON"), ("mode", "push_to_talk"), ("wake_word", "alexa"),
                              ("sensitivity", "0.8"), ("volume", "33")):
            ha.publish(T.cmd(name), payload)
        ha.publish(T.cmd("timer/set"), '{"seconds": 600, "name": "pasta"}')
        state(ha, lambda d: d["volume"] == 33 and d["timers"])
        deadline = time.monotonic() + 5
        while u.app.vad.wakeword.word != "alexa" and time.monotonic() < deadline:
            time.sleep(0.02)  # applied live by the VAD worker, on its own thread
        assert u.app.vad.wakeword.word == "alexa" and u.app.vad.wakeword.sensitivity == 0.8
    with unit(broker, tmp_path, mode="always") as u:
        app = u.app
        assert (app.gate.muted, app.gate.mode) == (True, "push_to_talk")
        assert (app.vad.wakeword.word, app.vad.wakeword.sensitivity) == ("alexa", 0.8)
        late = Probe(broker, "late-ha", T.state)  # HA sees it all at once, timers included
        try:
            d = state(late, lambda d: d["timers"])
            assert (d["muted"], d["mode"], d["wake_word"], d["sensitivity"], d["volume"]) == (
                True, "push_to_talk", "alexa", 0.8, 33)
            assert [t["name"] for t in d["timers"]] == ["pasta"]
        finally:
            late.close()


# --- Why 4: clearing a retained command never runs one ---------------------------------------


def test_why4_clearing_a_retained_cancel_keeps_the_timers(broker: Broker, ha: Probe,
                                                          tmp_path: Path) -> None:
    with unit(broker, tmp_path):
        for seconds in (60, 120, 180, 240):
            ha.publish(T.cmd("timer/set"), str(seconds))
        state(ha, lambda d: len(d["timers"]) == 4)
    ha.publish(T.cmd("timer/cancel"), "pasta", retain=True)  # by mistake, while it is away
    with unit(broker, tmp_path) as u:
        # Queued for its session (run: nothing is called pasta) and retained (refused).
        assert {error(ha, 1)["code"], error(ha, 2)["code"]} == {"not_found", "retained_command"}
        ha.publish(T.cmd("timer/cancel"), b"", retain=True)  # mosquitto_pub -r -n: clear it
        assert error(ha, 3)["code"] == "empty_payload"
        assert len(u.timers.pending()) == 4
        ha.publish(T.cmd("timer/cancel"), '{"all": true}')
        state(ha, lambda d: d["timers"] == [])


# --- Why 5: timers as Home Assistant needs them ----------------------------------------------


def test_why5_timers_have_ids_end_times_and_unknown_names_are_not_found(
        broker: Broker, ha: Probe, tmp_path: Path) -> None:
    with unit(broker, tmp_path) as u:
        ha.publish(T.cmd("timer/set"), "300")
        ha.publish(T.cmd("timer/set"), "600")
        d = state(ha, lambda d: len(d["timers"]) == 2)
        first, second = d["timers"]
        assert set(first) == {"id", "name", "total_s", "ends_at"} and first["name"] == ""
        ends = {t.id: t.ends_at for t in u.timers.pending()}
        assert first["ends_at"] == time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                                                 time.gmtime(round(ends[first["id"]])))
        assert d["next_timer"] == first["ends_at"]
        ha.publish(T.cmd("timer/cancel"), json.dumps({"id": second["id"]}))  # unnamed, by id
        d = state(ha, lambda d: len(d["timers"]) == 1)
        assert d["timers"][0]["id"] == first["id"]
        ha.publish(T.cmd("timer/cancel"), "pollo")
        e = error(ha, 1)
        assert e["code"] == "not_found" and "pollo" in e["message"]
        event = ha.wait_json(T.event, lambda v: v["event_type"] == "error")
        assert event["code"] == "not_found"


# --- Why 6: the state is what the device does ------------------------------------------------


def test_why6_listening_only_while_the_gate_listens(broker: Broker, ha: Probe,
                                                    tmp_path: Path) -> None:
    with unit(broker, tmp_path, vad=True, mode="push_to_talk") as u:
        u.frames()
        time.sleep(0.3)
        assert ha.on(T.state)[-1].json()["state"] == "idle"  # button up: not listening
        ha.publish(T.cmd("ptt"), "start")
        u.frames()
        assert state(ha, lambda d: d["state"] == "listening" and d["listening"])
        ha.publish(T.cmd("ptt"), "stop")
        u.frames()
        assert state(ha, lambda d: d["state"] == "idle" and not d["listening"])
        ha.publish(T.cmd("mode"), "always")
        state(ha, lambda d: d["mode"] == "always")  # applied (a loaded machine is slow)...
        u.frames()  # ...then frames, through which the VAD reports the gate open
        assert state(ha, lambda d: d["state"] == "listening" and d["mode"] == "always")


def test_why6_a_ringing_alarm_is_one_retained_state(broker: Broker, ha: Probe,
                                                    tmp_path: Path) -> None:
    with unit(broker, tmp_path, vad=True) as u:
        u.frames()
        state(ha, lambda d: d["state"] == "listening")
        u.timers.add(1, "huevo")
        time.sleep(1.05)
        assert [e.kind for e in u.timers.check()] == ["fired"]  # the brain is this clock
        d = state(ha, lambda d: d["state"] == "ringing" and d["timers"] == [])
        assert d["ringing"] and not d["speaking"]
        time.sleep(0.3)
        n = len(ha.on(T.state))
        events = u.app.events
        for beep in range(15):  # what playback reports around every beep; the gate follows
            events.put(Started(id=beep, answer=0, index=0, kind="alarm", latency_s=0.0))
            u.frames(2)
            events.put(Finished(id=beep, answer=0, index=0, frames=480, last=True))
            u.frames(2)
        time.sleep(0.5)
        assert len(ha.on(T.state)) == n, [m.json()["state"] for m in ha.on(T.state)[n:]]
        ha.publish(T.cmd("interrupt"), "PRESS")  # stops it through the one service
        assert state(ha, lambda d: d["state"] != "ringing" and not d["ringing"])


# --- Why 7: the small things -----------------------------------------------------------------


def test_why7_wake_word_event_timer_range_response_time(broker: Broker, ha: Probe,
                                                       tmp_path: Path) -> None:
    with unit(broker, tmp_path) as u:
        u.app.events.put(WakeWordDetected(word="okay_nabu"))  # as the VAD reports it
        assert ha.wait_json(T.event, lambda v: v["event_type"] == "wake_word")["word"] == (
            "okay_nabu")
        ha.publish(T.cmd("timer/set"), "0.4")
        assert (error(ha, 1)["code"], error(ha, 1)["field"]) == ("out_of_range", "seconds")
        t_end = time.monotonic()
        u.app.events.put(Heard(transcript=Transcript(1, "¿Qué hora es?", True, 0.5, 1.5,
                                                     t_detected=t_end)))
        u.app.events.put(Started(id=1, answer=2, index=0, kind="answer", latency_s=0.001,
                                 t=t_end + 0.640))
        assert state(ha, lambda d: d["last_response_ms"] is not None)["last_response_ms"] == (
            640.0)


def test_why7_two_units_on_default_ids_do_not_log_each_other_off(broker: Broker,
                                                                tmp_path: Path) -> None:
    ids = []
    for n in (1, 2):
        (tmp_path / f"mid{n}").write_text(f"{n:032x}\n")
    with unit(broker, tmp_path / "a", machine_id=tmp_path / "mid1") as a, \
            unit(broker, tmp_path / "b", machine_id=tmp_path / "mid2") as b:
        time.sleep(1.0)
        assert a.mqtt.connects == b.mqtt.connects == 1 and a.mqtt.connected and b.mqtt.connected
        ids = [a.mqtt.client_id, b.mqtt.client_id]
    assert ids[0] != ids[1] and ids[0] == default_client_id(DEVICE, tmp_path / "mid1")
    assert all(i.startswith(f"{DEVICE}-") and "0000" not in i for i in ids)  # not the raw id
