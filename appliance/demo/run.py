"""Sets the stage for the demo conversation and writes its recording and report.

The appliance runs with its real settings except the ALSA devices (FIFO-backed, see
fifo_devices.py) and a fresh state directory (no timers or router log from earlier runs); the
cache directory is the configured one, so models and pre-rendered fillers are reused.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from appliance import config
from appliance.audio.alsa import STOCK_CONFIG
from appliance.config import Settings
from appliance.demo.fifo_devices import Ear, Mouth, alsa_config

MIC, SPEAKER = "appliance_demo_mic", "appliance_demo_speaker"
RATE = 16000


def run_conversation(settings: Settings, out_dir: Path, *, scenarios: Any = None,
                     timeout_s: float = 600.0, out: TextIO = sys.stdout) -> int:
    from appliance.app import Appliance
    from appliance.demo.conversation import SCENARIOS, Conversation

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="appliance-demo-") as tmp:
        conf, mic_fifo, spk_fifo = alsa_config(Path(tmp), MIC, SPEAKER)
        os.environ["ALSA_CONFIG_PATH"] = f"{STOCK_CONFIG}:{conf}"
        settings = config.replace(
            settings,
            audio={"capture_device": MIC, "playback_device": SPEAKER, "sample_rate": RATE},
            device={"state_dir": str(Path(tmp) / "state")},
        )
        mouth = Mouth(mic_fifo, RATE, settings.audio.period_ms)
        ear = Ear(spk_fifo, settings.audio.playback_rate)
        t0 = time.monotonic()
        say(f"demo: loading models (STT {settings.stt.engine}, TTS {settings.tts.engine}, "
            f"LLM {settings.brain.llm_model}) ...")
        # Fillers only: rendering every static answer on a first run would take the CPU the
        # conversation needs (the service does it in the background, cached on disk).
        app = Appliance(settings, prerender="fillers")
        mouth.start()
        ear.start()
        app.start()
        try:
            if not app.supervisor.wait_ready(timeout_s) or not app.fillers_ready.wait(timeout_s):
                say("demo: the pipeline did not start in time")
                return 1
            say(f"demo: pipeline ready in {time.monotonic() - t0:.1f} s "
                f"(capture {MIC!r} and playback {SPEAKER!r} are FIFO-backed ALSA PCMs)")
            conversation = Conversation(app, mouth, ear, out=say)
            turns = conversation.run(scenarios or SCENARIOS)
            time.sleep(0.5)
        finally:
            stats = {w.name: w.stats() for w in app.workers}
            app.stop(2.0)
            mouth.stop()
            ear.stop()
    wav = out_dir / "conversation.wav"
    write_recording(wav, mouth.said(), ear.heard(), settings.audio.playback_rate, t0)
    report = {
        "settings": {
            "stt": settings.stt.engine, "tts": settings.tts.engine,
            "llm": settings.brain.llm_model, "style": settings.tts.style,
        },
        "turns": turns,
        "workers": stats,
        "recording": str(wav),
    }
    (out_dir / "report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    failed = [t for t in turns if "error" in t]
    say(f"\ndemo: {len(turns) - len(failed)}/{len(turns)} turns answered; recording {wav} "
        f"(left: person, right: appliance); figures {out_dir / 'report.json'}")
    return 1 if failed else 0


def write_recording(path: Path, said: list[tuple[float, np.ndarray]],
                    heard: list[tuple[float, np.ndarray]], speaker_rate: int, t0: float) -> None:
    """A stereo 16 kHz WAV on one timeline: the person left, the appliance right."""
    import soundfile as sf

    def place(track: np.ndarray, t: float, audio: np.ndarray) -> np.ndarray:
        start = max(0, int((t - t0) * RATE))
        end = start + len(audio)
        if end > len(track):
            track = np.concatenate([track, np.zeros(end - len(track), np.float32)])
        track[start:end] += audio
        return track

    left = np.zeros(0, np.float32)
    for t, audio in said:
        left = place(left, t, audio.astype(np.float32) / 32768)
    right = np.zeros(0, np.float32)
    if heard:
        chunks = np.concatenate([c for _, c in heard]).astype(np.float32) / 32768
        # The ear reads at exactly the playback rate, so its chunks are contiguous except
        # while the device was closed: place each run of back-to-back chunks at its time.
        pos = 0
        run_start, run = heard[0][0] - len(heard[0][1]) / speaker_rate, []
        for i, (t, c) in enumerate(heard):
            if i and t - heard[i - 1][0] > 0.25:
                right = place(right, run_start, _resample(np.concatenate(run), speaker_rate))
                run_start, run = t - len(c) / speaker_rate, []
            run.append(chunks[pos : pos + len(c)])
            pos += len(c)
        if run:
            right = place(right, run_start, _resample(np.concatenate(run), speaker_rate))
    n = max(len(left), len(right))
    stereo = np.zeros((n, 2), np.float32)
    stereo[: len(left), 0] = left
    stereo[: len(right), 1] = right
    sf.write(path, np.clip(stereo, -1, 1), RATE, subtype="PCM_16")


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    return x if rate == RATE else soxr.resample(x, rate, RATE).astype(np.float32)
