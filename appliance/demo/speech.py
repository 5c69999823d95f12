"""Spanish test speech with exactly known speech boundaries.

The demo, the tests and the benchmark need utterances whose true start and end are known to
the sample. Two sources:

- ``recorded()``: Kokoro-82M clips generated once (``python -m appliance.demo.speech``) and
  shipped in ``appliance/data/speech_es``. Whisper base understands them (espeak-ng's robotic
  voice gives it about 50% WER), and replaying them costs nothing - Kokoro on a busy 2-core
  machine runs far slower than real time.
- ``espeak()``: espeak-ng at a slow rate, synthesized on the spot: good enough for VAD.

Clips are trimmed to the voiced region so the truth is the signal itself.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.core.pcm import SPEECH_RATE, resample, to_int16

DATA = Path(__file__).resolve().parent.parent / "data" / "speech_es"

# Short kitchen-speaker sentences. The first three are the demo's.
SENTENCES: tuple[str, ...] = (
    "Hola, ¿qué hora es?",
    "Pon un temporizador de cinco minutos.",
    "¿Cuál es la capital de Francia?",
    "Sube el volumen, por favor.",
    "Mañana por la mañana va a llover.",
    "Necesito comprar leche y pan.",
    "¿Cuántos gramos tiene un kilo?",
    "La cena estará lista a las ocho.",
    "Apaga la luz de la cocina.",
    "Muchas gracias por tu ayuda.",
    "El agua hierve a cien grados.",
    "Quiero escuchar música tranquila.",
)
DEMO_SENTENCES = SENTENCES[:3]


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

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SynthesisError("espeak-ng is not installed (apt-get install espeak-ng)")
    proc = subprocess.run(
        [exe, "-v", voice, "-s", str(speed), "--stdout", text],
        capture_output=True, check=False, timeout=60,
    )
    if proc.returncode != 0 or not proc.stdout:
        raise SynthesisError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()}")
    data, rate = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    return trim(resample(mono, rate, SPEECH_RATE))


def trim(x: np.ndarray, rel_db: float = -40.0) -> np.ndarray:
    """Cut leading/trailing samples quieter than ``rel_db`` below the peak (10 ms windows)."""
    if not len(x):
        return x
    win = SPEECH_RATE // 100
    n = len(x) // win
    if n == 0:
        return x
    rms = np.sqrt(np.mean(x[: n * win].reshape(n, win) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(rms > rms.max() * 10 ** (rel_db / 20))[0]
    if not len(loud):
        return x[:0]
    return x[loud[0] * win : (loud[-1] + 1) * win].copy()


def recorded(texts: tuple[str, ...] | list[str] = SENTENCES) -> list[tuple[str, np.ndarray]]:
    """The shipped Kokoro clips for these sentences (float32, 16 kHz, trimmed)."""
    import soundfile as sf

    out = []
    for text in texts:
        if text not in SENTENCES:
            raise KeyError(f"no recorded clip for {text!r}")
        path = DATA / f"{SENTENCES.index(text):02d}.flac"
        if not path.exists():
            raise SynthesisError(f"{path} is missing: run python -m appliance.demo.speech")
        audio, _ = sf.read(path, dtype="float32")
        out.append((text, audio))
    return out


def compose(
    clips: Sequence[tuple[str, np.ndarray] | str],
    *,
    lead_s: float = 1.0,
    gap_s: float = 1.5,
    tail_s: float = 1.5,
    voice: str = "es",
    speed: int = 130,
    level: float = 0.5,
) -> tuple[np.ndarray, list[Utterance]]:
    """Utterances separated by digital silence; returns the signal and where each one is.

    ``clips`` are (text, audio) pairs, or plain texts to synthesize with espeak-ng."""
    parts: list[np.ndarray] = [np.zeros(int(lead_s * SPEECH_RATE), np.float32)]
    truth: list[Utterance] = []
    pos = len(parts[0])
    for i, clip in enumerate(clips):
        text: str
        speech: np.ndarray
        if isinstance(clip, str):
            text, speech = clip, espeak(clip, voice=voice, speed=speed)
        else:
            text, speech = clip
        peak = float(np.abs(speech).max()) or 1.0
        speech = (speech * (level / peak)).astype(np.float32)
        truth.append(Utterance(text, pos / SPEECH_RATE, (pos + len(speech)) / SPEECH_RATE))
        parts.append(speech)
        pos += len(speech)
        pad = tail_s if i == len(clips) - 1 else gap_s
        parts.append(np.zeros(int(pad * SPEECH_RATE), np.float32))
        pos += len(parts[-1])
    return np.concatenate(parts), truth


def generate(out_dir: Path = DATA) -> None:
    """Re-create the shipped clips with Kokoro (slow; run by hand, then commit)."""
    import soundfile as sf

    from appliance import config
    from appliance.speak.tts.kokoro import KokoroEngine
    from appliance.system.modelstore import ModelStore

    settings = config.load(None)
    engine = KokoroEngine(ModelStore(settings.cache_path).resolve(settings.tts.kokoro_model))
    style = settings.tts.styles["calm"]
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(SENTENCES):
        audio = resample(engine.synthesize(text, style), engine.sample_rate, SPEECH_RATE)
        audio = trim(np.asarray(audio, np.float32))
        audio *= 0.5 / (float(np.abs(audio).max()) or 1.0)
        sf.write(out_dir / f"{i:02d}.flac", to_int16(audio), SPEECH_RATE, subtype="PCM_16")
        print(f"{i:02d}.flac {len(audio) / SPEECH_RATE:.2f}s {text}")


if __name__ == "__main__":
    argparse.ArgumentParser(description=generate.__doc__).parse_args()
    generate()
