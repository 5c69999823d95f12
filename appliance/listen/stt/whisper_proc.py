"""Whisper in a helper process on another interpreter: the route for python3.13t.

faster-whisper needs CTranslate2, which has no free-threaded (cp313t) build and no source
release on PyPI. On python3.13t the appliance therefore runs Whisper in a child process on the
GIL build's interpreter (e.g. .venv/bin/python); the pipeline itself, VAD and everything else
stay in the free-threaded process with the GIL off. The engine offers the same SttEngine
interface as WhisperEngine; the decode cost is the same (CTranslate2 releases the GIL anyway),
plus about 1 ms to pass the audio through a pipe.

Protocol on the child's stdin/stdout: request = 4-byte little-endian sample count, 4-byte
prompt length, the prompt (UTF-8; empty: the configured one), float32 samples; reply = one
JSON line {"text": ...} or {"error": ...}. The child says {"ready": true}
once the model is loaded.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from appliance.config import SttSettings
from appliance.listen.stt.base import BufferedSession

ENV = "APPLIANCE_WHISPER_PYTHON"  # interpreter that can import faster_whisper


class WhisperProcessEngine:
    """WhisperEngine's interface, decoding in a child process on `python`."""

    name = "whisper"
    streaming = False

    def __init__(self, model_dir: str | Path, settings: SttSettings, python: str,
                 start_timeout_s: float = 120.0) -> None:
        self.language = settings.language
        self._cmd = [python, "-m", "appliance.listen.stt.whisper_proc", str(model_dir),
                     json.dumps(dataclasses.asdict(settings))]
        self._timeout = start_timeout_s
        self._lock = threading.Lock()  # one request in flight per child
        self._proc: subprocess.Popen[bytes] | None = None
        with self._lock:
            self._spawn()

    def start(self, prompt: str | None = None) -> BufferedSession:
        return BufferedSession(self, prompt)

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> str:
        x = np.ascontiguousarray(audio, dtype="<f4")
        if len(x) < 1600:  # under 0.1 s: nothing to say (as WhisperEngine)
            return ""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._spawn()
            assert self._proc is not None and self._proc.stdin and self._proc.stdout
            try:
                text = (prompt or "").encode()
                self._proc.stdin.write(struct.pack("<II", len(x), len(text)) + text + x.tobytes())
                self._proc.stdin.flush()
                reply = json.loads(self._proc.stdout.readline() or b'{"error": "child exited"}')
            except (OSError, ValueError) as exc:
                self._kill()
                raise RuntimeError(f"Whisper helper process failed: {exc}") from exc
        if "error" in reply:
            raise RuntimeError(f"Whisper helper process: {reply['error']}")
        return str(reply["text"])

    def close(self) -> None:
        with self._lock:
            self._kill()

    def _spawn(self) -> None:
        # The child is a GIL build with its own site-packages (it must have `appliance`
        # installed, as .venv does); PYTHON_GIL=0 would make it refuse to start.
        env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
        try:
            self._proc = subprocess.Popen(self._cmd, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, env=env)
        except OSError as exc:
            raise RuntimeError(f"cannot start the Whisper helper {self._cmd[0]!r}: {exc}; "
                               f"set {ENV} to a Python with faster-whisper") from exc
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        try:
            ok = json.loads(line).get("ready") is True
        except ValueError:
            ok = False
        if not ok:
            self._kill()
            raise RuntimeError(f"Whisper helper {self._cmd[0]!r} did not start: {line[:500]!r} "
                               f"(its stderr says why; it needs faster-whisper)")

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


def serve(model_dir: str, settings_json: str) -> int:
    """Child side: load the model, then answer requests until stdin closes."""
    from appliance.listen.stt.whisper import WhisperEngine

    fields = json.loads(settings_json)
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    out = sys.stdout.buffer
    engine = WhisperEngine(model_dir, SttSettings(**fields))
    out.write(b'{"ready": true}\n')
    out.flush()
    inp = sys.stdin.buffer
    while len(head := inp.read(8)) == 8:
        n, m = struct.unpack("<II", head)
        prompt = inp.read(m).decode() or None
        audio = np.frombuffer(inp.read(4 * n), dtype="<f4")
        try:
            reply = {"text": engine.transcribe(audio, prompt)}
        except Exception as exc:  # report it; the parent decides
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.argv[2]))
