"""``appliance run``, the process systemd starts: a stop at any moment of start-up, or once it
runs, ends it with status 0 within 2 s, and a missing secret refuses the start in one line.
The real service with its real models, on file-backed ALSA PCMs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.support.alsa import AlsaConfig

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def start(tmp_path: Path, env: dict[str, str], extra: str = "") -> subprocess.Popen[str]:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"device: {{state_dir: {tmp_path / 'state'}, cache_dir: {ROOT / 'var' / 'cache'}}}\n"
        "audio: {capture_device: mic, playback_device: speaker}\n" + extra, encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "appliance", "run", "-c", str(cfg), "--ready-timeout", "120"],
        cwd=ROOT, env={**os.environ, **env}, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
        text=True)


def stopped_within(proc: subprocess.Popen[str], seconds: float) -> tuple[int | None, float]:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(seconds + 5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None, time.monotonic() - t0
    return code, time.monotonic() - t0


@pytest.fixture()
def devices(alsa: AlsaConfig) -> dict[str, str]:
    alsa.capture("mic", np.zeros(16000 * 60, np.int16).tobytes())
    alsa.playback("speaker")
    return alsa.env


@pytest.mark.parametrize("after_s", [0.5, 2.0, 5.0])
def test_sigterm_while_it_starts_exits_0_within_2_s(tmp_path, devices, after_s) -> None:
    proc = start(tmp_path, devices)
    time.sleep(after_s)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    code, took = stopped_within(proc, 2.0)
    log = proc.stderr.read() if proc.stderr else ""
    assert code == 0 and took < 2.0, (code, took, log[-2000:])
    assert "Traceback" not in log, log[-2000:]


def test_sigterm_once_it_runs_exits_0_within_2_s(tmp_path, devices) -> None:
    proc = start(tmp_path, devices)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:  # until "ready: ..." (READY=1 would go to systemd now)
        lines.append(line)
        if "appliance.watchdog: ready" in line:
            break
    else:
        pytest.fail("it never got ready:\n" + "".join(lines[-30:]))
    # Keep reading its log: a full pipe would block its logging, and with it the stop.
    threading.Thread(target=lambda: proc.stderr and proc.stderr.read(), daemon=True).start()
    code, took = stopped_within(proc, 2.0)
    assert code == 0 and took < 2.0, (code, took)


def test_a_missing_mqtt_password_refuses_the_start_in_one_line(tmp_path, devices) -> None:
    env = {k: v for k, v in os.environ.items() if k != "APPLIANCE_TEST_NO_SUCH_VAR"}
    proc = start(tmp_path, {**devices, **env},
                 "mqtt: {enabled: true, username: u, password_env: APPLIANCE_TEST_NO_SUCH_VAR}\n")
    code = proc.wait(30)
    err = proc.stderr.read().strip() if proc.stderr else ""
    assert code == 2, err
    assert err.splitlines()[-1] == ("appliance: configuration error: mqtt.password_env: "
                                    "environment variable 'APPLIANCE_TEST_NO_SUCH_VAR' is not set")
