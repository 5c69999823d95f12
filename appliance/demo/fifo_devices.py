"""A microphone and a loudspeaker made of named pipes, paced in real time by the demo.

alsa-lib's ``type file`` PCM reads its ``infile`` and writes its ``file`` with plain read() and
write(). Point both at FIFOs and the pipeline runs on real ALSA devices whose clock is the
demo's: the mouth writes 20 ms of the person's voice (or silence) every 20 ms, and the ear
reads the appliance's output at exactly the playback rate. Small pipes (one page) keep both
devices' latency close to a real one's buffer, and like a real microphone the mouth drops what
the capture device has not taken within 300 ms (an overrun) instead of queueing it: audio
that waited unseen in a pipe would reach the appliance late with no clock saying so. Both
sides keep a timeline of what was said and heard, for the recording and the per-turn figures.

The room can be simulated too (``EchoPath``): what the ear hears comes back into what the mouth
writes, delayed, through a synthetic room impulse response and at a set level, as a real
loudspeaker is heard by the microphone next to it - the appliance's echo canceller has to take
its own voice back out.

Both FIFOs are opened O_RDWR by the demo before the appliance starts: pyalsaaudio holds the GIL
while alsa-lib opens a PCM, so an open() that blocked waiting for the other end of a pipe would
freeze the whole process. With our end always open, the device's open never waits.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import termios
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

from appliance.audio.alsa import file_capture_pcm, file_playback_pcm, write_config
from appliance.audio.echo import FarEnd

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


def room_impulse_response(rate: int, rt60_s: float, drr_db: float = 10.0,
                          seed: int = 0) -> np.ndarray:
    """A synthetic kitchen: the direct path (1.0), a few early reflections and a diffuse tail
    of noise decaying 60 dB in ``rt60_s``, ``drr_db`` below the direct sound in energy (the
    loudspeaker is a hand's width from the microphone: the direct sound dominates)."""
    rng = np.random.default_rng(seed)
    n = max(1, int(rate * rt60_s))
    t = np.arange(n) / rate
    tail = rng.standard_normal(n) * 10 ** (-3 * t / rt60_s)
    tail[: int(rate * 0.003)] = 0.0  # the first reflection arrives ~3 ms (1 m) after the direct
    tail *= np.sqrt(10 ** (-drr_db / 10) / float(np.sum(tail**2)))
    rir = tail
    for delay_ms, gain in ((3.1, 0.3), (5.7, -0.2), (8.9, 0.15), (13.3, -0.1)):
        rir[int(rate * delay_ms / 1000)] += gain
    rir[0] = 1.0
    return rir.astype(np.float32)


class EchoPath:
    """The loudspeaker heard by the microphone: what the ear reads comes out of the mouth's
    stream ``delay_ms`` later, through a room impulse response, ``gain_db`` louder or quieter
    (thread-safe: the ear pushes, the mouth mixes)."""

    def __init__(self, speaker_rate: int, mic_rate: int = 16000, *, delay_ms: float = 40.0,
                 gain_db: float = 0.0, rt60_ms: float = 250.0) -> None:
        self.delay_s = delay_ms / 1000
        self.gain_db = gain_db
        self.rt60_ms = rt60_ms
        self.rate = speaker_rate
        self._rir = room_impulse_response(speaker_rate, rt60_ms / 1000) * 10 ** (gain_db / 20)
        self._tail = np.zeros(len(self._rir) - 1, np.float32)
        self._fft_size = 0
        self._rir_f: np.ndarray = np.zeros(0, np.complex128)
        self._room = FarEnd(mic_rate)  # the echo on the microphone's timeline

    def heard(self, chunk: np.ndarray, t_end: float) -> None:
        """``chunk`` (int16, speaker rate) finished playing at ``t_end``."""
        x = chunk.astype(np.float32)
        n = len(x)
        if n == 0:
            return
        size = 1 << int(np.ceil(np.log2(n + len(self._rir) - 1)))
        if size != self._fft_size:
            self._fft_size, self._rir_f = size, np.fft.rfft(self._rir, size)
        y = np.fft.irfft(np.fft.rfft(x, size) * self._rir_f, size)[: n + len(self._tail)]
        y[: len(self._tail)] += self._tail
        self._tail = y[n:].astype(np.float32)
        out = np.clip(y[:n], -32768, 32767).astype(np.int16)
        self._room.played(out, self.rate, t_end - n / self.rate + self.delay_s)

    def at(self, t_start: float, n: int) -> np.ndarray:
        """The echo reaching the microphone in ``n`` samples from ``t_start`` (int16)."""
        return self._room.window(t_start, n)


MAX_BACKLOG_S = 0.3  # the microphone's buffer (ALSA holds about this much before overrunning)


class Mouth:
    """Feeds the microphone FIFO in real time: queued speech, otherwise silence."""

    def __init__(self, fifo: Path, rate: int = 16000, chunk_ms: int = 20,
                 echo: EchoPath | None = None) -> None:
        self.fifo = fifo
        self.echo = echo
        self.rate = rate
        self.chunk = rate * chunk_ms // 1000
        self._lock = threading.Lock()
        self._pending: deque[np.ndarray] = deque()
        self._said: list[tuple[float, np.ndarray]] = []  # (monotonic start, int16 audio)
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._energy = {"person": [0.0, 0], "echo": [0.0, 0]}  # over blocks with sound in them
        self._thread = threading.Thread(target=self._run, name="demo-mouth", daemon=True)
        self._fd = os.open(fifo, os.O_RDWR)
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._fd, F_SETPIPE_SZ, 4096)
        self.overruns = 0  # blocks dropped because the microphone was not being read

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

    def forget(self, before: float) -> None:
        """Drop the speech that started before ``before``."""
        with self._lock:
            self._said = [(t, a) for t, a in self._said if t >= before]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def _backlog(self) -> int:
        """Bytes written but not yet read by the capture device."""
        buf = bytearray(4)
        try:
            fcntl.ioctl(self._fd, termios.FIONREAD, buf)
        except OSError:
            return 0
        return int.from_bytes(buf, sys.byteorder)

    def levels_dbfs(self) -> dict[str, float | None]:
        """RMS level (dBFS) of the person's voice and of the echo at the microphone, each over
        the blocks where it is sounding: is the echo as loud as the person?"""
        with self._lock:
            return {k: (round(10 * np.log10(e / n / 32768.0**2), 1) if n else None)
                    for k, (e, n) in self._energy.items()}

    def _measure(self, key: str, block: np.ndarray) -> None:
        energy = float(np.sum(block.astype(np.float64) ** 2))
        if energy > len(block) * 100.0**2:  # above about -50 dBFS: sounding
            with self._lock:
                self._energy[key][0] += energy
                self._energy[key][1] += len(block)

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
            if current is not None:
                self._measure("person", block)
            if self.echo is not None:  # the room: the appliance's own voice, mixed in
                # A microphone delivers a block once it is captured: this one ends now.
                echo = self.echo.at(next_t - self.chunk / self.rate, self.chunk)
                self._measure("echo", echo)
                mixed = block.astype(np.int32) + echo
                block = np.clip(mixed, -32768, 32767).astype(np.int16)
            if self._backlog() <= MAX_BACKLOG_S * self.rate * 2:
                os.write(self._fd, block.tobytes())
            else:  # like a real microphone nobody reads: the audio is lost, not delayed
                self.overruns += 1
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

    def __init__(self, fifo: Path, rate: int, chunk_ms: int = 20, threshold: int = 200,
                 echo: EchoPath | None = None) -> None:
        self.fifo = fifo
        self.echo = echo
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

    def forget(self, before: float) -> None:
        """Drop the chunks heard before ``before``."""
        with self._lock:
            self._heard = [(t, c) for t, c in self._heard if t >= before]

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
            if self.echo is not None:
                self.echo.heard(chunk, now)
            next_t += len(chunk) / self.rate
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.25:
                next_t = time.monotonic()  # the device was closed, or the machine stalled
