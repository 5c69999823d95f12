"""Audio files of any common format, rate and channel count -> float32 mono 16 kHz.

libsndfile reads WAV, FLAC, OGG/Vorbis/Opus and (1.1+) MP3; ffmpeg is the fallback for
whatever it cannot. Every failure becomes an AudioFileError that names the file and the
reason, so a batch can report it and carry on.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from appliance.core.pcm import SPEECH_RATE, resample


class AudioFileError(Exception):
    """The file is missing, unreadable, not audio, or holds no samples."""


def read_audio(path: str | Path, rate: int = SPEECH_RATE) -> np.ndarray:
    """The file's audio as float32 mono at ``rate`` (channels averaged, soxr resampling)."""
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path}: empty file")
    try:
        audio, src_rate = _read_soundfile(path)
    except AudioFileError as first:
        if shutil.which("ffmpeg") is None:
            raise first from None
        audio, src_rate = _read_ffmpeg(path, rate, first)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if audio.size == 0:
        raise AudioFileError(f"{path}: contains no audio samples")
    return resample(audio, src_rate, rate)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        audio, src_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioFileError(f"{path}: not a readable audio file ({exc})") from exc
    return audio, int(src_rate)


def _read_ffmpeg(path: Path, rate: int, first: AudioFileError) -> tuple[np.ndarray, int]:
    """Decode through ffmpeg straight to mono ``rate`` float32."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1",
           "-ar", str(rate), "-f", "f32le", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AudioFileError(f"{path}: ffmpeg failed to run ({exc})") from exc
    if proc.returncode != 0:
        raise first from None  # ffmpeg could not read it either: libsndfile's reason is clearer
    return np.frombuffer(proc.stdout, dtype="<f4").copy(), rate
