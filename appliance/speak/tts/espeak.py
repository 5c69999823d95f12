"""espeak-ng as a subprocess: robotic but instant and always there - the fallback engine."""

from __future__ import annotations

import io
import logging
import subprocess
import threading

import numpy as np
import soundfile as sf

from appliance.config import StyleSettings
from appliance.speak.tts.base import TtsError
from appliance.speak.tts.phonemes import espeak_binary

log = logging.getLogger(__name__)

SAMPLE_RATE = 22050  # what espeak-ng writes with --stdout
BASE_WPM = 140  # words per minute at speed 1.0; slow enough for Whisper to follow


class EspeakEngine:
    name = "espeak"
    sample_rate = SAMPLE_RATE

    def __init__(self, voice: str = "es") -> None:
        self.voice = voice or "es"
        self._binary = espeak_binary()
        self._noted = threading.Event()
        probe = subprocess.run(
            [self._binary, "-q", "-v", self.voice, "--ipa", "a"],
            capture_output=True, text=True, timeout=10,
        )
        if probe.returncode != 0 or "not found" in probe.stderr.lower():
            raise TtsError(f"espeak-ng has no voice {self.voice!r}: {probe.stderr.strip()}")

    def synthesize(self, text: str, style: StyleSettings) -> np.ndarray:
        if not self._noted.is_set():
            self._noted.set()
            log.info("espeak: only speed applies (as words per minute); noise_scale, "
                     "noise_scale_w and sdp_ratio are ignored")
        if not text.strip():
            return np.zeros(0, np.float32)
        wpm = max(80, min(450, round(BASE_WPM * style.speed)))
        try:
            proc = subprocess.run(
                [self._binary, "--stdout", "--stdin", "-v", self.voice, "-s", str(wpm)],
                input=text.encode("utf-8"), capture_output=True, timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TtsError(f"espeak-ng failed: {exc}") from exc
        if proc.returncode != 0 or not proc.stdout:
            err = proc.stderr.decode(errors="replace").strip()
            raise TtsError(f"espeak-ng failed (exit {proc.returncode}): {err}")
        try:
            audio, rate = sf.read(io.BytesIO(proc.stdout), dtype="float32")
        except (RuntimeError, sf.LibsndfileError) as exc:
            raise TtsError(f"espeak-ng wrote unreadable audio: {exc}") from exc
        if rate != SAMPLE_RATE:
            raise TtsError(f"espeak-ng wrote {rate} Hz, expected {SAMPLE_RATE}")
        return audio if audio.ndim == 1 else audio.mean(axis=1, dtype=np.float32)
