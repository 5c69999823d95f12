"""File-backed ALSA PCMs for tests: real pyalsaaudio, real alsa-lib, no sound card.

``type file`` PCMs are not paced: capture returns ``infile`` byte for byte as fast as it is
read (and repeats its last buffer after the end), playback lands in ``file`` byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.audio.alsa import (
    STOCK_CONFIG,
    file_capture_pcm,
    file_playback_pcm,
    write_config,
)


def pulse_pcm(name: str = "pulse") -> str:
    """The PulseAudio ALSA plugin (libasound2-plugins) under a name of our choice."""
    return f"pcm.{name} {{ type pulse }}\nctl.{name} {{ type pulse }}\n"


class AlsaConfig:
    """Writes an ALSA config file and points ALSA_CONFIG_PATH at stock + it."""

    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.dir = directory
        self.path = directory / "asound-test.conf"
        self._mp = monkeypatch
        self._blocks: list[str] = []

    def add(self, block: str) -> AlsaConfig:
        self._blocks.append(block)
        self._mp.setenv("ALSA_CONFIG_PATH", write_config(self.path, self._blocks))
        return self

    def capture(self, name: str, data: bytes) -> Path:
        """Define capture PCM ``name`` reading ``data``; returns the infile path."""
        infile = self.dir / f"{name}.in.raw"
        infile.write_bytes(data)
        self.add(file_capture_pcm(name, infile))
        return infile

    def playback(self, name: str, fmt: str = "raw") -> Path:
        """Define playback PCM ``name``; returns the file it writes."""
        out = self.dir / f"{name}.out.{fmt}"
        self.add(file_playback_pcm(name, out, fmt))
        return out

    @property
    def env(self) -> dict[str, str]:
        return {"ALSA_CONFIG_PATH": f"{STOCK_CONFIG}:{self.path}"}


@pytest.fixture
def alsa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AlsaConfig]:
    cfg = AlsaConfig(tmp_path, monkeypatch)
    cfg.add("# test PCMs\n")
    yield cfg
