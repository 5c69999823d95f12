"""A microphone and a loudspeaker made of named pipes, paced in real time by the demo.

alsa-lib's ``type file`` PCM reads its ``infile`` and writes its ``file`` with plain read() and
write(). Point both at FIFOs and the pipeline runs on real ALSA devices whose clock is the
demo's: the mouth writes 20 ms of the person's voice (or silence) every 20 ms, and the ear
reads the appliance's output at exactly the playback rate. A small pipe (one page) keeps the
loudspeaker's latency close to a real device's buffer. Both sides keep a timeline of what was
said and heard, for the conversation recording and the per-turn figures.

Both FIFOs are opened O_RDWR by the demo before the appliance starts: pyalsaaudio holds the GIL
while alsa-lib opens a PCM, so an open() that blocked waiting for the other end of a pipe would
freeze the whole process. With our end always open, the device's open never waits.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

from appliance.audio.alsa import file_capture_pcm, file_playback_pcm, write_config

F_SETPIPE_SZ = 1031  # linux/fcntl.h


def alsa_config(directory: Path, mic: str, speaker: str) -> tuple[str, Path, Path]:
    """Create the FIFOs and an ALSA config defining PCMs ``mic`` and ``speaker`` on them;
    returns the ALSA_CONFIG_PATH value that adds them, and the two FIFOs."""
    mic_fifo, spk_fifo = directory / "mic.fifo", directory / "speaker.fifo"
    for p in (mic_fifo, spk_fifo):
        if not p.exists():
            os.mkfifo(p)
    path = write_config(directory / "asound-demo.conf",
                        [file_capture_pcm(mic, mic_fifo), file_playback_pcm(speaker, spk_fifo)])
    return path, mic_fifo, spk_fifo


class Mouth:
    """Feeds the microphone FIFO in real time: queued speech, otherwise silence."""

    def __init__(self, fifo: Path, rate: int = 16000, chunk_ms: int = 20) -> None:
        self.fifo = fifo
        self.rate = rate
        self.chunk = rate * chunk_ms // 1000
        self._lock = threading.Lock()
        self._pending: deque[np.ndarray] = deque()
        self._said: list[tuple[float, np.ndarray]] = []  # (monotonic start, int16 audio)
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="demo-mouth", daemon=True)
        self._fd = os.open(fifo, os.O_RDWR)

    def start(self) -> None:
        self._thread.start()

    def say(self, audio: np.ndarray) -> float:
        """Queue int16 16 kHz speech; returns its duration. ``wait_said`` waits for its end."""
        with self._lock:
            self._pending.append(audio.astype(np.int16))
            self._idle.clear()
        return len(audio) / self.rate

    def wait_said(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def said(self) -> list[tuple[float, np.ndarray]]:
        with self._lock:
            return list(self._said)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def _run(self) -> None:
        silence = np.zeros(self.chunk, np.int16)
        next_t = time.monotonic()
        current: np.ndarray | None = None
        pos = 0
        start_t = 0.0
        while not self._stop.is_set():
            if current is None:
                with self._lock:
                    if self._pending:
                        current, pos, start_t = self._pending.popleft(), 0, next_t
            if current is not None:
                block = current[pos : pos + self.chunk]
                if len(block) < self.chunk:
                    block = np.concatenate([block, silence[: self.chunk - len(block)]])
            else:
                block = silence
            os.write(self._fd, block.tobytes())  # blocks while the capture device is closed
            if current is not None:
                pos += self.chunk
                if pos >= len(current):
                    with self._lock:
                        self._said.append((start_t, current))
                        if not self._pending:
                            self._idle.set()
                    current = None
            next_t += self.chunk / self.rate
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.5:
                next_t = time.monotonic()  # fell far behind (machine stalled): do not burst
        os.close(self._fd)


class Ear:
    """Drains the loudspeaker FIFO at the playback rate and keeps what it heard."""

    def __init__(self, fifo: Path, rate: int, chunk_ms: int = 20, threshold: int = 200) -> None:
        self.fifo = fifo
        self.rate = rate
        self.chunk_bytes = rate * chunk_ms // 1000 * 2
        self.threshold = threshold  # int16 peak that counts as sound
        self._lock = threading.Lock()
        self._heard: list[tuple[float, np.ndarray]] = []  # (monotonic time, int16 chunk)
        self._last_sound = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-ear", daemon=True)
        self._fd = os.open(fifo, os.O_RDWR)  # never EOF: the device may close and reopen
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._fd, F_SETPIPE_SZ, 4096)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):  # wake a read blocked on an idle device
            os.write(self._fd, b"\0\0")
        self._thread.join(2.0)
        os.close(self._fd)

    def last_sound(self) -> float:
        """Monotonic time of the last chunk with sound in it (0 if none yet)."""
        with self._lock:
            return self._last_sound

    def sound_since(self, t: float) -> float | None:
        """Monotonic time of the first sound heard at or after ``t``."""
        with self._lock:
            for when, chunk in self._heard:
                if when >= t and int(np.abs(chunk).max(initial=0)) > self.threshold:
                    return when
        return None

    def heard(self) -> list[tuple[float, np.ndarray]]:
        with self._lock:
            return list(self._heard)

    def _run(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            data = os.read(self._fd, self.chunk_bytes)  # blocks while the device is closed
            now = time.monotonic()
            chunk = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").copy()
            loud = int(np.abs(chunk).max(initial=0)) > self.threshold
            with self._lock:
                self._heard.append((now, chunk))
                if loud:
                    self._last_sound = now
            next_t += len(chunk) / self.rate
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.25:
                next_t = time.monotonic()  # the device was closed, or the machine stalled
