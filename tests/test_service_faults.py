"""The running service shows a failing device or storage as the ``error`` phase (and clears it
once it is back), and starts whatever its state files hold: built by the composition root
(the listening stages) on real alsa-lib PCMs."""

from __future__ import annotations

import numpy as np
import pytest

from appliance import config
from appliance.app import LISTENING, build_pipeline
from appliance.control.commands import TimerSet
from appliance.pipeline.inbox import Inbox
from tests.support.alsa import AlsaConfig
from tests.support.harness import Collector
from tests.support.storage import can_mount, small_fs

pytestmark = pytest.mark.slow


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
