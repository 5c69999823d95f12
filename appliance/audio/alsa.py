"""Opening ALSA PCMs with pyalsaaudio, and the ALSA configuration text for file-backed PCMs.

Capture and playback both open devices here so errors read the same; a vanished device is
retried the same way by both (``appliance.pipeline.backoff``): log once, back off, resume.
"""

from __future__ import annotations

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


def open_playback(spec: PcmSpec) -> alsaaudio.PCM:
    """Blocking S16_LE playback PCM with a small buffer (periods x period)."""
    try:
        return alsaaudio.PCM(
            alsaaudio.PCM_PLAYBACK,
            alsaaudio.PCM_NORMAL,
            device=spec.device,
            channels=spec.channels,
            rate=spec.rate,
            format=alsaaudio.PCM_FORMAT_S16_LE,
            periodsize=spec.period_frames,
            periods=spec.periods,
        )
    except ALSAAudioError as exc:
        raise ALSAAudioError(f"cannot open playback device {spec.device!r}: {exc}") from exc


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
