"""The running service shows a failing device or storage as the ``error`` phase (and clears it
once it is back), and starts whatever its state files hold: built by the composition root
(the listening stages) on real alsa-lib PCMs."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from appliance import config
from appliance.app import LISTENING, build_pipeline
from appliance.audio.alsa import file_capture_pcm
from appliance.control.commands import TimerSet
from appliance.control.discovery import topics_for
from appliance.demo.fifo_devices import Mouth
from appliance.pipeline.events import DeviceError, Finished, Silent, Started
from appliance.pipeline.inbox import Inbox
from tests.support.alsa import AlsaConfig, pulse_pcm
from tests.support.broker import PASSWORD, USER, running_broker
from tests.support.control import serving
from tests.support.harness import Collector
from tests.support.notify import WatchdogPings
from tests.support.storage import can_mount, small_fs

pytestmark = pytest.mark.slow

DEVICE = "cocina"
T = topics_for(DEVICE)
LONG = ("Atención: la lavadora ha terminado. Recuerda sacar la ropa y tenderla pronto, "
        "antes de que se arrugue, y después pon a secar las toallas del baño.")


def test_a_missing_microphone_is_an_error_until_it_is_plugged_in(
        tmp_path, alsa: AlsaConfig) -> None:
    settings = config.from_dict({
        "device": {"state_dir": str(tmp_path / "state")},
        "audio": {"capture_device": "usb_mic", "reopen_initial_s": 0.05, "reopen_max_s": 0.2},
    })
    app = build_pipeline(settings, stages=LISTENING, transcripts=Inbox(16), max_frames=50)
    phases = Collector()
    app.control.state.subscribe(lambda snap, changed: phases.put((snap.phase, snap.error))
                                if "phase" in changed else None)
    app.start()
    try:
        phase, error = phases.wait(lambda p: p[0] == "error", timeout=60)
        assert "capture device" in error and "usb_mic" in error
        alsa.capture("usb_mic", np.zeros(16000, np.int16).tobytes())  # plugged in
        phases.wait(lambda p: p[0] != "error", timeout=10)
        assert app.capture.finished.wait(10)
        assert app.supervisor.restarts("capture") == 0
        assert app.supervisor.wait_ready(60)  # Whisper loaded: a stop need not wait for it
    finally:
        assert app.stop(2.0)


def test_state_files_in_the_wrong_shape_are_set_aside_and_the_service_starts(
        tmp_path, alsa: AlsaConfig) -> None:
    state = tmp_path / "state"
    state.mkdir()
    bad = {"timers.json": "[]", "volume.json": '{"level": 1e999}', "preferences.json": "null"}
    for name, text in bad.items():
        (state / name).write_text(text)
    alsa.capture("mic", np.zeros(16000, np.int16).tobytes())
    settings = config.from_dict({"device": {"state_dir": str(state)},
                                 "audio": {"capture_device": "mic"}})
    app = build_pipeline(settings, stages=LISTENING, transcripts=Inbox(16), max_frames=50)
    app.start()
    try:
        assert app.supervisor.wait_ready(60)
        snap = app.control.state.snapshot()
        assert snap.phase != "error" and snap.volume == 70 and not snap.muted
        for name, text in bad.items():
            assert (state / f"{name}.bad").read_text() == text  # kept for whoever looks
    finally:
        assert app.stop(2.0)


@pytest.mark.skipif(bool(can_mount()), reason=can_mount() or "ok")
def test_a_timer_set_over_mqtt_on_a_full_disk_is_kept_and_reported_as_an_error(
        tmp_path, alsa: AlsaConfig) -> None:
    alsa.capture("mic", np.zeros(16000, np.int16).tobytes())
    with small_fs(tmp_path / "state") as fs:
        settings = config.from_dict({"device": {"state_dir": str(fs.path)},
                                     "audio": {"capture_device": "mic"}})
        app = build_pipeline(settings, stages=LISTENING, transcripts=Inbox(16), max_frames=50)
        published = Collector()
        app.control.state.subscribe_events(published.put)
        app.start()
        try:
            assert app.supervisor.wait_ready(60)
            fs.fill()
            assert app.control.controller.execute(TimerSet(300, "huevos")) is None
            error = published.wait(lambda e: e.event_type == "error", timeout=10)
            assert error.detail["code"] == "storage_error" and "timers" in error.detail["message"]
            assert [t.name for t in app.control.state.snapshot().timers] == ["huevos"]
            assert app.control.state.snapshot().phase == "error"
        finally:
            assert app.stop(2.0)


def test_a_loudspeaker_that_hangs_holds_up_nothing_else(tmp_path, pulse, alsa) -> None:
    """The sound server hangs (PulseAudio frozen with SIGSTOP) while an announcement plays: an
    interrupt over MQTT silences it at once and Home Assistant sees the ``error`` phase naming
    the loudspeaker; MQTT commands are answered,
    a timer rings on time and the watchdog is pinged on time throughout; once the server
    answers again it speaks again. No worker restarts."""
    mic_fifo = tmp_path / "mic.fifo"
    os.mkfifo(mic_fifo)
    mouth = Mouth(mic_fifo, 16000, 20)  # our end is open before the PCM's (fifo_devices.py)
    alsa.add(file_capture_pcm("mic", mic_fifo))
    alsa.add(pulse_pcm("spk"))
    with running_broker(tmp_path) as broker:
        settings = config.from_dict({
            "device": {"id": DEVICE, "state_dir": str(tmp_path / "state")},
            "audio": {"capture_device": "mic", "playback_device": "spk", "sample_rate": 16000,
                      "reopen_initial_s": 0.05, "reopen_max_s": 0.5},
            "tts": {"engine": "espeak"},
            "listen": {"mode": "push_to_talk"},
            "brain": {"timer_max_ring_s": 5.0},
            "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port,
                     "username": USER, "password": PASSWORD},
        })
        app = build_pipeline(settings, prerender="none")
        events = Collector()
        app.observe(events)
        mouth.start()
        try:
            with serving(app, broker, DEVICE) as probe:
                with WatchdogPings(app.supervisor, tmp_path, 3.0) as watchdog:
                    probe.publish(T.cmd("say"), json.dumps({"text": LONG}))
                    events.wait_for(Started, lambda e: e.kind == "announce", timeout=30)
                    time.sleep(2.5)  # the null sink may take 2 s to start a stream
                    pulse.freeze()
                    t_hung = time.monotonic()
                    time.sleep(0.5)
                    probe.publish(T.cmd("interrupt"), "PRESS")
                    silent = events.wait_for(Silent, since=t_hung, timeout=5)
                    shown = probe.wait_json(T.state, lambda d: d["phase"] == "error", timeout=5)
                    t_timer = time.monotonic()
                    probe.publish(T.cmd("timer/set"), json.dumps({"seconds": 1}))
                    rang = probe.wait_json(
                        T.event, lambda d: d.get("event_type") == "timer_finished", timeout=5)
                    t_rang = time.monotonic()
                    # Hung for 8 s in all: past the alarm, which rings 5 s at most (unheard).
                    time.sleep(max(0.0, t_hung + 8.0 - time.monotonic()))
                    gaps = watchdog.gaps(t_hung)
                pulse.thaw()
                t_back = time.monotonic()
                probe.publish(T.cmd("say"), json.dumps({"text": "Ya vuelvo a sonar."}))
                again = events.wait_for(Started, lambda e: e.kind == "announce", since=t_back,
                                        timeout=30)
                back = events.wait_for(Finished, lambda e: e.id == again.id, timeout=30)
                cleared_by = time.monotonic() + 10
                while app.control.state.snapshot().phase == "error":  # the speaker is back
                    assert time.monotonic() < cleared_by, app.control.state.snapshot()
                    time.sleep(0.05)
        finally:
            pulse.thaw()
            mouth.stop()
    assert silent.latency_s < 0.3, silent.latency_s
    assert shown is not None and "playback" in shown["error"], shown
    assert rang is not None and 0.8 < t_rang - t_timer < 2.5, (rang, t_rang - t_timer)
    assert gaps.max() < 3.0 / 3, gaps
    assert isinstance(back, Finished)
    assert events.of(DeviceError, t_hung), "the hung device was not reported"
    assert sum(app.supervisor.restarts(w.name) for w in app.supervisor.workers) == 0
