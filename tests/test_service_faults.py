"""The running service shows a failing device as the ``error`` phase, and clears it once the
device is back: built by the composition root (the listening stages) on real alsa-lib PCMs."""

from __future__ import annotations

import numpy as np
import pytest

from appliance import config
from appliance.app import LISTENING, build_pipeline
from appliance.pipeline.inbox import Inbox
from tests.support.alsa import AlsaConfig
from tests.support.harness import Collector

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
    finally:
        assert app.stop(2.0)
