"""``appliance transcribe`` on real files of several formats, rates and channel counts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import soxr

from appliance.audio.files import AudioFileError, read_audio
from appliance.listen.wer import wer
from tests.support.speech import recorded

# (sentence index, file name, rate, channels, soundfile format/subtype or "ffmpeg")
CASES = [
    (0, "a.wav", 44100, 2, ("WAV", "PCM_16")),
    (1, "b.flac", 8000, 1, ("FLAC", "PCM_16")),
    (8, "c.mp3", 22050, 2, "ffmpeg"),
    (9, "d.ogg", 48000, 1, ("OGG", "VORBIS")),
]


def write_clip(path, audio16k, rate, channels, fmt):
    x = soxr.resample(audio16k, 16000, rate).astype(np.float32)
    x = np.concatenate([np.zeros(rate // 4, np.float32), x, np.zeros(rate // 4, np.float32)])
    data = np.stack([x] * channels, axis=1) if channels > 1 else x
    if fmt == "ffmpeg":  # MP3 written by ffmpeg, the common way such files are made
        wav = path.with_suffix(".src.wav")
        sf.write(wav, data, rate, subtype="PCM_16")
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-b:a",
                        "64k", str(path)], check=True)
        wav.unlink()
    else:
        sf.write(path, data, rate, format=fmt[0], subtype=fmt[1])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio")
    clips = recorded()
    out = []
    for idx, name, rate, channels, fmt in CASES:
        text, audio = clips[idx]
        write_clip(d / name, audio, rate, channels, fmt)
        out.append((d / name, text, len(audio) / 16000 + 0.5))
    (d / "empty.mp3").write_bytes(b"")
    (d / "garbage.wav").write_bytes(np.random.default_rng(3).bytes(5000))
    return d, out


def test_read_audio_converts_to_16k_mono(files):
    _, good = files
    for path, _text, seconds in good:
        x = read_audio(path)
        assert x.dtype == np.float32 and x.ndim == 1
        assert len(x) / 16000 == pytest.approx(seconds, abs=0.12), path.name  # mp3 pads a bit
        assert 0.2 < np.abs(x).max() <= 1.0


def test_read_audio_errors_name_the_file(files):
    d, _ = files
    for name, why in [("empty.mp3", "empty file"), ("garbage.wav", "not a readable audio"),
                      ("missing.flac", "no such file")]:
        with pytest.raises(AudioFileError, match=why) as err:
            read_audio(d / name)
        assert name in str(err.value)


def test_cli_transcribes_a_batch_and_reports_bad_files(files):
    d, good = files
    names = [str(p) for p, _, _ in good]
    argv = [names[0], str(d / "empty.mp3"), names[1], str(d / "garbage.wav"), *names[2:]]
    proc = subprocess.run([sys.executable, "-m", "appliance", "transcribe", *argv],
                          capture_output=True, text=True, timeout=600, check=False)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == len(argv)  # line N belongs to file N
    assert lines[1] == "" and lines[3] == ""
    assert "empty.mp3: empty file" in proc.stderr
    assert "garbage.wav: not a readable audio file" in proc.stderr
    assert "2 of 6 files failed" in proc.stderr
    hyps = [lines[0], lines[2], *lines[4:]]
    refs = [text for _, text, _ in good]
    print(*zip(refs, hyps, strict=True), sep="\n")
    assert wer(refs, hyps) <= 0.2


def test_formats_libsndfile_cannot_read_go_through_ffmpeg(files, tmp_path):
    import soundfile

    path, _text, seconds = files[1][0]  # a.wav
    m4a = tmp_path / "a.m4a"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), str(m4a)], check=True)
    with pytest.raises(soundfile.LibsndfileError):
        soundfile.info(m4a)
    x = read_audio(m4a)
    assert len(x) / 16000 == pytest.approx(seconds, abs=0.12)
