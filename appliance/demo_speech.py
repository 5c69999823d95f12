"""Spanish test speech synthesized on the spot, with exactly known speech boundaries.

The demo, the tests and the benchmark need utterances whose true start and end are known to
the sample; espeak-ng is always installed, so it is the generator. Its output is trimmed to
the voiced region so the truth is the signal itself, not a guess about espeak's padding.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

import numpy as np

RATE = 16000

DEMO_SENTENCES: tuple[str, ...] = (
    "Hola, ¿qué hora es?",
    "Pon un temporizador de cinco minutos.",
    "¿Cuál es la capital de Francia?",
)


@dataclass(frozen=True)
class Utterance:
    text: str
    start: float  # seconds into the composed signal of the first voiced sample
    end: float  # seconds into the composed signal of the last voiced sample


class SynthesisError(RuntimeError):
    """espeak-ng is missing or failed."""


def espeak(text: str, *, voice: str = "es", speed: int = 130) -> np.ndarray:
    """float32 mono at 16 kHz, trimmed to the voiced region."""
    import soundfile as sf
    import soxr

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SynthesisError("espeak-ng is not installed (apt-get install espeak-ng)")
    proc = subprocess.run(
        [exe, "-v", voice, "-s", str(speed), "--stdout", text],
        capture_output=True, check=False, timeout=60,
    )
    if proc.returncode != 0 or not proc.stdout:
        raise SynthesisError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()}")
    import io

    data, rate = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if rate != RATE:
        mono = soxr.resample(mono, rate, RATE).astype(np.float32)
    return trim(mono)


def trim(x: np.ndarray, rel_db: float = -40.0) -> np.ndarray:
    """Cut leading/trailing samples quieter than ``rel_db`` below the peak (10 ms windows)."""
    if not len(x):
        return x
    win = RATE // 100
    n = len(x) // win
    if n == 0:
        return x
    rms = np.sqrt(np.mean(x[: n * win].reshape(n, win) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(rms > rms.max() * 10 ** (rel_db / 20))[0]
    if not len(loud):
        return x[:0]
    return x[loud[0] * win : (loud[-1] + 1) * win].copy()


def compose(
    texts: tuple[str, ...] | list[str],
    *,
    lead_s: float = 1.0,
    gap_s: float = 1.5,
    tail_s: float = 1.5,
    voice: str = "es",
    speed: int = 130,
    level: float = 0.5,
) -> tuple[np.ndarray, list[Utterance]]:
    """Utterances separated by digital silence; returns the signal and where each one is."""
    parts: list[np.ndarray] = [np.zeros(int(lead_s * RATE), np.float32)]
    truth: list[Utterance] = []
    pos = len(parts[0])
    for i, text in enumerate(texts):
        speech = espeak(text, voice=voice, speed=speed)
        peak = float(np.abs(speech).max()) or 1.0
        speech = (speech * (level / peak)).astype(np.float32)
        truth.append(Utterance(text, pos / RATE, (pos + len(speech)) / RATE))
        parts.append(speech)
        pos += len(speech)
        pad = tail_s if i == len(texts) - 1 else gap_s
        parts.append(np.zeros(int(pad * RATE), np.float32))
        pos += len(parts[-1])
    return np.concatenate(parts), truth


def to_int16(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, -1.0, 1.0) * 32767).astype(np.int16)
