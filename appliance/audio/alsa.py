"""Opening ALSA PCMs with pyalsaaudio, and the ALSA configuration text for file-backed PCMs.

Capture and playback both open devices here so errors read the same; a vanished device is
retried the same way by both (``appliance.pipeline.backoff``): log once, back off, resume.

Why a device is first opened by a probe in a child process (``OpenProbe``): pyalsaaudio holds
the GIL inside snd_pcm_open, snd_pcm_drop and snd_pcm_close, and a device that does not answer
(a hung sound server: libpulse gives up after 30 s; a busy card opened in blocking mode) would
stop every thread of a GIL build - MQTT, timers, the watchdog - until it did. A probe that
hangs is killed instead; only a device that has just answered is opened in-process.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import alsaaudio

from appliance.core import atomic

ALSAAudioError = alsaaudio.ALSAAudioError
# alsa-lib's own configuration: an ALSA_CONFIG_PATH that adds PCMs must list it first, or the
# stock devices (null, plug, ...) disappear.
STOCK_CONFIG = "/usr/share/alsa/alsa.conf"


@dataclass(frozen=True)
class PcmSpec:
    device: str
    rate: int
    channels: int = 1
    period_frames: int = 320
    periods: int = 4  # buffer = periods x period

    @property
    def period_s(self) -> float:
        return self.period_frames / self.rate


def open_capture(spec: PcmSpec) -> alsaaudio.PCM:
    """Blocking S16_LE capture PCM; raises ALSAAudioError naming the device."""
    try:
        return alsaaudio.PCM(
            alsaaudio.PCM_CAPTURE,
            alsaaudio.PCM_NORMAL,
            device=spec.device,
            channels=spec.channels,
            rate=spec.rate,
            format=alsaaudio.PCM_FORMAT_S16_LE,
            periodsize=spec.period_frames,
            periods=spec.periods,
        )
    except ALSAAudioError as exc:
        raise ALSAAudioError(f"cannot open capture device {spec.device!r}: {exc}") from exc


def open_playback(spec: PcmSpec, *, nonblock: bool = False) -> alsaaudio.PCM:
    """S16_LE playback PCM with a small buffer (periods x period). ``nonblock``: writes that
    find no room return 0 instead of waiting, and close does not wait for the buffer to play,
    so a device that stops taking audio cannot hold the caller."""
    try:
        return alsaaudio.PCM(
            alsaaudio.PCM_PLAYBACK,
            alsaaudio.PCM_NONBLOCK if nonblock else alsaaudio.PCM_NORMAL,
            device=spec.device,
            channels=spec.channels,
            rate=spec.rate,
            format=alsaaudio.PCM_FORMAT_S16_LE,
            periodsize=spec.period_frames,
            periods=spec.periods,
        )
    except ALSAAudioError as exc:
        raise ALSAAudioError(f"cannot open playback device {spec.device!r}: {exc}") from exc


class OpenProbe:
    """Opens and closes ``spec`` in a child process (``python -m appliance.audio.alsa``), so a
    device that hangs on open holds the child, never this process. Poll ``result()``."""

    def __init__(self, spec: PcmSpec, *, playback: bool = True, timeout_s: float = 2.0) -> None:
        self.spec = spec
        self.timeout_s = timeout_s
        self.timed_out = False  # killed unanswered: the device may hang any call made on it
        self._deadline = time.monotonic() + timeout_s
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "appliance.audio.alsa", "playback" if playback else "capture",
             spec.device, str(spec.rate), str(spec.channels), str(spec.period_frames),
             str(spec.periods)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def result(self) -> str | None:
        """None while the probe runs; "" once the device opened; else why it did not."""
        if self._proc.poll() is None:
            if time.monotonic() < self._deadline:
                return None
            self._proc.kill()
            self._proc.wait()
            self._close_pipe()
            self.timed_out = True
            return f"device {self.spec.device!r} did not answer within {self.timeout_s:g} s"
        err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
        self._close_pipe()
        if self._proc.returncode == 0:
            return ""
        last = err.strip().splitlines()[-1:] or [f"probe exited with {self._proc.returncode}"]
        return last[0]

    def wait(self) -> str:
        """Block until the probe ends or times out (for tools that have nothing else to do)."""
        while (res := self.result()) is None:
            time.sleep(0.01)
        return res

    def cancel(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self._proc.stderr is not None:
            self._proc.stderr.close()


def _probe_main(argv: list[str]) -> int:
    """The probe's child: open ``kind device rate channels period periods`` and close it."""
    kind, device, *numbers = argv
    rate, channels, period, periods = (int(n) for n in numbers)
    spec = PcmSpec(device, rate, channels, period, periods)
    try:
        if kind == "playback":
            open_playback(spec, nonblock=True).close()
        else:
            open_capture(spec).close()
    except ALSAAudioError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


# --- file-backed PCMs: real alsa-lib devices without a sound card (demo, tests, bench) ------


def file_capture_pcm(name: str, infile: Path) -> str:
    """ALSA config text for capture PCM ``name`` reading raw S16_LE from ``infile`` (a file,
    returned byte for byte as fast as it is read, or a FIFO, paced by its writer)."""
    return (f'pcm.{name} {{ type file slave.pcm "null" file "/dev/null" '
            f'infile "{infile}" format "raw" }}\n')


def file_playback_pcm(name: str, outfile: Path, fmt: str = "raw") -> str:
    """ALSA config text for playback PCM ``name`` writing to ``outfile`` (raw or wav)."""
    return f'pcm.{name} {{ type file slave.pcm "null" file "{outfile}" format "{fmt}" }}\n'


def write_config(path: Path, blocks: list[str]) -> str:
    """Write ALSA config ``blocks`` to ``path``; returns the ALSA_CONFIG_PATH value that adds
    them to the stock configuration. alsa-lib rereads its config only when a file's inode or
    mtime (seconds) changes, so the file is replaced by rename, never rewritten in place."""
    atomic.write_bytes(path, "".join(blocks).encode(), durable=False)
    return f"{STOCK_CONFIG}:{path}"


if __name__ == "__main__":
    sys.exit(_probe_main(sys.argv[1:]))
