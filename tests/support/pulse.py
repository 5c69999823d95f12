"""A real-time-paced sound server for tests: PulseAudio with a null sink.

Capture and playback through it run at real time; a stalled writer underruns; killing the
server makes the next read/write raise ALSAAudioError - the closest thing to a USB device
being pulled that this machine can offer - and freezing it (SIGSTOP) is a device that hangs.
Reached through the ALSA ``pulse`` plugin.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.audio.alsa import STOCK_CONFIG
from tests.support.alsa import pulse_pcm


class PulseServer:
    def __init__(self, root: Path, rate: int = 16000) -> None:
        self.root = root
        self.rate = rate
        self.runtime = root / "xdg"
        self.home = root / "home"
        self.conf = root / "asound-pulse.conf"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {
            "XDG_RUNTIME_DIR": str(self.runtime),
            "HOME": str(self.home),
            "PULSE_SERVER": f"unix:{self.runtime}/pulse/native",
            "ALSA_CONFIG_PATH": f"{STOCK_CONFIG}:{self.conf}",
        }

    def start(self, timeout: float = 10.0) -> None:
        for d in (self.runtime, self.home):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o700)
        self.conf.write_text(pulse_pcm("pulse"))
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(
            [
                "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1",
                "--system=false", "--disallow-exit", "--log-target=stderr", "--log-level=error",
                "-L", "module-native-protocol-unix",
                "-L", f"module-null-sink sink_name=null rate={self.rate} channels=1",
                "-L", "module-always-sink",
            ],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        socket = self.runtime / "pulse" / "native"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pulseaudio exited with {self.proc.returncode}")
            if socket.exists() and self._ready(env):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("pulseaudio did not come up")

    def _ready(self, env: dict[str, str]) -> bool:
        if not shutil.which("pactl"):
            return True
        r = subprocess.run(["pactl", "info"], env=env, capture_output=True, timeout=5)
        return r.returncode == 0

    def kill(self) -> None:
        """Hard kill: clients see I/O errors, like a device that vanished."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def freeze(self) -> None:
        """SIGSTOP: a sound server that hangs. Clients' streams stop taking audio, and libpulse
        calls that need an answer (connect, drop, close) wait up to its 30 s timeout."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.thaw()
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def pulse_available() -> bool:
    return shutil.which("pulseaudio") is not None


@pytest.fixture
def pulse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PulseServer]:
    """A running PulseAudio null sink; env vars point ALSA device ``pulse`` at it."""
    if not pulse_available():
        pytest.fail("pulseaudio is not installed (scripts/setup.sh installs it)")
    server = PulseServer(tmp_path / "pulse")
    for k, v in server.env.items():
        monkeypatch.setenv(k, v)
    try:
        server.start()
        yield server
    finally:
        server.stop()
